import Foundation
import Locking
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Log lines written the first time each says something, then at most once every ten seconds per thing said,
/// with how many were left out: a flood of one refusal writes one line, and a different refusal still shows.
final class ThrottledLine: Sendable {
    private let state = Locked<[String: (lastLogged: UInt64, unlogged: Int)]>([:])

    /// nil when the line saying `what` is to be left out now; else what to add to it (" (and N more since the
    /// last such line)").
    func due(_ what: String = "") -> String? {
        let now = DispatchTime.now().uptimeNanoseconds
        let unlogged = state.withLock { lines -> Int? in
            if let last = lines[what], now - last.lastLogged < 10_000_000_000 {
                lines[what]?.unlogged += 1
                return nil
            }
            // Bounded: a flood of different lines forgets the old ones (and logs them again).
            if lines.count >= 256 { lines.removeAll() }
            defer { lines[what] = (now, 0) }
            return lines[what]?.unlogged ?? 0
        }
        guard let unlogged else { return nil }
        return unlogged > 0 ? " (and \(unlogged) more since the last such line)" : ""
    }
}

/// What a worker's tuple port allows its clients, so that no client can make the worker reserve memory for bytes
/// that have not come, or take more than its share of threads.
public struct FrameLimits: Sendable, Equatable {
    /// A hello is `storm-swift/1 <topology id>`, and a topology id is at most about 230 bytes: a first frame that
    /// claims more is no hello.
    public var maxHelloBytes = 512
    /// Frames after the hello: a batch of tuples (a sender ships one past 1 MiB, so only a tuple of tens of MiB
    /// comes near this) or a backpressure status.
    public var maxFrameBytes = Frames.defaultMaxFrameBytes
    /// Connections open at once. A peer worker holds one; a topology of hundreds of workers stays well below.
    public var maxConnections = 512
    /// A connection must have sent its whole hello this long after it was accepted.
    public var helloTimeoutSeconds = 5

    public init() {}
}

/// Receives frames on a worker's slot port: one thread accepts, one thread per connection reads. Each frame is
/// handed to `onFrame` on that connection's thread, as a buffer valid for the call only (decoded in place, never
/// copied), with the address it came from. A connection that says the wrong hello, is slow to say it or sends a
/// malformed frame is closed with one log line; the others go on.
public final class FrameServer: Sendable {
    public typealias Handler = @Sendable (_ payload: UnsafeRawBufferPointer, _ remote: String) -> Void

    let host: String
    let requestedPort: Int
    let name: String
    let secret: LinkSecret?
    let tls: LinkTLS?
    let limits: FrameLimits
    let logger: Logger
    let onFrame: Handler
    private let listenerFd = Locked<Int32>(-1)
    private let connections = Locked<Set<Int32>>([])
    private let refusals = ThrottledLine()
    private let closings = ThrottledLine()
    private let stopped = Locked(false)
    private let threads = DispatchGroup()
    private let boundPort = Atomic<Int>(0)
    /// The port it listens on, once started.
    public var port: Int { boundPort.load(ordering: .acquiring) }
    /// Connections open now (peers' senders, and any client mid-hello).
    public var openConnections: Int { connections.withLock { $0.count } }

    /// - Parameters:
    ///   - name: what the hello must name (the topology id).
    ///   - secret: when given, a client must also prove it knows it (see `LinkSecret`) before any frame of its is
    ///     handed over.
    ///   - tls: when given, every connection starts with a TLS handshake (see `LinkTLS`).
    public init(
        host: String = "0.0.0.0", port: Int, name: String, secret: LinkSecret? = nil, tls: LinkTLS? = nil,
        limits: FrameLimits = FrameLimits(),
        logger: Logger, onFrame: @escaping Handler
    ) {
        self.host = host
        requestedPort = port
        self.name = name
        self.secret = secret
        self.tls = tls
        self.limits = limits
        self.logger = logger
        self.onFrame = onFrame
    }

    public func start() throws {
        let listener = try Socket.listen(host: host, port: requestedPort)
        boundPort.store(listener.localPort, ordering: .releasing)
        listenerFd.withLock { $0 = listener.fd }
        threads.enter()
        let thread = Thread { [self] in
            defer { threads.leave() }
            while !stopped.withLock({ $0 }) {
                guard let accepted = listener.accept() else {
                    if stopped.withLock({ $0 }) { break }
                    usleep(10_000)
                    continue
                }
                serve(accepted.socket, remote: accepted.remote)
            }
            withExtendedLifetime(listener) {}
        }
        thread.name = "transport-accept"
        thread.start()
    }

    private enum Admission { case accepted, stopped, full(Int) }

    private func serve(_ connection: Socket, remote: String) {
        let fd = connection.fd
        let admission = stopped.withLock { s -> Admission in
            guard !s else { return .stopped }
            return connections.withLock { open in
                guard open.count < limits.maxConnections else { return .full(open.count) }
                open.insert(fd)
                return .accepted
            }
        }
        switch admission {
        case .stopped: return
        case .full(let open):
            // Closed as `connection` goes out of scope.
            noteRefusal(remote, open: open)
            return
        case .accepted: break
        }
        threads.enter()
        let thread = Thread { [self] in
            defer { threads.leave() }
            do {
                if let tls {
                    try readFrames(try tls.accept(connection), remote: remote)
                } else {
                    try readFrames(connection, remote: remote)
                }
            } catch {
                // Peers that fail their handshake the same way get one line every ten seconds, not one each.
                if !stopped.withLock({ $0 }), let more = closings.due("\(error)") {
                    logger.warning("closed a transport connection from \(remote) on port \(port)\(more): \(error)")
                }
            }
            connections.withLock { _ = $0.remove(fd) }
        }
        thread.name = "transport-receive"
        thread.start()
    }

