import Foundation
import Locking
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Sends frames to one peer worker from a thread of its own, so a slow or dead peer never stalls the others.
///
/// Frames wait in a queue bounded by bytes. While connected, a full queue makes `send` wait (backpressure).
/// While the peer is unreachable the sender keeps reconnecting and keeps the newest frames, dropping the
/// oldest beyond the bound: without acking a tuple to a dead worker is lost anyway, and the bound keeps the
/// sender's memory fixed while a peer restarts or moves.
public final class PeerSender: Sendable {
    public let host: String
    public let port: Int
    let name: String
    let secret: LinkSecret?
    let tls: LinkTLS?
    let maxQueuedBytes: Int
    let logger: Logger
    private let state = LockedCondition(State())
    private let finished = DispatchSemaphore(value: 0)

    struct State {
        var queue: [[UInt8]] = []
        var queuedBytes = 0
        var closing = false
        var connected = false
        var everConnected = false
        var droppedFrames = 0

        /// Keeps the newest frames within `bound` bytes (always the newest one).
        mutating func dropOldest(beyond bound: Int) {
            var drop = 0
            while queuedBytes > bound && drop < queue.count - 1 {
                queuedBytes -= queue[drop].count
                drop += 1
            }
            if drop > 0 {
                queue.removeFirst(drop)
                droppedFrames += drop
            }
        }
    }

    /// - Parameters:
    ///   - name: the hello's name (the topology id).
    ///   - secret: the topology's secret, with which each connection answers the receiver's challenge.
    ///   - tls: when given, each connection starts with a TLS handshake (see `LinkTLS`).
    public init(
        host: String, port: Int, name: String, secret: LinkSecret? = nil, tls: LinkTLS? = nil,
        maxQueuedBytes: Int = 8 << 20,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.name = name
        self.secret = secret
        self.tls = tls
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "transport-send-\(port)"
        thread.start()
    }

    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Frames dropped because the peer could not be reached.
    public var dropped: Int { state.withLock { $0.droppedFrames } }

    /// Queues a sealed frame (see `Frames`).
    public func send(_ frame: [UInt8]) {
        let bound = maxQueuedBytes
        state.wait { s in
            s.connected && s.queuedBytes + frame.count > bound && !s.queue.isEmpty && !s.closing ? .distantFuture : nil
        } thenBroadcasting: { s in
            guard !s.closing else { return }
            s.queue.append(frame)
            s.queuedBytes += frame.count
            if !s.connected { s.dropOldest(beyond: bound) }
        }
    }

    /// Sends what is queued (for up to `flushTimeout` seconds), then closes the connection.
    public func close(flushTimeout: TimeInterval = 2) {
        state.withLockBroadcasting { $0.closing = true }
        if finished.wait(timeout: .now() + flushTimeout) == .timedOut {
            logger.warning("peer \(host):\(port) did not take the last frames within \(flushTimeout) s")
        }
    }

    private func run() {
        var socket: (any FrameStream)?
        var backoffMillis: UInt32 = 50
        while true {
            let connectedNow = socket != nil
            let (frames, isClosing) = state.wait { s in
                s.queue.isEmpty && !s.closing && connectedNow ? .distantFuture : nil
            } thenBroadcasting: { s -> ([[UInt8]], Bool) in
                defer { s.queue = [] }
                return (s.queue, s.closing)
            }
            if isClosing && frames.isEmpty { break }

            if socket == nil {
                do {
                    let connected = try Socket.connect(host: host, port: port, timeoutMillis: 1000)
                    let s: any FrameStream
                    if let tls { s = try tls.connect(connected) } else { s = connected }
                    let hello = Frames.hello(name)
                    try s.writeAll(hello)
                    if let secret {
                        let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
                        let challenge = try s.readFrame(maxBytes: 256, deadline: deadline)
                        try s.writeAll(Frames.frame(secret.proof(challenge: challenge, name: name)))
                    }
                    socket = s
                    backoffMillis = 50
                    setConnected()
                } catch {
                    // Keep the frames (newest first within the bound) and try again shortly.
                    requeue(frames)
                    if isClosing { break }
                    usleep(backoffMillis * 1000)
                    backoffMillis = min(backoffMillis * 2, 1000)
                    continue
                }
            }
            let bytes = frames.reduce(0) { $0 + $1.count }
            do {
                for frame in frames {
                    try socket!.writeAll(frame)
                }
                state.withLockBroadcasting { $0.queuedBytes -= bytes }
            } catch {
                logger.warning("lost the connection to peer \(host):\(port) (\(error)); reconnecting")
                socket = nil
                state.withLockBroadcasting { s in
                    s.queuedBytes -= bytes
                    s.droppedFrames += frames.count
                    s.connected = false
                }
            }
        }
        let left = state.withLock { $0.queue.count }
        if left > 0 { logger.warning("closing the connection to \(host):\(port) with \(left) frames unsent") }
    }

    private func setConnected() {
        let first = state.withLockBroadcasting { s -> Bool in
            defer {
                s.connected = true
                s.everConnected = true
            }
            return !s.everConnected
        }
        logger.info("\(first ? "connected" : "reconnected") to peer \(host):\(port)")
    }

    private func requeue(_ frames: [[UInt8]]) {
        guard !frames.isEmpty else { return }
        let bound = maxQueuedBytes
        state.withLockBroadcasting { s in
            s.queue.insert(contentsOf: frames, at: 0)
            s.dropOldest(beyond: bound)
        }
    }
}
