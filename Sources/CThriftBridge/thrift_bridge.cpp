// The only place where libthrift's C++ API is called. See include/thrift_bridge.h for the contract.
#include "thrift_bridge.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

#include <thrift/transport/TSSLSocket.h>
#include <tls_context.h>

#include "sasl_digest.h"

namespace tbtls {
// libthrift's factory, kept for its OpenSSL set-up and its context, which is configured with OpenSSL directly
// (libthrift reads neither PKCS#12 nor encrypted keys from memory).
class Factory : public apache::thrift::transport::TSSLSocketFactory {
public:
  Factory() : TSSLSocketFactory(apache::thrift::transport::SSLProtocol::TLSv1_2) {}
  std::shared_ptr<apache::thrift::transport::SSLContext> context() { return ctx_; }
  SSL_CTX *raw() { return ctx_->get(); }
};
} // namespace tbtls

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
using apache::thrift::transport::TSSLSocket;
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

std::string peerName(int fd);

// A server's connection that knows who is on the other end.
class Authenticated {
public:
  virtual ~Authenticated() = default;
  // Who authenticated on this connection; empty when the server does not authenticate. Asked by the call
  // threads, one call of a connection at a time.
  virtual const std::string &principal() = 0;
};

class TrackedSocket : public TSocket, public Authenticated {
public:
  TrackedSocket(THRIFT_SOCKET fd, std::shared_ptr<ConnectionRegistry> registry, std::string principal = "")
      : TSocket(fd), registry_(std::move(registry)), principal_(std::move(principal)) {
    registry_->opened(this, fd);
  }
  ~TrackedSocket() override { registry_->closing(this); }
  void close() override {
    registry_->closing(this);
    TSocket::close();
  }
  const std::string &principal() override { return principal_; }

private:
  std::shared_ptr<ConnectionRegistry> registry_;
  std::string principal_;
};

// A TLS connection, on libthrift's non-blocking TLS socket (the handshake never blocks the server's I/O thread).
// Its principal is the subject of the client's certificate, read once the handshake is done (by the first call).
// A client whose handshake fails (no certificate, one nobody trusts, not TLS at all) is logged with its address.
class TrackedSSLSocket : public TSSLSocket, public Authenticated {
public:
  TrackedSSLSocket(std::shared_ptr<apache::thrift::transport::SSLContext> context, THRIFT_SOCKET fd,
                   std::shared_ptr<ConnectionRegistry> registry, std::shared_ptr<ThrottledWarning> refused)
      : TSSLSocket(std::move(context), fd), registry_(std::move(registry)), refused_(std::move(refused)) {
    server(true);
    setLibeventSafe();
    registry_->opened(this, fd);
  }
  uint32_t read(uint8_t *buf, uint32_t len) override {
    try {
      return TSSLSocket::read(buf, len);
    } catch (const apache::thrift::transport::TTransportException &e) {
      // libthrift's non-blocking socket asks to be called again with "retry"; anything else before the
      // handshake finished is a refusal.
      if ((!ssl_ || !SSL_is_init_finished(ssl_)) && !std::strstr(e.what(), "retry"))
        refused_->note("refused a TLS connection from " + peerName(static_cast<int>(getSocketFD())) + ": " + e.what());
      throw;
    }
  }
  ~TrackedSSLSocket() override { registry_->closing(this); }
  void close() override {
    registry_->closing(this);
    TSSLSocket::close();
  }
  const std::string &principal() override {
    if (!known_) {
      principal_ = tbtls::peerSubject(ssl_);
      known_ = true;
    }
    return principal_;
  }

private:
  std::shared_ptr<ConnectionRegistry> registry_;
  std::shared_ptr<ThrottledWarning> refused_;
  std::string principal_;
  bool known_ = false;
};


// What a server that authenticates needs: the users and passwords of its JAAS section, its SASL names, and how
// long a client may take to authenticate.
struct SaslSettings {
  std::map<std::string, std::string> users;
  std::string service;
  std::string realm;
  std::chrono::milliseconds handshakeTimeout{10000};
  tb_may_act_fn mayAct = nullptr;
  void *mayActContext = nullptr;
};

