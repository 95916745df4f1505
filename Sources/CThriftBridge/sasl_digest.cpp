#include "sasl_digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

namespace tbsasl {
namespace {

std::string md5(const std::string &data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out, &length, EVP_md5(), nullptr) != 1)
    throw std::runtime_error("MD5 is not available from OpenSSL");
  return std::string(reinterpret_cast<char *>(out), length);
}

std::string hex(const std::string &bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 15]);
  }
  return out;
}

// RFC 2831 2.1.2.1: with charset=utf-8, a name or password whose characters all fit ISO 8859-1 is hashed in
// ISO 8859-1 (as Java's DIGEST-MD5, which Storm uses, does); anything else stays UTF-8.
std::string latin1IfPossible(const std::string &utf8) {
  std::string out;
  for (size_t i = 0; i < utf8.size();) {
    const unsigned char lead = static_cast<unsigned char>(utf8[i]);
    if (lead < 0x80) {
      out.push_back(static_cast<char>(lead));
      i += 1;
    } else if ((lead == 0xC2 || lead == 0xC3) && i + 1 < utf8.size() &&
               (static_cast<unsigned char>(utf8[i + 1]) & 0xC0) == 0x80) {
      out.push_back(static_cast<char>(((lead & 0x1F) << 6) | (static_cast<unsigned char>(utf8[i + 1]) & 0x3F)));
      i += 2;
    } else {
      return utf8;
    }
  }
  return out;
}

} // namespace

// The response value of RFC 2831 2.1.2.1, and (with an empty method) the server's rspauth.
std::string digestResponse(const std::string &user, const std::string &realm, const std::string &password,
                           const std::string &nonce, const std::string &cnonce, const std::string &nc,
                           const std::string &authzid, const std::string &uri, const std::string &method) {
  std::string a1 = md5(latin1IfPossible(user) + ":" + latin1IfPossible(realm) + ":" + latin1IfPossible(password)) +
                   ":" + nonce + ":" + cnonce;
  if (!authzid.empty()) a1 += ":" + authzid;
  const std::string a2 = method + ":" + uri;
  return hex(md5(hex(md5(a1)) + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + hex(md5(a2))));
}

namespace {

std::string randomToken() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes from OpenSSL");
  return hex(std::string(reinterpret_cast<char *>(bytes), sizeof bytes));
}

bool sameSecret(const std::string &a, const std::string &b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string quoted(const std::string &value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

} // namespace

std::string frame(Status status, const std::string &payload) {
  std::string out(5, '\0');
  out[0] = static_cast<char>(status);
  const uint32_t length = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; i++) out[1 + i] = static_cast<char>((length >> (24 - 8 * i)) & 0xFF);
  return out + payload;
}

bool parseDirectives(const std::string &text, std::map<std::string, std::string> &out) {
  size_t i = 0;
  const auto skipSpace = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) i++;
  };
  while (true) {
    skipSpace();
    if (i == text.size()) return true;
    const size_t keyStart = i;
    while (i < text.size() && text[i] != '=' && text[i] != ',') i++;
    if (i == text.size() || text[i] != '=') return false;
    std::string key = text.substr(keyStart, i - keyStart);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    if (key.empty()) return false;
    i++;
    skipSpace();
    std::string value;
    if (i < text.size() && text[i] == '"') {
      i++;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '\\' && i < text.size()) {
          value.push_back(text[i++]);
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          value.push_back(c);
        }
      }
      if (!closed) return false;
    } else {
      while (i < text.size() && text[i] != ',') value.push_back(text[i++]);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    }
    // A directive given twice is ambiguous (RFC 2831 says such a message is invalid).
    if (!out.emplace(key, value).second) return false;
    skipSpace();
    if (i < text.size()) {
      if (text[i] != ',') return false;
      i++;
    }
  }
}

DigestServer::DigestServer(const std::map<std::string, std::string> *users, std::string service, std::string realm)
    : users_(users), service_(std::move(service)), realm_(std::move(realm)) {}

std::string DigestServer::challenge() {
  nonce_ = randomToken();
  return "realm=" + quoted(realm_) + ",nonce=" + quoted(nonce_) + ",qop=\"auth\",charset=utf-8,algorithm=md5-sess";
}

