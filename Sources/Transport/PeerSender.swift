#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// Sends frames to one peer worker from a thread of its own, so a slow or dead peer never stalls the others.
///
/// Frames wait in a queue bounded by bytes. While connected, a full queue makes `send` wait (backpressure).
/// While the peer is unreachable the sender keeps reconnecting and keeps the newest frames, dropping the
/// oldest beyond the bound: without acking a tuple to a dead worker is lost anyway, and the bound keeps the
/// sender's memory fixed while a peer restarts or moves.
public final class PeerSender: @unchecked Sendable {
    public let host: String
    public let port: Int
    let name: String
    let maxQueuedBytes: Int
    let logger: Logger

    private var mutex = pthread_mutex_t()
    private var changed = pthread_cond_t()
    private var queue: [[UInt8]] = []
    private var queuedBytes = 0
    private var closing = false
    private var connected = false
    private var everConnected = false
    private var droppedFrames = 0
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter name: the hello's name (the topology id).
    public init(host: String, port: Int, name: String, maxQueuedBytes: Int = 8 << 20, logger: Logger) {
        self.host = host
        self.port = port
        self.name = name
        self.maxQueuedBytes = maxQueuedBytes
        self.logger = logger
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&changed, nil)
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "transport-send-\(port)"
        thread.start()
    }

    deinit {
        pthread_cond_destroy(&changed)
        pthread_mutex_destroy(&mutex)
    }

    public var isConnected: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return connected
    }

    /// Frames dropped because the peer could not be reached.
    public var dropped: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return droppedFrames
    }

    /// Queues a sealed frame (see `Frames`).
    public func send(_ frame: [UInt8]) {
        pthread_mutex_lock(&mutex)
        while connected && queuedBytes + frame.count > maxQueuedBytes && !queue.isEmpty && !closing {
            pthread_cond_wait(&changed, &mutex)
        }
        if !closing {
            queue.append(frame)
            queuedBytes += frame.count
            if !connected { dropOldestBeyondBound() }
            pthread_cond_broadcast(&changed)
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Called with the lock held.
    private func dropOldestBeyondBound() {
        var drop = 0
        while queuedBytes > maxQueuedBytes && drop < queue.count - 1 {
            queuedBytes -= queue[drop].count
            drop += 1
        }
        if drop > 0 {
            queue.removeFirst(drop)
            droppedFrames += drop
        }
    }

    /// Sends what is queued (for up to `flushTimeout` seconds), then closes the connection.
    public func close(flushTimeout: TimeInterval = 2) {
        pthread_mutex_lock(&mutex)
        closing = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        if finished.wait(timeout: .now() + flushTimeout) == .timedOut {
            logger.warning("peer \(host):\(port) did not take the last frames within \(flushTimeout) s")
        }
    }

    private func run() {
        var socket: Socket?
        var backoffMillis: UInt32 = 50
        while true {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty && !closing && socket != nil { pthread_cond_wait(&changed, &mutex) }
            let frames = queue
            let isClosing = closing
            queue = []
            pthread_mutex_unlock(&mutex)
            if isClosing && frames.isEmpty { break }

            if socket == nil {
                do {
                    let s = try Socket.connect(host: host, port: port, timeoutMillis: 1000)
                    let hello = Frames.hello(name)
                    try s.writeAll(hello)
                    socket = s
                    backoffMillis = 50
                    setConnected(true, frames: frames)
                } catch {
                    // Keep the frames (newest first within the bound) and try again shortly.
                    requeue(frames)
                    if isClosing { break }
                    usleep(backoffMillis * 1000)
                    backoffMillis = min(backoffMillis * 2, 1000)
                    continue
                }
            }
            do {
                for frame in frames {
                    try socket!.writeAll(frame)
                }
                pthread_mutex_lock(&mutex)
                queuedBytes -= frames.reduce(0) { $0 + $1.count }
                pthread_cond_broadcast(&changed)
                pthread_mutex_unlock(&mutex)
            } catch {
                logger.warning("lost the connection to peer \(host):\(port) (\(error)); reconnecting")
                socket = nil
                pthread_mutex_lock(&mutex)
                queuedBytes -= frames.reduce(0) { $0 + $1.count }
                droppedFrames += frames.count
                connected = false
                pthread_cond_broadcast(&changed)
                pthread_mutex_unlock(&mutex)
            }
        }
        pthread_mutex_lock(&mutex)
        let left = queue.count
        pthread_mutex_unlock(&mutex)
        if left > 0 { logger.warning("closing the connection to \(host):\(port) with \(left) frames unsent") }
    }

    private func setConnected(_ on: Bool, frames: [[UInt8]]) {
        pthread_mutex_lock(&mutex)
        let first = !everConnected
        connected = on
        everConnected = true
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
        logger.info("\(first ? "connected" : "reconnected") to peer \(host):\(port)")
    }

    private func requeue(_ frames: [[UInt8]]) {
        guard !frames.isEmpty else { return }
        pthread_mutex_lock(&mutex)
        queue.insert(contentsOf: frames, at: 0)
        dropOldestBeyondBound()
        pthread_cond_broadcast(&changed)
        pthread_mutex_unlock(&mutex)
    }
}
