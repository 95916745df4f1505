// The only place where libthrift's C++ API is called. See include/thrift_bridge.h for the contract.
#include "thrift_bridge.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thrift/TConfiguration.h>
#include <thrift/TOutput.h>
#include <thrift/TProcessor.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TProtocolTypes.h>
#include <thrift/server/TNonblockingServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TNonblockingServerSocket.h>
#include <thrift/transport/TSocket.h>

using apache::thrift::TConfiguration;
using apache::thrift::TProcessor;
using apache::thrift::concurrency::ThreadFactory;
using apache::thrift::concurrency::ThreadManager;
using apache::thrift::protocol::TBinaryProtocol;
using apache::thrift::protocol::TBinaryProtocolFactory;
using apache::thrift::protocol::TMessageType;
using apache::thrift::protocol::TProtocol;
using apache::thrift::protocol::TType;
using apache::thrift::server::TServerEventHandler;
using apache::thrift::server::TNonblockingServer;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TNonblockingServerSocket;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TTransport;

struct tb_protocol {
  std::shared_ptr<TProtocol> proto;
  std::string scratch;
};

namespace {

thread_local std::string last_error;

void set_error(const char *what) { last_error = what ? what : "unknown error"; }

template <typename F> int guarded(F &&body) {
  try {
    body();
    return 0;
  } catch (const std::exception &e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception");
  }
  return -1;
}

std::mutex log_mutex;
tb_log_fn log_handler = nullptr;

void forward(int level, const char *message) {
  tb_log_fn fn;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    fn = log_handler;
  }
  if (fn) fn(level, message);
}

void forward_log(const char *message) { forward(TB_LOG_DEBUG, message); }

void warn(const std::string &message) { forward(TB_LOG_WARNING, message.c_str()); }

std::shared_ptr<TConfiguration> frame_limited_config(int max_frame_size) {
  // The message limit guards the socket below the frame; the frame limit is the one clients can hit.
  const int message = TConfiguration::DEFAULT_MAX_MESSAGE_SIZE;
  const int frame = max_frame_size > 0 ? max_frame_size : TConfiguration::DEFAULT_MAX_FRAME_SIZE;
  return std::make_shared<TConfiguration>(message, frame);
}

using Clock = std::chrono::steady_clock;

// The open connections of one server: when each last finished a call, so that the silent ones can be closed.
// A connection's descriptor is used only while its entry exists, and the entry goes (under the lock) before the
// descriptor is closed, so a descriptor number reused by another file is never touched.
class ConnectionRegistry {
public:
  void opened(const TSocket *socket, int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[socket] = Entry{fd, Clock::now(), 0};
  }
  void closing(const TSocket *socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.erase(socket);
  }
  void callStarted(const TSocket *socket) { update(socket, +1); }
  void callEnded(const TSocket *socket) { update(socket, -1); }
  // Ends the connection's reading side: a reply already written still goes out, then the server sees the end.
  void stopReading(const TSocket *socket) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(socket);
    if (found != entries_.end()) ::shutdown(found->second.fd, SHUT_RD);
  }
  // Shuts down every connection with no call running and none finished for `limit`; the server's I/O thread
  // then sees the end of the stream and closes it, as it would for a client that left.
  int closeSilent(std::chrono::milliseconds limit) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    int closed = 0;
    for (auto &[socket, entry] : entries_) {
      if (entry.callsRunning > 0 || entry.shutDown || now - entry.lastActive < limit) continue;
      ::shutdown(entry.fd, SHUT_RDWR);
      entry.shutDown = true;
      closed += 1;
    }
    return closed;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
  }

private:
  struct Entry {
    int fd;
    Clock::time_point lastActive;
    int callsRunning;
    bool shutDown = false;
  };
  void update(const TSocket *socket, int delta) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = entries_.find(socket);
    if (found == entries_.end()) return;
    found->second.callsRunning += delta;
    found->second.lastActive = Clock::now();
  }
  std::mutex mutex_;
  std::unordered_map<const TSocket *, Entry> entries_;
};

class TrackedSocket : public TSocket {
public:
  TrackedSocket(THRIFT_SOCKET fd, std::shared_ptr<ConnectionRegistry> registry)
      : TSocket(fd), registry_(std::move(registry)) {
    registry_->opened(this, fd);
  }
  ~TrackedSocket() override { registry_->closing(this); }
  void close() override {
    registry_->closing(this);
    TSocket::close();
  }

private:
  std::shared_ptr<ConnectionRegistry> registry_;
};

