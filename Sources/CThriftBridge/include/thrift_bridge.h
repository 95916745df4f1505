// A C interface over Apache Thrift's C++ library (libthrift): binary protocol, framed transport, memory buffers,
// a blocking client and a non-blocking server. Every function catches every C++ exception and reports it as a
// non-zero status with the reason in tb_last_error(), so nothing thrown by libthrift can unwind into Swift.
#ifndef STORM_THRIFT_BRIDGE_H
#define STORM_THRIFT_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_protocol tb_protocol;
typedef struct tb_memory tb_memory;
typedef struct tb_client tb_client;
typedef struct tb_server tb_server;

// The reason for the last failure on this thread; valid until the next failing call on the same thread.
const char *tb_last_error(void);

// Routes diagnostics to the caller: libthrift's own (a connection dropped, a frame too large) at TB_LOG_DEBUG,
// since the caller also sees each as an error; the server's (connections refused, accept failing) at
// TB_LOG_WARNING, since nobody else would.
enum { TB_LOG_DEBUG = 0, TB_LOG_WARNING = 1 };
typedef void (*tb_log_fn)(int level, const char *message);
void tb_set_log_handler(tb_log_fn fn);

// Reading. Strings and binaries point into a buffer owned by the protocol, valid until the next read.
int tb_read_message_begin(tb_protocol *p, const char **name, size_t *name_len, int8_t *type, int32_t *seqid);
int tb_read_message_end(tb_protocol *p);
int tb_read_struct_begin(tb_protocol *p);
int tb_read_struct_end(tb_protocol *p);
int tb_read_field_begin(tb_protocol *p, int8_t *type, int16_t *id);
int tb_read_field_end(tb_protocol *p);
int tb_read_map_begin(tb_protocol *p, int8_t *key_type, int8_t *value_type, uint32_t *size);
int tb_read_map_end(tb_protocol *p);
int tb_read_list_begin(tb_protocol *p, int8_t *elem_type, uint32_t *size);
int tb_read_list_end(tb_protocol *p);
int tb_read_set_begin(tb_protocol *p, int8_t *elem_type, uint32_t *size);
int tb_read_set_end(tb_protocol *p);
int tb_read_bool(tb_protocol *p, int8_t *value);
int tb_read_byte(tb_protocol *p, int8_t *value);
int tb_read_i16(tb_protocol *p, int16_t *value);
int tb_read_i32(tb_protocol *p, int32_t *value);
int tb_read_i64(tb_protocol *p, int64_t *value);
int tb_read_double(tb_protocol *p, double *value);
int tb_read_string(tb_protocol *p, const char **data, size_t *len);
int tb_read_binary(tb_protocol *p, const char **data, size_t *len);
int tb_skip(tb_protocol *p, int8_t type);

// Writing.
int tb_write_message_begin(tb_protocol *p, const char *name, size_t name_len, int8_t type, int32_t seqid);
int tb_write_message_end(tb_protocol *p);
int tb_write_struct_begin(tb_protocol *p, const char *name);
int tb_write_struct_end(tb_protocol *p);
int tb_write_field_begin(tb_protocol *p, const char *name, int8_t type, int16_t id);
int tb_write_field_end(tb_protocol *p);
int tb_write_field_stop(tb_protocol *p);
int tb_write_map_begin(tb_protocol *p, int8_t key_type, int8_t value_type, uint32_t size);
int tb_write_map_end(tb_protocol *p);
int tb_write_list_begin(tb_protocol *p, int8_t elem_type, uint32_t size);
int tb_write_list_end(tb_protocol *p);
int tb_write_set_begin(tb_protocol *p, int8_t elem_type, uint32_t size);
int tb_write_set_end(tb_protocol *p);
int tb_write_bool(tb_protocol *p, int8_t value);
int tb_write_byte(tb_protocol *p, int8_t value);
int tb_write_i16(tb_protocol *p, int16_t value);
int tb_write_i32(tb_protocol *p, int32_t value);
int tb_write_i64(tb_protocol *p, int64_t value);
int tb_write_double(tb_protocol *p, double value);
int tb_write_string(tb_protocol *p, const char *data, size_t len);
int tb_write_binary(tb_protocol *p, const char *data, size_t len);
// Sends what was written (for a framed transport: one frame).
int tb_flush(tb_protocol *p);

// In-memory binary protocol, for serializing one struct to bytes and back.
tb_memory *tb_memory_new(void);
void tb_memory_free(tb_memory *m);
tb_protocol *tb_memory_protocol(tb_memory *m);
// Discards what the buffer holds and makes `data` the bytes to read next.
int tb_memory_reset_for_reading(tb_memory *m, const void *data, size_t len);
int tb_memory_reset_for_writing(tb_memory *m);
int tb_memory_bytes(tb_memory *m, const uint8_t **data, size_t *len);
// True when every byte handed to tb_memory_reset_for_reading has been read.
int tb_memory_fully_read(tb_memory *m);

