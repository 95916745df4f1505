// The only place where libthrift's C++ API is called. See include/thrift_bridge.h for the contract.
#include "thrift_bridge.h"

#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <thrift/TConfiguration.h>
#include <thrift/TOutput.h>
#include <thrift/TProcessor.h>
#include <thrift/concurrency/ThreadFactory.h>
#include <thrift/concurrency/ThreadManager.h>
#include <thrift/protocol/TBinaryProtocol.h>
#include <thrift/protocol/TProtocolTypes.h>
#include <thrift/server/TThreadPoolServer.h>
#include <thrift/transport/TBufferTransports.h>
#include <thrift/transport/TServerSocket.h>
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
using apache::thrift::server::TThreadPoolServer;
using apache::thrift::transport::TFramedTransport;
using apache::thrift::transport::TMemoryBuffer;
using apache::thrift::transport::TServerSocket;
using apache::thrift::transport::TSocket;
using apache::thrift::transport::TTransport;
using apache::thrift::transport::TTransportFactory;

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

void forward_log(const char *message) {
  tb_log_fn fn;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    fn = log_handler;
  }
  if (fn) fn(message);
}

std::shared_ptr<TConfiguration> frame_limited_config(int max_frame_size) {
  // The message limit guards the socket below the frame; the frame limit is the one clients can hit.
  const int message = TConfiguration::DEFAULT_MAX_MESSAGE_SIZE;
  const int frame = max_frame_size > 0 ? max_frame_size : TConfiguration::DEFAULT_MAX_FRAME_SIZE;
  return std::make_shared<TConfiguration>(message, frame);
}

class FrameLimitedTransportFactory : public TTransportFactory {
public:
  explicit FrameLimitedTransportFactory(int max_frame_size) : max_frame_size_(max_frame_size) {}
  std::shared_ptr<TTransport> getTransport(std::shared_ptr<TTransport> trans) override {
    return std::make_shared<TFramedTransport>(trans, frame_limited_config(max_frame_size_));
  }

private:
  int max_frame_size_;
};

class ForwardingProcessor : public TProcessor {
public:
  ForwardingProcessor(tb_handler_fn handler, void *context) : handler_(handler), context_(context) {}
  bool process(std::shared_ptr<TProtocol> in, std::shared_ptr<TProtocol> out, void *) override {
    tb_protocol input{in, {}};
    tb_protocol output{out, {}};
    return handler_(context_, &input, &output) == 0;
  }

private:
  tb_handler_fn handler_;
  void *context_;
};

} // namespace

struct tb_server;

namespace {
class ReadinessSignal : public TServerEventHandler {
public:
  explicit ReadinessSignal(tb_server *server) : server_(server) {}
  void preServe() override;

private:
  tb_server *server_;
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
  std::shared_ptr<TServerSocket> socket;
  std::shared_ptr<ThreadManager> threads;
  std::shared_ptr<TThreadPoolServer> server;
  std::thread serving;
  std::mutex mutex;
  std::condition_variable changed;
  bool ready = false;
  bool finished = false;
  std::string failure;
};

void ReadinessSignal::preServe() {
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
                           tb_handler_fn handler, void *context) {
  auto *s = new tb_server();
  try {
    s->socket = host && *host ? std::make_shared<TServerSocket>(host, port) : std::make_shared<TServerSocket>(port);
    if (io_timeout_ms > 0) {
      s->socket->setRecvTimeout(io_timeout_ms);
      s->socket->setSendTimeout(io_timeout_ms);
    }
    s->threads = ThreadManager::newSimpleThreadManager(static_cast<size_t>(threads > 0 ? threads : 1));
    s->threads->threadFactory(std::make_shared<ThreadFactory>());
    s->threads->start();
    // String and container limits stop a forged length from allocating more than a frame could hold.
    auto protocols = std::make_shared<TBinaryProtocolFactory>(max_frame_size, max_frame_size, false, true);
    s->server = std::make_shared<TThreadPoolServer>(std::make_shared<ForwardingProcessor>(handler, context), s->socket,
                                                    std::make_shared<FrameLimitedTransportFactory>(max_frame_size),
                                                    protocols, s->threads);
    s->server->setServerEventHandler(std::make_shared<ReadinessSignal>(s));
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

int tb_server_port(tb_server *s) {
  try {
    return s->socket->getPort();
  } catch (...) {
    return -1;
  }
}

void tb_server_stop(tb_server *s) {
  if (!s) return;
  try {
    s->server->stop();
  } catch (...) {
  }
  if (s->serving.joinable()) s->serving.join();
  try {
    s->threads->stop();
  } catch (...) {
  }
  delete s;
}

} // extern "C"