// Logs a condition at most once a minute, with how often it happened in between.
class ThrottledWarning {
public:
  void note(const std::string &message) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = Clock::now();
    suppressed_ += 1;
    if (now - last_ < std::chrono::minutes(1) && logged_) return;
    warn(message + (suppressed_ > 1 ? " (" + std::to_string(suppressed_) + " times since the last such line)" : ""));
    last_ = now;
    logged_ = true;
    suppressed_ = 0;
  }

private:
  std::mutex mutex_;
  Clock::time_point last_{};
  bool logged_ = false;
  long suppressed_ = 0;
};

// The listening socket. Accepts with close-on-exec, and never throws: libthrift calls accept from libevent's C
// callback, where an exception would end the process. When no descriptor is left it accepts the waiting
// connection into a reserved one and ends it at once, so the listener neither dies nor spins on one connection.
//
// libthrift closes the listening descriptor twice (the server's I/O thread, then this socket), and the second
// close (with a shutdown) hit whatever reused the number in between: another connection of this process. So
// the server is given a duplicate of its own, and each descriptor is closed once.
class ServerSocket : public TNonblockingServerSocket {
public:
  ServerSocket(const std::string &host, int port, std::shared_ptr<ConnectionRegistry> registry, size_t limit)
      : TNonblockingServerSocket(host, port), registry_(std::move(registry)), limit_(limit) {
    reserve();
  }
  explicit ServerSocket(int port, std::shared_ptr<ConnectionRegistry> registry, size_t limit)
      : TNonblockingServerSocket(port), registry_(std::move(registry)), limit_(limit) {
    reserve();
  }
  ~ServerSocket() override {
    if (reserved_ >= 0) ::close(reserved_);
  }

  void listen() override {
    TNonblockingServerSocket::listen();
    served_ = ::fcntl(TNonblockingServerSocket::getSocketFD(), F_DUPFD_CLOEXEC, 0);
    if (served_ < 0) {
      const int error = errno;
      close();
      throw apache::thrift::transport::TTransportException(
          std::string("cannot duplicate the listening socket: ") + std::strerror(error));
    }
  }
  // The duplicate, which the server's I/O thread owns and closes.
  THRIFT_SOCKET getSocketFD() override { return served_; }

protected:
  std::shared_ptr<TSocket> acceptImpl() override {
    if (reserved_ < 0) reserve();
    int fd = ::accept4(served_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && reserved_ >= 0) {
      ::close(reserved_);
      reserved_ = -1;
      fd = ::accept4(served_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        outOfDescriptors_.note("no file descriptor left for a new Thrift connection (open: " +
                               std::to_string(registry_->count()) + "); refusing connections until some close");
        ::shutdown(fd, SHUT_RDWR);
      }
    }
    if (fd < 0) return endedSocket(errno);
    if (limit_ > 0 && registry_->count() >= limit_) {
      overLimit_.note("refusing a Thrift connection: " + std::to_string(limit_) +
                      " are open, the most allowed (nimbus.thrift.max.connections)");
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return createSocket(fd);
  }
  std::shared_ptr<TSocket> createSocket(THRIFT_SOCKET fd) override {
    return std::make_shared<TrackedSocket>(fd, registry_);
  }

private:
  void reserve() { reserved_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC); }
  // libthrift needs a socket back even when accept failed (a client gone before it was accepted): one whose
  // peer is already closed, so the server reads its end and drops it.
  std::shared_ptr<TSocket> endedSocket(int error) {
    if (error != EAGAIN && error != EWOULDBLOCK && error != EINTR && error != ECONNABORTED)
      acceptFailed_.note(std::string("accepting a Thrift connection failed: ") + std::strerror(error));
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
      throw apache::thrift::transport::TTransportException("accept() failed and no socket is left");
    ::close(pair[1]);
    return createSocket(pair[0]);
  }

  std::shared_ptr<ConnectionRegistry> registry_;
  size_t limit_;
  int served_ = -1;
  int reserved_ = -1;
  ThrottledWarning outOfDescriptors_;
  ThrottledWarning overLimit_;
  ThrottledWarning acceptFailed_;
};

// A connection's identity for the calls it makes, and its socket, known from its first call on.
struct Connection {
  uint64_t id;
  std::atomic<const TSocket *> socket{nullptr};
};