std::string peerName(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  char text[INET6_ADDRSTRLEN] = "?";
  if (::getpeername(fd, reinterpret_cast<sockaddr *>(&address), &length) != 0) return "an unknown address";
  int port = 0;
  if (address.ss_family == AF_INET) {
    auto *v4 = reinterpret_cast<sockaddr_in *>(&address);
    ::inet_ntop(AF_INET, &v4->sin_addr, text, sizeof text);
    port = ntohs(v4->sin_port);
  } else if (address.ss_family == AF_INET6) {
    auto *v6 = reinterpret_cast<sockaddr_in6 *>(&address);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof text);
    port = ntohs(v6->sin6_port);
  } else {
    return "a local socket";
  }
  return std::string(text) + ":" + std::to_string(port);
}

// Authenticates connections before libthrift sees them. libthrift's C++ library has no SASL, and its
// non-blocking server reads only frames, so this thread accepts on the real listening socket, runs each
// client's Thrift SASL negotiation (DIGEST-MD5) without blocking on any of them, and hands each authenticated
// connection over with its principal: the descriptor libthrift watches for new connections is an eventfd that
// counts the connections waiting. After the negotiation a connection carries plain frames (quality of
// protection "auth"), which is what the non-blocking server reads.
class SaslFront {
public:
  explicit SaslFront(std::shared_ptr<const SaslSettings> settings) : settings_(std::move(settings)) {
    ready_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK | EFD_SEMAPHORE);
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    reserved_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (ready_ < 0 || wake_ < 0)
      throw apache::thrift::transport::TTransportException("cannot create the eventfds of the SASL front");
  }
  ~SaslFront() {
    stop();
    for (auto &entry : handedOver_) ::close(entry.first);
    if (wake_ >= 0) ::close(wake_);
    if (reserved_ >= 0) ::close(reserved_);
    // ready_ is the descriptor libthrift watches and closes.
  }
  // The descriptor libthrift watches (and closes): readable while authenticated connections wait.
  int readyDescriptor() const { return ready_; }

  void start(int listener) {
    listener_ = listener;
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    uint64_t one = 1;
    (void)!::write(wake_, &one, sizeof one);
    thread_.join();
  }
  // The next authenticated connection, if any.
  bool take(int &fd, std::string &principal) {
    uint64_t count = 0;
    if (::read(ready_, &count, sizeof count) != sizeof count) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (handedOver_.empty()) return false;
    fd = handedOver_.front().first;
    principal = handedOver_.front().second;
    handedOver_.pop_front();
    return true;
  }

