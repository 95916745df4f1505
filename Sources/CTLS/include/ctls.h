// TLS over a blocking socket, for worker links: a context made from a keystore and a truststore, and sessions
// that run their handshake on a connected descriptor and then read and write through OpenSSL. A context is safe to
// share between threads; a session belongs to the one thread that uses its connection.
#ifndef CTLS_H
#define CTLS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ctls_context ctls_context;
typedef struct ctls_session ctls_session;

// A context for servers (`server` non-zero) or clients: this end's certificate and key from `keystore` (PKCS#12
// or PEM, opened with `keystore_password`), the certificates the peer's must chain to from `truststore`. The peer
// must always show a certificate. NULL with the reason in `error`.
ctls_context *ctls_context_new(int server, const char *keystore, const char *keystore_password,
                               const char *truststore, const char *truststore_password, char *error,
                               size_t error_size);
void ctls_context_free(ctls_context *context);

// Runs the handshake on the connected, blocking descriptor `fd` as `context`'s side, within `timeout_ms`. NULL with
// the reason in `error`. The session does not own `fd`.
ctls_session *ctls_session_new(ctls_context *context, int fd, int timeout_ms, char *error, size_t error_size);
// Bytes read (at least one), 0 at the end of the stream, -1 on a failure (its reason in `error`).
long ctls_read(ctls_session *session, void *buffer, size_t count, char *error, size_t error_size);
// Bytes already decrypted and waiting to be read (a poll on the descriptor does not see them).
int ctls_pending(ctls_session *session);
// Writes all of `count` bytes: 0, or -1 on a failure (its reason in `error`).
int ctls_write(ctls_session *session, const void *buffer, size_t count, char *error, size_t error_size);
void ctls_session_free(ctls_session *session);

#ifdef __cplusplus
}
#endif

#endif