class ForwardingProcessor : public TProcessor {
public:
  ForwardingProcessor(tb_handler_fn handler, void *context, std::shared_ptr<ConnectionRegistry> registry)
      : handler_(handler), context_(context), registry_(std::move(registry)) {}
  bool process(std::shared_ptr<TProtocol> in, std::shared_ptr<TProtocol> out, void *connectionContext) override {
    auto *connection = static_cast<Connection *>(connectionContext);
    const TSocket *socket = connection ? connection->socket.load() : nullptr;
    tb_protocol input{in, {}};
    tb_protocol output{out, {}};
    registry_->callStarted(socket);
    // The descriptor lets a long call notice its caller has gone (libthrift reads nothing more from a connection
    // while one of its calls runs); the socket lives until the call returns.
    const int fd = socket ? static_cast<int>(const_cast<TSocket *>(socket)->getSocketFD()) : -1;
    const bool keep = handler_(context_, connection ? connection->id : 0, fd, &input, &output) == 0;
    registry_->callEnded(socket);
    if (!keep) registry_->stopReading(socket);
    return keep;
  }

private:
  tb_handler_fn handler_;
  void *context_;
  std::shared_ptr<ConnectionRegistry> registry_;
};

} // namespace

struct tb_server;

namespace {
// Tells the starting thread when the server listens, and gives each connection its identity.
class ServerEvents : public TServerEventHandler {
public:
  explicit ServerEvents(tb_server *server) : server_(server) {}
  void preServe() override;
  void *createContext(std::shared_ptr<TProtocol>, std::shared_ptr<TProtocol>) override {
    return new Connection{nextConnection_.fetch_add(1) + 1};
  }
  void deleteContext(void *context, std::shared_ptr<TProtocol>, std::shared_ptr<TProtocol>) override {
    delete static_cast<Connection *>(context);
  }
  void processContext(void *context, std::shared_ptr<TTransport> transport) override {
    static_cast<Connection *>(context)->socket.store(dynamic_cast<const TSocket *>(transport.get()));
  }

private:
  tb_server *server_;
  std::atomic<uint64_t> nextConnection_{0};
};
} // namespace

struct tb_memory {
  std::shared_ptr<TMemoryBuffer> buffer;
  tb_protocol protocol;
};

struct tb_client {
  std::shared_ptr<TTransport> transport;
  tb_protocol protocol;
};

struct tb_server {
  std::shared_ptr<ConnectionRegistry> registry = std::make_shared<ConnectionRegistry>();
  std::shared_ptr<ServerSocket> socket;
  std::shared_ptr<ThreadManager> threads;
  std::shared_ptr<TNonblockingServer> server;
  std::thread serving;
  std::thread reaping;
  std::mutex mutex;
  std::condition_variable changed;
  bool ready = false;
  bool finished = false;
  bool stopping = false;
  std::string failure;
};

void ServerEvents::preServe() {
  std::lock_guard<std::mutex> lock(server_->mutex);
  server_->ready = true;
  server_->changed.notify_all();
}

extern "C" {

const char *tb_last_error(void) { return last_error.c_str(); }

void tb_set_log_handler(tb_log_fn fn) {
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_handler = fn;
  }
  apache::thrift::GlobalOutput.setOutputFunction(forward_log);
}

// ----- reading -----