private:
  enum class Stage { mechanism, initialResponse, response, finishing, refusing };
  struct Pending {
    int fd;
    std::string peer;
    Clock::time_point deadline;
    tbsasl::DigestServer digest;
    Stage stage = Stage::mechanism;
    std::string in;
    size_t want = 5;
    std::string out;
    size_t sent = 0;
    std::string principal;
    bool done = false;
  };
  // Handshakes in progress at once; more wait in the kernel's backlog until some finish.
  static constexpr size_t MAX_PENDING = 1024;

  void run() {
    while (!stopping_.load()) {
      std::vector<pollfd> polled;
      polled.push_back({wake_, POLLIN, 0});
      polled.push_back({listener_, static_cast<short>(pending_.size() < MAX_PENDING ? POLLIN : 0), 0});
      auto now = Clock::now();
      auto nearest = now + std::chrono::seconds(1);
      for (auto &p : pending_) {
        polled.push_back({p.fd, static_cast<short>(p.sent < p.out.size() ? POLLOUT : POLLIN), 0});
        nearest = std::min(nearest, p.deadline);
      }
      const int wait = static_cast<int>(
          std::max<long long>(0, std::chrono::duration_cast<std::chrono::milliseconds>(nearest - now).count()));
      if (::poll(polled.data(), polled.size(), wait) < 0 && errno != EINTR) {
        failed_.note(std::string("the Thrift SASL front cannot poll: ") + std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      if (polled[1].revents & POLLIN) acceptWaiting();
      now = Clock::now();
      for (size_t i = 0; i < pending_.size() && i + 2 < polled.size(); i++) {
        if (polled[i + 2].revents) progress(pending_[i]);
        if (!pending_[i].done && now >= pending_[i].deadline) {
          slow_.note("closed a Thrift connection from " + pending_[i].peer + " that did not authenticate within " +
                     std::to_string(settings_->handshakeTimeout.count()) + " ms");
          ::close(pending_[i].fd);
          pending_[i].done = true;
        }
      }
      std::vector<Pending> still;
      still.reserve(pending_.size());
      for (auto &p : pending_)
        if (!p.done) still.push_back(std::move(p));
      pending_.swap(still);
    }
    for (auto &p : pending_) ::close(p.fd);
    pending_.clear();
  }

  void acceptWaiting() {
    for (int round = 0; round < 64 && pending_.size() < MAX_PENDING; round++) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0 && (errno == EMFILE || errno == ENFILE) && reserved_ >= 0) {
        ::close(reserved_);
        fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) ::close(fd);
        reserved_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        failed_.note("no file descriptor left for a new Thrift connection; refusing connections until some close");
        return;
      }
      if (fd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
          failed_.note(std::string("accepting a Thrift connection failed: ") + std::strerror(errno));
        return;
      }
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      pending_.push_back(Pending{fd, peerName(fd), Clock::now() + settings_->handshakeTimeout,
                                 tbsasl::DigestServer(&settings_->users, settings_->service, settings_->realm)});
    }
  }

  void progress(Pending &p) {
    if (p.sent < p.out.size()) {
      const ssize_t wrote = ::send(p.fd, p.out.data() + p.sent, p.out.size() - p.sent, MSG_NOSIGNAL);
      if (wrote < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) finish(p, false);
        return;
      }
      p.sent += static_cast<size_t>(wrote);
      if (p.sent < p.out.size()) return;
      if (p.stage == Stage::finishing) return finish(p, true);
      if (p.stage == Stage::refusing) return finish(p, false);
      return;
    }
    char buffer[1024];
    const size_t room = std::min(sizeof buffer, p.want - p.in.size());
    const ssize_t got = ::recv(p.fd, buffer, room, 0);
    if (got == 0) return finish(p, false);
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) finish(p, false);
      return;
    }
    p.in.append(buffer, static_cast<size_t>(got));
    if (p.in.size() < p.want) return;
    if (p.want == 5) {
      // A client that does not authenticate sends a frame: refused at once rather than read as a SASL message.
      if (p.stage == Stage::mechanism && static_cast<unsigned char>(p.in[0]) != tbsasl::START)
        return refuse(p, "no SASL negotiation: this server requires authentication");
      uint32_t length = 0;
      for (int i = 1; i < 5; i++) length = (length << 8) | static_cast<unsigned char>(p.in[i]);
      if (length > tbsasl::MAX_MESSAGE) return refuse(p, "not a Thrift SASL negotiation (message too long)");
      p.want = 5 + length;
      if (length > 0) return;
    }
    const auto status = static_cast<unsigned char>(p.in[0]);
    const std::string payload = p.in.substr(5);
    p.in.clear();
    p.want = 5;
    handle(p, status, payload);
  }

  void handle(Pending &p, unsigned char status, const std::string &payload) {
    switch (p.stage) {
    case Stage::mechanism:
      if (status != tbsasl::START) return refuse(p, "no SASL negotiation: this server requires authentication");
      if (payload != tbsasl::MECHANISM)
        return refuse(p, "SASL mechanism '" + payload + "' is not offered; this server offers DIGEST-MD5");
      p.stage = Stage::initialResponse;
      return;
    case Stage::initialResponse:
      if (status != tbsasl::OK) return refuse(p, "expected the SASL initial response");
      p.stage = Stage::response;
      p.out = tbsasl::frame(tbsasl::OK, p.digest.challenge());
      p.sent = 0;
      return;
    case Stage::response: {
      if (status != tbsasl::OK) return refuse(p, "expected the DIGEST-MD5 response");
      std::string reply, actingFor;
      if (!p.digest.verify(payload, p.principal, actingFor, reply)) return refuse(p, reply);
      if (!actingFor.empty()) {
        const std::string address = p.peer.substr(0, p.peer.rfind(':'));
        if (!settings_->mayAct ||
            !settings_->mayAct(settings_->mayActContext, p.principal.c_str(), actingFor.c_str(), address.c_str()))
          return refuse(p, "user " + p.principal + " may not act for " + actingFor);
        p.principal = actingFor;
      }
      p.stage = Stage::finishing;
      p.out = tbsasl::frame(tbsasl::COMPLETE, reply);
      p.sent = 0;
      return;
    }
    case Stage::finishing:
    case Stage::refusing:
      return finish(p, false);
    }
  }

  // Tells the client why (a BAD message, as Java's SASL transport sends) and closes once that is written.
  void refuse(Pending &p, const std::string &reason) {
    refused_.note("refused a Thrift connection from " + p.peer + ": " + reason);
    p.stage = Stage::refusing;
    p.out = tbsasl::frame(tbsasl::BAD, reason);
    p.sent = 0;
    progress(p);
  }

  void finish(Pending &p, bool authenticated) {
    if (p.done) return;
    p.done = true;
    if (!authenticated) {
      ::close(p.fd);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      handedOver_.emplace_back(p.fd, p.principal);
    }
    uint64_t one = 1;
    (void)!::write(ready_, &one, sizeof one);
  }

  std::shared_ptr<const SaslSettings> settings_;
  int listener_ = -1;
  int ready_ = -1;
  int wake_ = -1;
  int reserved_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<Pending> pending_;
  std::mutex mutex_;
  std::deque<std::pair<int, std::string>> handedOver_;
  ThrottledWarning refused_;
  ThrottledWarning slow_;
  ThrottledWarning failed_;
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
  ServerSocket(const std::string &host, int port, std::shared_ptr<ConnectionRegistry> registry, size_t limit,
               std::shared_ptr<const SaslSettings> sasl, std::shared_ptr<tbtls::Factory> tls)
      : TNonblockingServerSocket(host, port), registry_(std::move(registry)), limit_(limit), sasl_(std::move(sasl)),
        tls_(std::move(tls)) {
    reserve();
  }
  ServerSocket(int port, std::shared_ptr<ConnectionRegistry> registry, size_t limit,
               std::shared_ptr<const SaslSettings> sasl, std::shared_ptr<tbtls::Factory> tls)
      : TNonblockingServerSocket(port), registry_(std::move(registry)), limit_(limit), sasl_(std::move(sasl)),
        tls_(std::move(tls)) {
    reserve();
  }
  ~ServerSocket() override {
    front_.reset();
    if (reserved_ >= 0) ::close(reserved_);
  }

  void listen() override {
    TNonblockingServerSocket::listen();
    if (sasl_) {
      front_ = std::make_unique<SaslFront>(sasl_);
      served_ = front_->readyDescriptor();
      front_->start(TNonblockingServerSocket::getSocketFD());
      return;
    }
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

  // Stops authenticating before the listening socket closes, and before libthrift closes the eventfd the front
  // signals (a later signal could reach whatever file reused its number).
  void stopAuthenticating() {
    if (front_) front_->stop();
  }
  void close() override {
    stopAuthenticating();
    TNonblockingServerSocket::close();
  }

protected:
  std::shared_ptr<TSocket> acceptImpl() override {
    if (front_) {
      int fd = -1;
      std::string principal;
      if (!front_->take(fd, principal)) return endedSocket(EAGAIN);
      return std::make_shared<TrackedSocket>(fd, registry_, principal);
    }
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
    if (tls_) return std::make_shared<TrackedSSLSocket>(tls_->context(), fd, registry_, tlsRefused_);
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
  std::shared_ptr<const SaslSettings> sasl_;
  std::shared_ptr<tbtls::Factory> tls_;
  std::shared_ptr<ThrottledWarning> tlsRefused_ = std::make_shared<ThrottledWarning>();
  std::unique_ptr<SaslFront> front_;
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
    auto *tracked = dynamic_cast<Authenticated *>(const_cast<TSocket *>(socket));
    const char *principal = tracked && !tracked->principal().empty() ? tracked->principal().c_str() : nullptr;
    const bool keep = handler_(context_, connection ? connection->id : 0, fd, principal, &input, &output) == 0;
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
  // Kept while the connection lives: its TLS context and libthrift's OpenSSL set-up.
  std::shared_ptr<tbtls::Factory> tls;
  std::shared_ptr<TTransport> transport;
  tb_protocol protocol;
};

namespace {
// A TLS context from `tls`, or NULL with the reason in `error`.
std::shared_ptr<tbtls::Factory> tlsFactory(const tb_tls &tls, bool server, std::string &error) {
  tbtls::quietBrokenPipes();
  auto factory = std::make_shared<tbtls::Factory>();
  SSL_CTX *ctx = factory->raw();
  const std::string keyPassword = tls.keystore_password ? tls.keystore_password : "";
  const std::string trustPassword = tls.truststore_password ? tls.truststore_password : "";
  if (tls.keystore_path && *tls.keystore_path) {
    if (!tbtls::useKeystore(ctx, tls.keystore_path, keyPassword, error)) return nullptr;
  } else if (server) {
    error = "a TLS server needs a keystore";
    return nullptr;
  }
  if (tls.truststore_path && *tls.truststore_path) {
    if (!tbtls::useTruststore(ctx, tls.truststore_path, trustPassword, error)) return nullptr;
  } else if (server && tls.require_peer_certificate) {
    error = "a TLS server that requires client certificates needs a truststore";
    return nullptr;
  } else {
    SSL_CTX_set_default_verify_paths(ctx);
  }
  if (server) {
    SSL_CTX_set_verify(ctx, tls.require_peer_certificate ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                                         : SSL_VERIFY_PEER,
                       nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    factory->access(std::make_shared<apache::thrift::transport::DefaultClientAccessManager>());
  }
  return factory;
}

// A client's TLS context, made once per settings and files (a new OpenSSL context and reading the keystores cost
// milliseconds, more than the handshake) and made anew when a file changes, so a renewed certificate is used.
std::shared_ptr<tbtls::Factory> clientTLSFactory(const tb_tls &tls, std::string &error) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<tbtls::Factory>> made;
  std::string key;
  for (const char *part : {tls.keystore_path, tls.keystore_password, tls.truststore_path, tls.truststore_password}) {
    key += std::string(part ? part : "") + '\0';
  }
  for (const char *path : {tls.keystore_path, tls.truststore_path}) {
    struct stat info {};
    if (path && ::stat(path, &info) == 0)
      key += std::to_string(info.st_mtim.tv_sec) + "." + std::to_string(info.st_mtim.tv_nsec) + '\0';
  }
  std::lock_guard<std::mutex> lock(mutex);
  auto found = made.find(key);
  if (found != made.end()) return found->second;
  auto factory = tlsFactory(tls, false, error);
  if (!factory) return nullptr;
  if (made.size() >= 16) made.clear();
  made[key] = factory;
  return factory;
}
} // namespace

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

} // extern "C"

