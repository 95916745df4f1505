#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Locking
import Logging

/// Receives frames on a worker's slot port: one thread accepts, one thread per connection reads. Each frame is
/// handed to `onFrame` on that connection's thread, as a buffer valid for the call only (decoded in place, never
/// copied). A connection that says the wrong hello or sends a malformed frame is closed with one log line;
/// the others go on.
public final class FrameServer: @unchecked Sendable {
    public typealias Handler = @Sendable (UnsafeRawBufferPointer) -> Void

    let host: String
    let requestedPort: Int
    let name: String
    let maxFrameBytes: Int
    let logger: Logger
    let onFrame: Handler
    private let listenerFd = Locked<Int32>(-1)
    private let connections = Locked<Set<Int32>>([])
    private let stopped = Locked(false)
    private let threads = DispatchGroup()
    public private(set) var port = 0

    /// - Parameter name: what the hello must name (the topology id).
    public init(
        host: String = "0.0.0.0", port: Int, name: String, maxFrameBytes: Int = Frames.defaultMaxFrameBytes, logger: Logger,
        onFrame: @escaping Handler
    ) {
        self.host = host
        requestedPort = port
        self.name = name
        self.maxFrameBytes = maxFrameBytes
        self.logger = logger
        self.onFrame = onFrame
    }

    public func start() throws {
        let listener = try Socket.listen(host: host, port: requestedPort)
        port = listener.localPort
        listenerFd.withLock { $0 = listener.fd }
        threads.enter()
        let thread = Thread { [self] in
            defer { threads.leave() }
            while !stopped.withLock({ $0 }) {
                guard let connection = listener.accept() else {
                    if stopped.withLock({ $0 }) { break }
                    usleep(10_000)
                    continue
                }
                serve(connection)
            }
            withExtendedLifetime(listener) {}
        }
        thread.name = "transport-accept"
        thread.start()
    }

    private func serve(_ connection: Socket) {
        let fd = connection.fd
        let accepted = stopped.withLock { s -> Bool in
            guard !s else { return false }
            connections.withLock { _ = $0.insert(fd) }
            return true
        }
        guard accepted else { return }
        threads.enter()
        let thread = Thread { [self] in
            defer { threads.leave() }
            let socket = connection
            do {
                try readFrames(socket)
            } catch {
                if !stopped.withLock({ $0 }) { logger.warning("closed a transport connection on port \(port): \(error)") }
            }
            connections.withLock { _ = $0.remove(fd) }
        }
        thread.name = "transport-receive"
        thread.start()
    }

    private func readFrames(_ socket: Socket) throws {
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        var filled = 0
        var greeted = false
        while true {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = try buffer.withUnsafeMutableBytes { raw in
                try socket.read(into: raw.baseAddress! + filled, count: raw.count - filled)
            }
            if n == 0 { return }
            filled += n
            // Hand over every complete frame in the buffer, then keep the partial one.
            var start = 0
            while filled - start >= Frames.headerSize {
                let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: UInt32.self))) }
                guard length <= maxFrameBytes else {
                    throw TransportError("frame of \(length) bytes is over the limit of \(maxFrameBytes)")
                }
                let end = start + Frames.headerSize + length
                if end > buffer.count {
                    buffer.append(contentsOf: repeatElement(0, count: end - buffer.count))
                }
                guard end <= filled else { break }
                if greeted {
                    buffer.withUnsafeBytes { onFrame(UnsafeRawBufferPointer(rebasing: $0[(start + Frames.headerSize)..<end])) }
                } else {
                    let hello = String(decoding: buffer[(start + Frames.headerSize)..<end], as: UTF8.self)
                    guard hello == Frames.helloPrefix + name else {
                        throw TransportError("unexpected hello \(hello.prefix(80).debugDescription), expected topology \(name)")
                    }
                    greeted = true
                }
                start = end
            }
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: filled - start)
                }
                filled -= start
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