int tb_read_message_begin(tb_protocol *p, const char **name, size_t *name_len, int8_t *type, int32_t *seqid) {
  return guarded([&] {
    TMessageType t;
    p->proto->readMessageBegin(p->scratch, t, *seqid);
    *type = static_cast<int8_t>(t);
    *name = p->scratch.data();
    *name_len = p->scratch.size();
  });
}
int tb_read_message_end(tb_protocol *p) {
  return guarded([&] {
    p->proto->readMessageEnd();
    p->proto->getTransport()->readEnd();
  });
}
int tb_read_struct_begin(tb_protocol *p) {
  return guarded([&] { p->proto->readStructBegin(p->scratch); });
}
int tb_read_struct_end(tb_protocol *p) {
  return guarded([&] { p->proto->readStructEnd(); });
}
int tb_read_field_begin(tb_protocol *p, int8_t *type, int16_t *id) {
  return guarded([&] {
    TType t;
    p->proto->readFieldBegin(p->scratch, t, *id);
    *type = static_cast<int8_t>(t);
  });
}
int tb_read_field_end(tb_protocol *p) {
  return guarded([&] { p->proto->readFieldEnd(); });
}
int tb_read_map_begin(tb_protocol *p, int8_t *key_type, int8_t *value_type, uint32_t *size) {
  return guarded([&] {
    TType k, v;
    p->proto->readMapBegin(k, v, *size);
    *key_type = static_cast<int8_t>(k);
    *value_type = static_cast<int8_t>(v);
  });
}
int tb_read_map_end(tb_protocol *p) {
  return guarded([&] { p->proto->readMapEnd(); });
}
int tb_read_list_begin(tb_protocol *p, int8_t *elem_type, uint32_t *size) {
  return guarded([&] {
    TType e;
    p->proto->readListBegin(e, *size);
    *elem_type = static_cast<int8_t>(e);
  });
}
int tb_read_list_end(tb_protocol *p) {
  return guarded([&] { p->proto->readListEnd(); });
}
int tb_read_set_begin(tb_protocol *p, int8_t *elem_type, uint32_t *size) {
  return guarded([&] {
    TType e;
    p->proto->readSetBegin(e, *size);
    *elem_type = static_cast<int8_t>(e);
  });
}
int tb_read_set_end(tb_protocol *p) {
  return guarded([&] { p->proto->readSetEnd(); });
}
int tb_read_bool(tb_protocol *p, int8_t *value) {
  return guarded([&] {
    bool b;
    p->proto->readBool(b);
    *value = b ? 1 : 0;
  });
}
int tb_read_byte(tb_protocol *p, int8_t *value) {
  return guarded([&] { p->proto->readByte(*value); });
}
int tb_read_i16(tb_protocol *p, int16_t *value) {
  return guarded([&] { p->proto->readI16(*value); });
}
int tb_read_i32(tb_protocol *p, int32_t *value) {
  return guarded([&] { p->proto->readI32(*value); });
}
int tb_read_i64(tb_protocol *p, int64_t *value) {
  return guarded([&] { p->proto->readI64(*value); });
}
int tb_read_double(tb_protocol *p, double *value) {
  return guarded([&] { p->proto->readDouble(*value); });
}
int tb_read_string(tb_protocol *p, const char **data, size_t *len) {
  return guarded([&] {
    p->proto->readString(p->scratch);
    *data = p->scratch.data();
    *len = p->scratch.size();
  });
}
int tb_read_binary(tb_protocol *p, const char **data, size_t *len) {
  return guarded([&] {
    p->proto->readBinary(p->scratch);
    *data = p->scratch.data();
    *len = p->scratch.size();
  });
}
int tb_skip(tb_protocol *p, int8_t type) {
  return guarded([&] { p->proto->skip(static_cast<TType>(type)); });
}

// ----- writing -----

int tb_write_message_begin(tb_protocol *p, const char *name, size_t name_len, int8_t type, int32_t seqid) {
  return guarded([&] {
    p->proto->writeMessageBegin(std::string(name, name_len), static_cast<TMessageType>(type), seqid);
  });
}
int tb_write_message_end(tb_protocol *p) {
  return guarded([&] {
    p->proto->writeMessageEnd();
    p->proto->getTransport()->writeEnd();
  });
}
int tb_write_struct_begin(tb_protocol *p, const char *name) {
  return guarded([&] { p->proto->writeStructBegin(name); });
}
int tb_write_struct_end(tb_protocol *p) {
  return guarded([&] { p->proto->writeStructEnd(); });
}
int tb_write_field_begin(tb_protocol *p, const char *name, int8_t type, int16_t id) {
  return guarded([&] { p->proto->writeFieldBegin(name, static_cast<TType>(type), id); });
}
int tb_write_field_end(tb_protocol *p) {
  return guarded([&] { p->proto->writeFieldEnd(); });
}
int tb_write_field_stop(tb_protocol *p) {
  return guarded([&] { p->proto->writeFieldStop(); });
}
int tb_write_map_begin(tb_protocol *p, int8_t key_type, int8_t value_type, uint32_t size) {
  return guarded([&] { p->proto->writeMapBegin(static_cast<TType>(key_type), static_cast<TType>(value_type), size); });
}
int tb_write_map_end(tb_protocol *p) {
  return guarded([&] { p->proto->writeMapEnd(); });
}
int tb_write_list_begin(tb_protocol *p, int8_t elem_type, uint32_t size) {
  return guarded([&] { p->proto->writeListBegin(static_cast<TType>(elem_type), size); });
}
int tb_write_list_end(tb_protocol *p) {
  return guarded([&] { p->proto->writeListEnd(); });
}
int tb_write_set_begin(tb_protocol *p, int8_t elem_type, uint32_t size) {
  return guarded([&] { p->proto->writeSetBegin(static_cast<TType>(elem_type), size); });
}
int tb_write_set_end(tb_protocol *p) {
  return guarded([&] { p->proto->writeSetEnd(); });
}
int tb_write_bool(tb_protocol *p, int8_t value) {
  return guarded([&] { p->proto->writeBool(value != 0); });
}
int tb_write_byte(tb_protocol *p, int8_t value) {
  return guarded([&] { p->proto->writeByte(value); });
}
int tb_write_i16(tb_protocol *p, int16_t value) {
  return guarded([&] { p->proto->writeI16(value); });
}
int tb_write_i32(tb_protocol *p, int32_t value) {
  return guarded([&] { p->proto->writeI32(value); });
}
int tb_write_i64(tb_protocol *p, int64_t value) {
  return guarded([&] { p->proto->writeI64(value); });
}
int tb_write_double(tb_protocol *p, double value) {
  return guarded([&] { p->proto->writeDouble(value); });
}
int tb_write_string(tb_protocol *p, const char *data, size_t len) {
  return guarded([&] { p->proto->writeString(std::string(data, len)); });
}
int tb_write_binary(tb_protocol *p, const char *data, size_t len) {
  return guarded([&] { p->proto->writeBinary(std::string(data, len)); });
}
int tb_flush(tb_protocol *p) {
  return guarded([&] { p->proto->getTransport()->flush(); });
}

