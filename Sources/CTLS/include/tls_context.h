// Keystores and truststores for OpenSSL, as Storm names them: a keystore holds a certificate chain and its private
// key (PKCS#12 or PEM), a truststore the certificates a peer's must chain to (PEM or PKCS#12). Used by the Thrift
// bridge (nimbus over TLS) and by worker links (ctls.h).
#ifndef CTLS_TLS_CONTEXT_H
#define CTLS_TLS_CONTEXT_H

// C++ only: Swift sees ctls.h.
#ifdef __cplusplus
#include <string>

#include <openssl/ssl.h>

namespace tbtls {

// Loads the certificate chain and private key of `path` (PKCS#12 opened with `password`, or PEM whose key may be
// encrypted with it) into `ctx`. False with the reason in `error` (a Java KeyStore is named as such).
bool useKeystore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error);
// Trusts the certificates of `path` (PEM, or PKCS#12 opened with `password`). False with the reason in `error`.
bool useTruststore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error);
// OpenSSL writes with write(), not send(MSG_NOSIGNAL): a peer gone mid-write would raise SIGPIPE, whose default
// ends the process. Ignores it (unless the program handles it), so the write fails and only that connection ends.
void quietBrokenPipes();
// The subject of the peer's certificate as RFC 2253 writes it (Java's X500Principal.getName()), or "" without one.
std::string peerSubject(SSL *ssl);

} // namespace tbtls

#endif
#endif