namespace {
std::pair<uint8_t, std::string> readSaslMessage(TSocket &socket) {
  uint8_t header[5];
  socket.readAll(header, sizeof header);
  const uint32_t length = (uint32_t(header[1]) << 24) | (uint32_t(header[2]) << 16) | (uint32_t(header[3]) << 8) |
                          uint32_t(header[4]);
  if (length > tbsasl::MAX_MESSAGE)
    throw apache::thrift::transport::TTransportException("the server's SASL message is too long: " +
                                                         std::to_string(length) + " bytes");
  std::string payload(length, '\0');
  if (length > 0) socket.readAll(reinterpret_cast<uint8_t *>(&payload[0]), length);
  return {header[0], payload};
}

void sendSaslMessage(TSocket &socket, tbsasl::Status status, const std::string &payload) {
  const std::string bytes = tbsasl::frame(status, payload);
  socket.write(reinterpret_cast<const uint8_t *>(bytes.data()), static_cast<uint32_t>(bytes.size()));
}

// The client's side of Thrift's SASL negotiation with DIGEST-MD5, as Java's TSaslClientTransport runs it.
void authenticate(TSocket &socket, const tb_sasl_client &sasl, const char *host) {
  using apache::thrift::transport::TTransportException;
  tbsasl::DigestClient digest(sasl.user, sasl.password, sasl.service, host,
                              sasl.acting_for ? sasl.acting_for : "");
  sendSaslMessage(socket, tbsasl::START, tbsasl::MECHANISM);
  sendSaslMessage(socket, tbsasl::OK, "");
  auto challenge = readSaslMessage(socket);
  if (challenge.first != tbsasl::OK)
    throw TTransportException(std::string("authentication as '") + sasl.user + "' refused: " +
                              (challenge.second.empty() ? "no reason given" : challenge.second));
  std::string response;
  if (!digest.respond(challenge.second, response)) throw TTransportException(response);
  sendSaslMessage(socket, tbsasl::OK, response);
  auto outcome = readSaslMessage(socket);
  if (outcome.first != tbsasl::COMPLETE)
    throw TTransportException(std::string("authentication as '") + sasl.user + "' refused: " +
                              (outcome.second.empty() ? "no reason given" : outcome.second));
  if (!digest.checkServer(outcome.second))
    throw TTransportException("the server did not prove it knows the password of '" + std::string(sasl.user) +
                              "' (bad rspauth): it may not be the server it claims to be");
}
} // namespace