// ----- memory buffers -----

tb_memory *tb_memory_new(void) {
  try {
    auto *m = new tb_memory();
    m->buffer = std::make_shared<TMemoryBuffer>();
    m->protocol.proto = std::make_shared<TBinaryProtocol>(m->buffer);
    return m;
  } catch (const std::exception &e) {
    set_error(e.what());
    return nullptr;
  }
}
void tb_memory_free(tb_memory *m) { delete m; }
tb_protocol *tb_memory_protocol(tb_memory *m) { return &m->protocol; }
int tb_memory_reset_for_reading(tb_memory *m, const void *data, size_t len) {
  return guarded([&] {
    // A fresh buffer: TMemoryBuffer counts consumed bytes against its message size limit across resets.
    m->buffer = std::make_shared<TMemoryBuffer>(static_cast<uint32_t>(len > 0 ? len : 1));
    if (len > 0) m->buffer->write(static_cast<const uint8_t *>(data), static_cast<uint32_t>(len));
    m->protocol.proto = std::make_shared<TBinaryProtocol>(m->buffer);
  });
}
int tb_memory_reset_for_writing(tb_memory *m) {
  return guarded([&] {
    m->buffer = std::make_shared<TMemoryBuffer>();
    m->protocol.proto = std::make_shared<TBinaryProtocol>(m->buffer);
  });
}
int tb_memory_bytes(tb_memory *m, const uint8_t **data, size_t *len) {
  return guarded([&] {
    uint8_t *buf = nullptr;
    uint32_t size = 0;
    m->buffer->getBuffer(&buf, &size);
    *data = buf;
    *len = size;
  });
}
int tb_memory_fully_read(tb_memory *m) { return m->buffer->available_read() == 0 ? 1 : 0; }

// ----- client -----

tb_client *tb_client_open(const char *host, int port, int connect_timeout_ms, int io_timeout_ms, int max_frame_size) {
  try {
    auto socket = std::make_shared<TSocket>(host, port);
    socket->setConnTimeout(connect_timeout_ms);
    socket->setRecvTimeout(io_timeout_ms);
    socket->setSendTimeout(io_timeout_ms);
    auto framed = std::make_shared<TFramedTransport>(socket, frame_limited_config(max_frame_size));
    framed->open();
    auto *c = new tb_client();
    c->transport = framed;
    c->protocol.proto = std::make_shared<TBinaryProtocol>(framed);
    return c;
  } catch (const std::exception &e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception");
  }
  return nullptr;
}
tb_protocol *tb_client_protocol(tb_client *c) { return &c->protocol; }
void tb_client_close(tb_client *c) {
  if (!c) return;
  try {
    c->transport->close();
  } catch (...) {
  }
  delete c;
}

