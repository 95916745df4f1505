internal import CDescriptors
import Dispatch

#if canImport(Glibc)
import Glibc
#endif

public struct TransportError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }

    static func errno(_ what: String) -> TransportError {
        TransportError("\(what): \(String(cString: strerror(Glibc.errno)))")
    }
}

/// A blocking TCP socket: a file descriptor (closed with the object) and the few calls the transport needs.
final class Socket: FrameStream, Sendable {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    deinit { Glibc.close(fd) }

    /// Listens on `host:port` (SO_REUSEADDR, so a restarted worker can take its port back at once).
    static func listen(host: String, port: Int) throws(TransportError) -> Socket {
        var addr = try address(host: host, port: port)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .errno("socket") }
        let s = Socket(fd: fd)
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw .errno("cannot listen on \(host):\(port)") }
        guard Glibc.listen(fd, 128) == 0 else { throw .errno("cannot listen on \(host):\(port)") }
        return s
    }

    /// Connects to `host:port`, giving up after `timeoutMillis`.
    static func connect(host: String, port: Int, timeoutMillis: Int32) throws(TransportError) -> Socket {
        var addr = try address(host: host, port: port)
        let fd = socket(
            AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .errno("socket") }
        let s = Socket(fd: fd)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            guard Glibc.errno == EINPROGRESS else { throw .errno("cannot connect to \(host):\(port)") }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, timeoutMillis) == 1 else {
                throw TransportError("cannot connect to \(host):\(port): timed out")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else {
                throw TransportError("cannot connect to \(host):\(port): \(String(cString: strerror(error)))")
            }
        }
        // Back to blocking: the sender thread owns this socket and waits on it.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        s.setNoDelay()
        return s
    }

    static func address(host: String, port: Int) throws(TransportError) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        let name = host == "localhost" ? "127.0.0.1" : host
        if inet_pton(AF_INET, name, &addr.sin_addr) == 1 { return addr }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &result) == 0, let first = result, let found = first.pointee.ai_addr else {
            throw TransportError("cannot resolve host '\(host)'")
        }
        defer { freeaddrinfo(result) }
        found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addr.sin_addr = $0.pointee.sin_addr }
        return addr
    }

    /// The port the socket is bound to (for listeners on port 0).
    var localPort: Int {
        var addr = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Batches are flushed on purpose; Nagle's delay would only add latency to the last one.
    func setNoDelay() {
        var on: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
    }

    /// A connection taken from this listener, with the address it came from (for log lines about it).
    func accept() -> (socket: Socket, remote: String)? {
        // Close-on-exec from the start: workers start shell subprocesses, and a connection must not leak into them.
        let client = storm_accept_cloexec(fd)
        guard client >= 0 else { return nil }
        var addr = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let known = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(client, $0, &length) }
        }
        let s = Socket(fd: client)
        s.setNoDelay()
        return (s, known == 0 ? Self.describe(addr) : "an unknown address")
    }

    static func describe(_ addr: sockaddr_in) -> String {
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var inAddr = addr.sin_addr
        guard inet_ntop(AF_INET, &inAddr, &text, socklen_t(text.count)) != nil else { return "an unknown address" }
        let address = text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return "\(address):\(UInt16(bigEndian: addr.sin_port))"
    }

    /// Ends blocked reads, writes and accepts on this socket from another thread.
    func shutdownBoth() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    func writeAll(_ bytes: [UInt8]) throws(TransportError) {
        let failure: Int32 = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if Glibc.errno == EINTR { continue }
                    return Glibc.errno
                }
                offset += n
            }
            return 0
        }
        if failure != 0 { throw TransportError("write: \(String(cString: strerror(failure)))") }
    }

    func read(into buffer: UnsafeMutableRawPointer, count: Int, deadline: UInt64? = nil) throws(TransportError) -> Int {
        if let deadline { try waitReadable(until: deadline) }
        while true {
            let n = recv(fd, buffer, count, 0)
            if n >= 0 { return n }
            if Glibc.errno == EINTR { continue }
            throw .errno("read")
        }
    }

    /// Waits until bytes can be read, or throws when `deadline` (uptime nanoseconds) passes first.
    func waitReadable(until deadline: UInt64) throws(TransportError) {
        while true {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { throw TransportError("timed out") }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(clamping: (deadline - now + 999_999) / 1_000_000))
            if ready < 0 && Glibc.errno != EINTR { throw .errno("poll") }
            if ready > 0 { return }
        }
    }
}

extension FrameStream {
    /// Reads one whole frame of at most `maxBytes` before `deadline` (uptime nanoseconds).
    func readFrame(maxBytes: Int, deadline: UInt64) throws(TransportError) -> [UInt8] {
        let header = try readExactly(Frames.headerSize, deadline: deadline)
        let length = Int(UInt32(header[0]) | UInt32(header[1]) << 8 | UInt32(header[2]) << 16 | UInt32(header[3]) << 24)
        guard length <= maxBytes else {
            throw TransportError("a frame of \(length) bytes, expected at most \(maxBytes)")
        }
        return try readExactly(length, deadline: deadline)
    }

    private func readExactly(_ count: Int, deadline: UInt64) throws(TransportError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try bytes.withUnsafeMutableBytes { raw -> Result<Int, TransportError> in
                Result { () throws(TransportError) in
                    try read(into: raw.baseAddress! + filled, count: count - filled, deadline: deadline)
                }
            }.get()
            guard n > 0 else { throw TransportError("the connection closed") }
            filled += n
        }
        return bytes
    }
}

/// Name resolution as the transport does it (IPv4 only), for checks made before listening or connecting.
public enum HostAddresses {
    /// Every IPv4 address `host` resolves to, as dotted text; empty when it resolves to none.
    public static func ipv4(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host == "localhost" ? "127.0.0.1" : host, nil, &hints, &result) == 0 else { return [] }
        defer { freeaddrinfo(result) }
        var out: [String] = []
        var next = result
        while let entry = next {
            if let found = entry.pointee.ai_addr {
                let text = found.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Socket.describe($0.pointee) }
                // describe() adds ":port"; the port is 0 here.
                let address = String(text.prefix { $0 != ":" })
                if !out.contains(address) { out.append(address) }
            }
            next = entry.pointee.ai_next
        }
        return out
    }
}