extern "C" {

tb_client *tb_client_open(const char *host, int port, int connect_timeout_ms, int io_timeout_ms, int max_frame_size,
                          const tb_sasl_client *sasl, const tb_tls *tls) {
  try {
    std::shared_ptr<tbtls::Factory> factory;
    std::shared_ptr<TSocket> socket;
    if (tls) {
      std::string error;
      factory = clientTLSFactory(*tls, error);
      if (!factory) {
        set_error(("TLS: " + error).c_str());
        return nullptr;
      }
      socket = factory->createSocket(host, port);
    } else {
      socket = std::make_shared<TSocket>(host, port);
    }
    socket->setConnTimeout(connect_timeout_ms);
    socket->setRecvTimeout(io_timeout_ms);
    socket->setSendTimeout(io_timeout_ms);
    if (sasl) {
      socket->open();
      authenticate(*socket, *sasl, host);
    }
    auto framed = std::make_shared<TFramedTransport>(socket, frame_limited_config(max_frame_size));
    framed->open();
    auto *c = new tb_client();
    c->tls = factory;
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
                           int max_connections, const tb_sasl_server *sasl, const tb_tls *tls, tb_handler_fn handler,
                           void *context) {
  auto *s = new tb_server();
  try {
    std::shared_ptr<tbtls::Factory> factory;
    if (tls) {
      std::string error;
      factory = tlsFactory(*tls, true, error);
      if (!factory) {
        set_error(("TLS: " + error).c_str());
        delete s;
        return nullptr;
      }
    }
    std::shared_ptr<SaslSettings> settings;
    if (sasl) {
      settings = std::make_shared<SaslSettings>();
      for (int i = 0; i < sasl->user_count; i++) settings->users[sasl->users[i]] = sasl->passwords[i];
      settings->service = sasl->service ? sasl->service : "";
      settings->realm = sasl->realm ? sasl->realm : "";
      if (sasl->handshake_timeout_ms > 0) settings->handshakeTimeout = std::chrono::milliseconds(sasl->handshake_timeout_ms);
      settings->mayAct = sasl->may_act;
      settings->mayActContext = sasl->may_act_context;
    }
    // The limit stays below the descriptors this process may open, which other files need too.
    size_t limit = max_connections > 0 ? static_cast<size_t>(max_connections) : 0;
    struct rlimit files {};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
      const size_t room = files.rlim_cur > 256 ? static_cast<size_t>(files.rlim_cur - 128) : files.rlim_cur / 2;
      if (limit == 0 || limit > room) limit = room;
    }
    s->socket = host && *host ? std::make_shared<ServerSocket>(host, port, s->registry, limit, settings, factory)
                              : std::make_shared<ServerSocket>(port, s->registry, limit, settings, factory);
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

void tb_digest_md5_response(const char *user, const char *realm, const char *password, const char *nonce,
                            const char *cnonce, const char *digest_uri, int for_server, char out[33]) {
  const std::string value = tbsasl::digestResponse(user, realm, password, nonce, cnonce, "00000001", "", digest_uri,
                                                   for_server ? "" : "AUTHENTICATE");
  std::memcpy(out, value.c_str(), 33);
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
  s->socket->stopAuthenticating();
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
