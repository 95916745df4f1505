#include "ctls.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "tls_context.h"

namespace {

void copyError(const std::string &text, char *error, size_t size) {
  if (!error || size == 0) return;
  std::strncpy(error, text.c_str(), size - 1);
  error[size - 1] = '\0';
}

std::string openSSLError(SSL *ssl, int rc) {
  const int kind = SSL_get_error(ssl, rc);
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code != 0) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
  }
  if (kind == SSL_ERROR_SYSCALL) return errno != 0 ? std::strerror(errno) : "the connection closed";
  if (kind == SSL_ERROR_ZERO_RETURN) return "the connection closed";
  return "TLS error " + std::to_string(kind);
}

void setTimeouts(int fd, int timeoutMs) {
  timeval tv{timeoutMs / 1000, (timeoutMs % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

} // namespace

struct ctls_context {
  SSL_CTX *ctx;
  bool server;
};

struct ctls_session {
  SSL *ssl;
};

extern "C" {

ctls_context *ctls_context_new(int server, const char *keystore, const char *keystore_password,
                               const char *truststore, const char *truststore_password, char *error,
                               size_t error_size) {
  SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (!ctx) {
    copyError("OpenSSL cannot make a TLS context", error, error_size);
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  tbtls::quietBrokenPipes();
  std::string reason;
  bool usable = false;
  if (!keystore || !*keystore) {
    reason = "no keystore (this end's certificate and key)";
  } else if (!truststore || !*truststore) {
    reason = "no truststore (what the peer's certificate must chain to)";
  } else {
    usable = tbtls::useKeystore(ctx, keystore, keystore_password ? keystore_password : "", reason) &&
             tbtls::useTruststore(ctx, truststore, truststore_password ? truststore_password : "", reason);
  }
  if (!usable) {
    copyError(reason, error, error_size);
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // Both ends show a certificate that chains to the truststore: a cluster's workers share one CA.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return new ctls_context{ctx, server != 0};
}

void ctls_context_free(ctls_context *context) {
  if (!context) return;
  SSL_CTX_free(context->ctx);
  delete context;
}

ctls_session *ctls_session_new(ctls_context *context, int fd, int timeout_ms, char *error, size_t error_size) {
  SSL *ssl = SSL_new(context->ctx);
  if (!ssl || SSL_set_fd(ssl, fd) != 1) {
    copyError("OpenSSL cannot make a TLS session", error, error_size);
    SSL_free(ssl);
    return nullptr;
  }
  // The handshake is bounded; the connection's reads and writes after it block as the plain socket's do.
  setTimeouts(fd, timeout_ms);
  errno = 0;
  const int rc = context->server ? SSL_accept(ssl) : SSL_connect(ssl);
  if (rc != 1) {
    std::string reason = openSSLError(ssl, rc);
    if (errno == EAGAIN || errno == EWOULDBLOCK) reason = "the TLS handshake timed out";
    copyError(reason, error, error_size);
    SSL_free(ssl);
    setTimeouts(fd, 0);
    return nullptr;
  }
  setTimeouts(fd, 0);
  return new ctls_session{ssl};
}

long ctls_read(ctls_session *session, void *buffer, size_t count, char *error, size_t error_size) {
  for (;;) {
    size_t got = 0;
    errno = 0;
    const int rc = SSL_read_ex(session->ssl, buffer, count, &got);
    if (rc == 1) return static_cast<long>(got);
    const int kind = SSL_get_error(session->ssl, rc);
    if (kind == SSL_ERROR_ZERO_RETURN) return 0;
    if (kind == SSL_ERROR_SYSCALL && errno == 0 && ERR_peek_error() == 0) return 0;  // closed without close_notify
    if (kind == SSL_ERROR_SYSCALL && errno == EINTR) continue;
    copyError(openSSLError(session->ssl, rc), error, error_size);
    return -1;
  }
}

int ctls_pending(ctls_session *session) { return SSL_pending(session->ssl); }

int ctls_write(ctls_session *session, const void *buffer, size_t count, char *error, size_t error_size) {
  size_t offset = 0;
  while (offset < count) {
    size_t written = 0;
    errno = 0;
    const int rc = SSL_write_ex(session->ssl, static_cast<const char *>(buffer) + offset, count - offset, &written);
    if (rc == 1) {
      offset += written;
      continue;
    }
    if (SSL_get_error(session->ssl, rc) == SSL_ERROR_SYSCALL && errno == EINTR) continue;
    copyError(openSSLError(session->ssl, rc), error, error_size);
    return -1;
  }
  return 0;
}

void ctls_session_free(ctls_session *session) {
  if (!session) return;
  SSL_free(session->ssl);
  delete session;
}

} // extern "C"
