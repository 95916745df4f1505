// The OpenSSL settings of a Thrift port with TLS, as Storm's TlsTransportPlugin: a keystore (the certificate chain
// and private key, PKCS#12 or PEM), a truststore (PEM or PKCS#12 certificates) and whether the peer must show a
// certificate that chains to it.
#ifndef THRIFT_BRIDGE_TLS_CONTEXT_H
#define THRIFT_BRIDGE_TLS_CONTEXT_H

#include <memory>
#include <string>

#include <openssl/ssl.h>
#include <thrift/transport/TSSLSocket.h>

namespace tbtls {

// libthrift's factory, kept for its OpenSSL set-up and its context, which is configured here with OpenSSL
// directly (libthrift reads neither PKCS#12 nor encrypted keys from memory).
class Factory : public apache::thrift::transport::TSSLSocketFactory {
public:
  Factory() : TSSLSocketFactory(apache::thrift::transport::SSLProtocol::TLSv1_2) {}
  std::shared_ptr<apache::thrift::transport::SSLContext> context() { return ctx_; }
  SSL_CTX *raw() { return ctx_->get(); }
};

// Loads the certificate chain and private key of `path` (PKCS#12 opened with `password`, or PEM whose key may be
// encrypted with it) into `ctx`. False with the reason in `error` (a Java KeyStore is named as such).
bool useKeystore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error);
// Trusts the certificates of `path` (PEM, or PKCS#12 opened with `password`). False with the reason in `error`.
bool useTruststore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error);
// The subject of the peer's certificate as RFC 2253 writes it (Java's X500Principal.getName()), or "" without one.
std::string peerSubject(SSL *ssl);

} // namespace tbtls

#endif