bool DigestServer::verify(const std::string &response, std::string &principal, std::string &actingFor,
                          std::string &reply) {
  std::map<std::string, std::string> d;
  if (nonce_.empty() || !parseDirectives(response, d)) {
    reply = "malformed DIGEST-MD5 response";
    return false;
  }
  const auto get = [&](const char *key) {
    auto found = d.find(key);
    return found == d.end() ? std::string() : found->second;
  };
  const std::string user = get("username");
  const std::string uri = get("digest-uri");
  const std::string qop = d.count("qop") ? get("qop") : "auth";
  const std::string authzid = get("authzid");
  if (user.empty() || get("nonce") != nonce_ || get("cnonce").empty() || get("nc") != "00000001" ||
      get("response").size() != 32) {
    reply = "malformed DIGEST-MD5 response";
    return false;
  }
  if (qop != "auth") {
    reply = "only quality of protection 'auth' is offered, not '" + qop + "'";
    return false;
  }
  // Storm's server accepts any host in the digest-uri, but the service must be its own.
  if (uri.compare(0, service_.size() + 1, service_ + "/") != 0) {
    reply = "digest-uri '" + uri + "' is not for service " + service_;
    return false;
  }
  if (d.count("realm") && get("realm") != realm_) {
    reply = "realm '" + get("realm") + "' was not offered";
    return false;
  }
  auto known = users_->find(user);
  // An unknown user is checked against a throwaway password, so the answer takes as long either way.
  const std::string password = known == users_->end() ? randomToken() : known->second;
  const std::string realm = d.count("realm") ? realm_ : "";
  const std::string expected =
      digestResponse(user, realm, password, nonce_, get("cnonce"), "00000001", authzid, uri, "AUTHENTICATE");
  nonce_.clear();
  if (known == users_->end() || !sameSecret(expected, get("response"))) {
    reply = "wrong user name or password";
    return false;
  }
  principal = user;
  actingFor = authzid == user ? "" : authzid;
  reply = "rspauth=" + digestResponse(user, realm, password, get("nonce"), get("cnonce"), "00000001", authzid, uri, "");
  return true;
}

DigestClient::DigestClient(std::string user, std::string password, std::string service, std::string host,
                           std::string actingFor)
    : user_(std::move(user)), password_(std::move(password)), service_(std::move(service)), host_(std::move(host)),
      actingFor_(std::move(actingFor)) {}

bool DigestClient::respond(const std::string &challenge, std::string &out) {
  std::map<std::string, std::string> d;
  if (!parseDirectives(challenge, d) || d["nonce"].empty()) {
    out = "malformed DIGEST-MD5 challenge";
    return false;
  }
  const std::string qop = d.count("qop") ? d["qop"] : "auth";
  bool offersAuth = false;
  for (size_t start = 0; start <= qop.size();) {
    size_t comma = qop.find(',', start);
    if (comma == std::string::npos) comma = qop.size();
    std::string option = qop.substr(start, comma - start);
    while (!option.empty() && option.front() == ' ') option.erase(option.begin());
    while (!option.empty() && option.back() == ' ') option.pop_back();
    offersAuth = offersAuth || option == "auth";
    start = comma + 1;
  }
  if (!offersAuth) {
    out = "the server offers no 'auth' protection (only '" + qop + "'), which is all this client speaks";
    return false;
  }
  const std::string realm = d["realm"];
  const std::string nonce = d["nonce"];
  const std::string cnonce = randomToken();
  const std::string uri = service_ + "/" + host_;
  out = "charset=utf-8,username=" + quoted(user_) + (d.count("realm") ? ",realm=" + quoted(realm) : "") +
        ",nonce=" + quoted(nonce) + ",nc=00000001,cnonce=" + quoted(cnonce) + ",digest-uri=" + quoted(uri) +
        ",maxbuf=65536,response=" +
        digestResponse(user_, realm, password_, nonce, cnonce, "00000001", actingFor_, uri, "AUTHENTICATE") +
        ",qop=auth" + (actingFor_.empty() ? "" : ",authzid=" + quoted(actingFor_));
  expectedRspauth_ = digestResponse(user_, realm, password_, nonce, cnonce, "00000001", actingFor_, uri, "");
  return true;
}

bool DigestClient::checkServer(const std::string &rspauth) const {
  std::map<std::string, std::string> d;
  return !expectedRspauth_.empty() && parseDirectives(rspauth, d) && sameSecret(d["rspauth"], expectedRspauth_);
}

} // namespace tbsasl