// SASL DIGEST-MD5 credentials of a client (Storm's DigestSaslTransportPlugin): after connecting, the client runs
// Thrift's SASL negotiation as `user` for `service` at the host it connects to, then speaks framed transport.
// With `acting_for` (NULL: none), the client asks to act for that user (SASL's authorization id), as a UI acts for
// the user it serves; the server decides whether `user` may.
typedef struct {
  const char *user;
  const char *password;
  const char *service;
  const char *acting_for;
} tb_sasl_client;

// TLS as Storm's TlsTransportPlugin: this end's certificate and key (`keystore_path`, PKCS#12 or PEM, opened with
// `keystore_password`; NULL: none, for a client without a certificate) and the certificates the peer's must chain
// to (`truststore_path`, PEM or PKCS#12; NULL: the system's, for a client). A server with
// `require_peer_certificate` refuses clients without one; a client always checks the server's certificate and
// that it names the host it connects to.
typedef struct {
  const char *keystore_path;
  const char *keystore_password;
  const char *truststore_path;
  const char *truststore_password;
  int require_peer_certificate;
} tb_tls;

// Blocking client: TSocket + TFramedTransport + TBinaryProtocol. Timeouts in milliseconds (0 = none). With
// `sasl` (NULL: none), the client authenticates first; with `tls` (NULL: none), it speaks TLS.
tb_client *tb_client_open(const char *host, int port, int connect_timeout_ms, int io_timeout_ms, int max_frame_size,
                          const tb_sasl_client *sasl, const tb_tls *tls);
tb_protocol *tb_client_protocol(tb_client *c);
void tb_client_close(tb_client *c);

// Non-blocking server (libthrift's TNonblockingServer: one I/O thread reads whole frames, a pool of `threads`
// runs the calls), framed transport and binary protocol. A connection holds a pool thread only while a call of
// its own runs, so idle or slow clients cannot starve the others. The handler is called once per message with
// the connection's id (unique for the server's life), its socket's descriptor (-1 when unknown; valid until the
// handler returns) and its input and output protocols; it returns 0 to keep the connection and non-zero to close
// it.
// `principal` is the user the connection authenticated as (NULL when the server does not authenticate).
typedef int (*tb_handler_fn)(void *context, uint64_t connection, int fd, const char *principal, tb_protocol *in,
                             tb_protocol *out);
// Whether the authenticated `user`, connecting from `peer_address`, may act for `acting_for`: non-zero allows.
// Called on the server's authentication thread, so it must not block for long.
typedef int (*tb_may_act_fn)(void *context, const char *user, const char *acting_for, const char *peer_address);
// A server that authenticates every connection with SASL DIGEST-MD5 before reading a frame from it: the users
// and passwords it knows, its SASL service name and realm, and how long a client may take to authenticate.
// A client that asks to act for another user is refused unless `may_act` (NULL: nobody may) allows it; the
// principal its calls see is then the user it acts for.
typedef struct {
  const char *const *users;
  const char *const *passwords;
  int user_count;
  const char *service;
  const char *realm;
  int handshake_timeout_ms;
  tb_may_act_fn may_act;
  void *may_act_context;
} tb_sasl_server;
// Binds and listens (port 0 picks a free port); NULL on failure with the reason in tb_last_error().
// A connection with no complete call for io_timeout_ms (0 = never) is closed. At most max_connections are open
// at once (0 = no limit of its own); a connection over the limit is closed as it is accepted.
// With `sasl` (NULL: none), a connection is handed to the server only once it has authenticated; one that does
// not is told why (a SASL BAD message), closed and logged. With `tls` (NULL: none; not with `sasl`), connections
// speak TLS, and a call's principal is the subject of the client's certificate (RFC 2253), if it showed one.
tb_server *tb_server_start(const char *host, int port, int threads, int max_frame_size, int io_timeout_ms,
                           int max_connections, const tb_sasl_server *sasl, const tb_tls *tls, tb_handler_fn handler,
                           void *context);
// Connections open now.
int tb_server_connections(tb_server *s);
int tb_server_port(tb_server *s);
// Stops accepting, closes connections, waits for the serving thread and frees the server.
void tb_server_stop(tb_server *s);

// The DIGEST-MD5 response value (RFC 2831 2.1.2.1) for these inputs, or with `for_server` the rspauth value:
// 32 hex digits and a NUL into `out`. For tests against the RFC's worked example.
void tb_digest_md5_response(const char *user, const char *realm, const char *password, const char *nonce,
                            const char *cnonce, const char *digest_uri, int for_server, char out[33]);

#ifdef __cplusplus
}
#endif

#endif