// ----- server -----

tb_server *tb_server_start(const char *host, int port, int threads, int max_frame_size, int io_timeout_ms,
                           int max_connections, tb_handler_fn handler, void *context) {
  auto *s = new tb_server();
  try {
    // The limit stays below the descriptors this process may open, which other files need too.
    size_t limit = max_connections > 0 ? static_cast<size_t>(max_connections) : 0;
    struct rlimit files {};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      const size_t room = files.rlim_cur > 256 ? static_cast<size_t>(files.rlim_cur - 128) : files.rlim_cur / 2;
      if (limit == 0 || limit > room) limit = room;
    }
    s->socket = host && *host ? std::make_shared<ServerSocket>(host, port, s->registry, limit)
                              : std::make_shared<ServerSocket>(port, s->registry, limit);
    s->threads = ThreadManager::newSimpleThreadManager(static_cast<size_t>(threads > 0 ? threads : 1));
    s->threads->threadFactory(std::make_shared<ThreadFactory>());
    s->threads->start();
    // String and container limits stop a forged length from allocating more than a frame could hold.
    auto protocols = std::make_shared<TBinaryProtocolFactory>(max_frame_size, max_frame_size, false, true);
    s->server = std::make_shared<TNonblockingServer>(
        std::make_shared<ForwardingProcessor>(handler, context, s->registry), protocols, s->socket, s->threads);
    s->server->setMaxFrameSize(static_cast<size_t>(max_frame_size > 0 ? max_frame_size : 1048576));
    if (limit > 0) {
      s->server->setMaxConnections(limit);
      s->server->setOverloadAction(apache::thrift::server::T_OVERLOAD_CLOSE_ON_ACCEPT);
    }
    s->server->setServerEventHandler(std::make_shared<ServerEvents>(s));
    s->serving = std::thread([s] {
      std::string failure;
      try {
        s->server->serve();
      } catch (const std::exception &e) {
        failure = e.what();
      } catch (...) {
        failure = "unknown C++ exception";
      }
      std::lock_guard<std::mutex> lock(s->mutex);
      if (!s->stopping && s->ready) warn("the Thrift server stopped serving: " + (failure.empty() ? "no reason given" : failure));
      s->finished = true;
      s->failure = failure;
      s->changed.notify_all();
    });
    std::unique_lock<std::mutex> lock(s->mutex);
    s->changed.wait(lock, [s] { return s->ready || s->finished; });
    if (!s->ready) {
      std::string failure = s->failure.empty() ? "server stopped before listening" : s->failure;
      lock.unlock();
      s->serving.join();
      s->threads->stop();
      delete s;
      set_error(failure.c_str());
      return nullptr;
    }
    lock.unlock();
    if (io_timeout_ms > 0) {
      const auto limit_ms = std::chrono::milliseconds(io_timeout_ms);
      const auto period = std::min(std::chrono::milliseconds(1000), std::max(std::chrono::milliseconds(10), limit_ms / 4));
      s->reaping = std::thread([s, limit_ms, period] {
        std::unique_lock<std::mutex> lock(s->mutex);
        while (!s->changed.wait_for(lock, period, [s] { return s->stopping; })) s->registry->closeSilent(limit_ms);
      });
    }
    return s;
  } catch (const std::exception &e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception");
  }
  if (s->serving.joinable()) s->serving.join();
  delete s;
  return nullptr;
}

int tb_server_connections(tb_server *s) { return static_cast<int>(s->registry->count()); }

int tb_server_port(tb_server *s) {
  try {
    return s->socket->getListenPort();
  } catch (...) {
    return -1;
  }
}

void tb_server_stop(tb_server *s) {
  if (!s) return;
  {
    std::lock_guard<std::mutex> lock(s->mutex);
    s->stopping = true;
    s->changed.notify_all();
  }
  if (s->reaping.joinable()) s->reaping.join();
  // The server listens before its I/O thread can take the stop request, which is lost if it comes first:
  // ask until the serving thread ends.
  for (;;) {
    try {
      s->server->stop();
    } catch (...) {
    }
    std::unique_lock<std::mutex> lock(s->mutex);
    if (s->changed.wait_for(lock, std::chrono::milliseconds(100), [s] { return s->finished; })) break;
  }
  if (s->serving.joinable()) s->serving.join();
  try {
    s->threads->stop();
  } catch (...) {
  }
  delete s;
}

} // extern "C"