    /// One line for the first refusal, then at most one every ten seconds with the count since: a flood of
    /// connections must not flood the log too.
    private func noteRefusal(_ remote: String, open: Int) {
        guard let more = refusals.due() else { return }
        logger.warning(
            "refused a connection from \(remote) on port \(port)\(more): \(open) connections already, the most storm.messaging.max.connections allows"
        )
    }

    /// Where a connection is in its greeting: its hello, then (with a secret) its answer to the challenge.
    private enum Greeting {
        case hello
        case proving([UInt8])
        case greeted
    }

    /// Room for a hello; once a client has said it, this much, doubled whenever full.
    static let helloBufferBytes = 1 << 10
    static let steadyBufferBytes = 64 << 10
    static let largestKeptBufferBytes = 8 << 20

    private func readFrames(_ socket: some FrameStream, remote: String) throws {
        // The buffer grows only as bytes arrive (doubling when full, so at most twice what came), never to the
        // length a frame merely claims: a client that claims 64 MiB and sends nothing costs nothing.
        var buffer = [UInt8](repeating: 0, count: Self.helloBufferBytes)
        var filled = 0
        let expectedHello = Array((Frames.helloPrefix + name).utf8)
        let helloDeadline = DispatchTime.now().uptimeNanoseconds + UInt64(limits.helloTimeoutSeconds) * 1_000_000_000
        var greeting = Greeting.hello
        var greeted: Bool { if case .greeted = greeting { true } else { false } }
        while true {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n: Int
            do {
                n = try buffer.withUnsafeMutableBytes { raw in
                    try socket.read(
                        into: raw.baseAddress! + filled, count: raw.count - filled,
                        deadline: greeted ? nil : helloDeadline)
                }
            } catch {
                if !greeted && DispatchTime.now().uptimeNanoseconds >= helloDeadline {
                    throw TransportError("no hello within \(limits.helloTimeoutSeconds) s (\(filled) bytes came)")
                }
                throw error
            }
            if n == 0 { return }
            filled += n
            // Hand over every complete frame in the buffer, then keep the partial one.
            var start = 0
            while filled - start >= Frames.headerSize {
                let length = buffer.withUnsafeBytes {
                    Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
                }
                if greeted {
                    guard length <= limits.maxFrameBytes else {
                        throw TransportError("frame of \(length) bytes is over the limit of \(limits.maxFrameBytes)")
                    }
                } else {
                    guard length <= limits.maxHelloBytes else {
                        throw TransportError(
                            "its first frame claims \(length) bytes; a hello has at most \(limits.maxHelloBytes)")
                    }
                }
                let end = start + Frames.headerSize + length
                guard end <= filled else { break }
                switch greeting {
                case .greeted:
                    buffer.withUnsafeBytes {
                        onFrame(UnsafeRawBufferPointer(rebasing: $0[(start + Frames.headerSize)..<end]), remote)
                    }
                case .hello:
                    guard buffer[(start + Frames.headerSize)..<end].elementsEqual(expectedHello) else {
                        let hello = String(decoding: buffer[(start + Frames.headerSize)..<end], as: UTF8.self)
                        throw TransportError(
                            "unexpected hello \(hello.prefix(80).debugDescription), expected topology \(name)")
                    }
                    if secret != nil {
                        let challenge = LinkSecret.challenge()
                        try socket.writeAll(Frames.frame(challenge))
                        greeting = .proving(challenge)
                    } else {
                        greeting = .greeted
                    }
                case .proving(let challenge):
                    let proof = Array(buffer[(start + Frames.headerSize)..<end])
                    guard secret?.verifies(proof, challenge: challenge, name: name) == true else {
                        throw TransportError("refused: it did not prove it knows the secret of topology \(name)")
                    }
                    greeting = .greeted
                }
                start = end
            }
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: filled - start)
                }
                filled -= start
            }
            // A peer's frames are about 1 MiB, so its buffer settles at a few MiB and stays; what a rare larger
            // frame took is given back once it has been handed over.
            if greeted
                && (buffer.count < Self.steadyBufferBytes
                    || (buffer.count > Self.largestKeptBufferBytes && filled <= Self.steadyBufferBytes / 2))
            {
                var resized = [UInt8](repeating: 0, count: Self.steadyBufferBytes)
                resized.withUnsafeMutableBytes { to in
                    buffer.withUnsafeBytes { from in
                        to.copyMemory(from: UnsafeRawBufferPointer(rebasing: from[0..<filled]))
                    }
                }
                buffer = resized
            }
        }
    }

    /// Closes the listener and every connection, and waits for their threads.
    public func stop() {
        stopped.withLock { $0 = true }
        listenerFd.withLock { fd in if fd >= 0 { Glibc.shutdown(fd, Int32(SHUT_RDWR)) } }
        connections.withLock { for fd in $0 { Glibc.shutdown(fd, Int32(SHUT_RDWR)) } }
        threads.wait()
    }
}
