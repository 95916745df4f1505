// SASL DIGEST-MD5 (RFC 2831) with quality of protection "auth" only, as Storm's DigestSaslTransportPlugin uses
// it, and Thrift's SASL negotiation framing. libthrift's C++ library has no SASL, so both ends are here.
#ifndef THRIFT_BRIDGE_SASL_DIGEST_H
#define THRIFT_BRIDGE_SASL_DIGEST_H

#include <cstdint>
#include <map>
#include <string>

namespace tbsasl {

// Thrift SASL negotiation: each message is [status byte][4-byte big-endian length][payload].
enum Status : uint8_t { START = 1, OK = 2, BAD = 3, ERROR = 4, COMPLETE = 5 };
constexpr const char *MECHANISM = "DIGEST-MD5";
// A negotiation message is a few hundred bytes; anything longer is not DIGEST-MD5.
constexpr uint32_t MAX_MESSAGE = 8192;

std::string frame(Status status, const std::string &payload);

std::string digestResponse(const std::string &user, const std::string &realm, const std::string &password,
                           const std::string &nonce, const std::string &cnonce, const std::string &nc,
                           const std::string &authzid, const std::string &uri, const std::string &method);

// `key=value` and `key="quoted value"` pairs separated by commas; false when the text is malformed.
bool parseDirectives(const std::string &text, std::map<std::string, std::string> &out);

// The server's side of one negotiation.
class DigestServer {
public:
  DigestServer(const std::map<std::string, std::string> *users, std::string service, std::string realm);
  // The challenge to send after the client's (empty) initial response.
  std::string challenge();
  // Checks the client's response. On success returns true, sets `principal`, `actingFor` (the authorization id
  // when the client asks to act for another user, else empty) and `reply` (the rspauth to send with COMPLETE);
  // on failure returns false with the reason in `reply`.
  bool verify(const std::string &response, std::string &principal, std::string &actingFor, std::string &reply);

private:
  const std::map<std::string, std::string> *users_;
  std::string service_;
  std::string realm_;
  std::string nonce_;
};

// The client's side: the response to a challenge, then the check of the server's rspauth.
class DigestClient {
public:
  DigestClient(std::string user, std::string password, std::string service, std::string host,
               std::string actingFor = "");
  // False with the reason in `out` when the challenge is malformed or offers no "auth" protection.
  bool respond(const std::string &challenge, std::string &out);
  bool checkServer(const std::string &rspauth) const;

private:
  std::string user_, password_, service_, host_, actingFor_;
  std::string expectedRspauth_;
};

} // namespace tbsasl

#endif
