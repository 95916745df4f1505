import Foundation
import Locking
import Logging
import Runtime
import StormThrift
import Synchronization
import Transport

/// Where a worker's peers are: for each task run elsewhere, the peer worker's endpoint.
public struct PeerRoutes: Equatable, Sendable {
    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public let host: String
        public let port: Int
        public var description: String { "\(host):\(port)" }
    }

    public var endpointOfTask: [Int32: Endpoint] = [:]

    public init() {}

    /// The tasks of every executor an assignment places outside this worker's slot.
    public init(assignment: Assignment, node: String, port: Int) {
        for (executor, slot) in assignment.executorNodePort ?? [:] where executor.count == 2 {
            guard let slotPort = slot.port.first, !(slot.node == node && Int(slotPort) == port) else { continue }
            let host = assignment.nodeHost?[slot.node] ?? slot.node
            let endpoint = Endpoint(host: host, port: Int(slotPort))
            for task in executor[0]...executor[1] { endpointOfTask[Int32(task)] = endpoint }
        }
    }

    public var endpoints: Set<Endpoint> { Set(endpointOfTask.values) }
}

/// Moves tuples for remote tasks to their workers. Executors hand over batches (a bounded queue, so a stalled
/// network pushes back on them); one transfer thread encodes everything waiting into one frame per peer and
/// queues it with that peer's sender. Under load a frame carries many batches; when idle each batch leaves as
/// soon as it arrives.
public final class WorkerTransfer: TupleTransfer, Sendable {
    let name: String
    let secret: LinkSecret?
    let tls: LinkTLS?
    let logger: Logger
    private let queue = BatchQueue<Delivery>(capacity: 64)
    private let pendingRoutes = Locked<PeerRoutes?>(nil)
    private let senders = Locked<[PeerRoutes.Endpoint: PeerSender]>([:])
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    /// A frame is shipped once it grows past this, even mid-round.
    static let frameLimit = 1 << 20

    /// - Parameters:
    ///   - name: the topology id (peers check it in the hello).
    ///   - secret: the topology's secret, when its links are authenticated.
    ///   - tls: the links' TLS, when they are encrypted.
    public init(name: String, secret: LinkSecret? = nil, tls: LinkTLS? = nil, routes: PeerRoutes, logger: Logger) {
        self.name = name
        self.secret = secret
        self.tls = tls
        self.logger = logger
        update(routes)
    }

    /// Starts the thread that encodes and sends.
    public func start() {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "worker-transfer"
        thread.start()
    }

    public func transfer(_ batch: [Delivery]) {
        waitWhileCongested(batch)
        queue.put(batch)
    }

    /// What peers asked of this worker: executors waiting on a congested task are woken by every status.
    private let congestion = LockedCondition(Congestion())

    struct Congestion {
        /// Tasks of peers that asked not to be sent to, with when that request lapses (see `BackpressureFrame`).
        var until: [Int32: UInt64] = [:]
        /// Where the latest status naming each congested task came from (for the log line of a lasting congestion).
        var source: [Int32: String] = [:]
        var closed = false
    }

    /// Takes a backpressure status from the connection at `remote`.
    public func apply(_ status: BackpressureStatus, from remote: String = "?") {
        let until = DispatchTime.now().uptimeNanoseconds + BackpressureFrame.expiryNanos
        congestion.withLockBroadcasting { c in
            for task in status.congested {
                c.until[task] = until
                c.source[task] = remote
            }
            for task in status.clear {
                c.until[task] = nil
                c.source[task] = nil
            }
        }
    }

    /// Tasks of peers that are congested now.
    public var congestedTasks: Set<Int32> { Set(congestedNow(DispatchTime.now().uptimeNanoseconds).keys) }

    /// Tasks of peers congested at `now`, each with where its latest status came from.
    private func congestedNow(_ now: UInt64) -> [Int32: String] {
        congestion.withLock { c in
            var out: [Int32: String] = [:]
            for (task, until) in c.until where until > now { out[task] = c.source[task] ?? "?" }
            return out
        }
    }

    /// The peers this worker sends to.
    var peerEndpoints: [PeerRoutes.Endpoint] { senders.withLock { Array($0.keys) } }

    /// Holds the calling executor while the batch has a tuple for a congested task: the executor waits, as on a
    /// full local queue, and the connection stays free for everything else.
    private func waitWhileCongested(_ batch: [Delivery]) {
        congestion.wait { c in
            guard !c.until.isEmpty && !c.closed else { return nil }
            let now = DispatchTime.now().uptimeNanoseconds
            for d in batch {
                guard let until = c.until[d.task] else { continue }
                if until > now { return Date().addingTimeInterval(Double(until - now) / 1e9) }
                c.until[d.task] = nil
            }
            return nil
        }
    }

    /// Queues a sealed frame for every peer (a backpressure status).
    func broadcast(_ frame: [UInt8]) {
        for sender in senders.withLock({ Array($0.values) }) { sender.send(frame) }
    }

    /// Points tasks at new peers (a rebalance or a reassignment moved them). Connections to peers still in use
    /// are kept; new ones are opened now, so they are ready when tuples come.
    public func update(_ routes: PeerRoutes) {
        let wanted = routes.endpoints
        var closing: [PeerSender] = []
        senders.withLock { current in
            for endpoint in wanted where current[endpoint] == nil {
                current[endpoint] = PeerSender(
                    host: endpoint.host, port: endpoint.port, name: name, secret: secret, tls: tls, logger: logger)
            }
            for (endpoint, sender) in current where !wanted.contains(endpoint) {
                closing.append(sender)
                current[endpoint] = nil
            }
        }
        pendingRoutes.withLock { $0 = routes }
        for sender in closing { sender.close(flushTimeout: 0.5) }
    }

    /// Peers this worker sends to, and how many of them it is connected to now.
    public var peerConnections: (peers: Int, connected: Int) {
        senders.withLock { ($0.count, $0.values.filter(\.isConnected).count) }
    }

    /// True once every peer has been connected to.
    public var allConnected: Bool { senders.withLock { $0.values.allSatisfy(\.isConnected) } }

    /// Sends what is queued, then closes every connection.
    public func close() {
        congestion.withLockBroadcasting { $0.closed = true }
        queue.close()
        if started.load(ordering: .acquiring) { finished.wait() }
        let all = senders.withLock { s -> [PeerSender] in
            defer { s = [:] }
            return Array(s.values)
        }
        for sender in all { sender.close() }
    }

    /// One peer's frame being filled this round.
    struct Outgoing {
        let sender: PeerSender
        var bytes: [UInt8] = []
        var countAt = 0
        var count = 0
    }

    /// Logs peers' congestions that last (see `LastingCongestion`): the executors held for them wait silently.
    private func logLastingCongestion(
        _ lasting: inout LastingCongestion, endpointOfTask: [Int32: PeerRoutes.Endpoint], now: UInt64
    ) {
        let congested = congestedNow(now)
        for report in lasting.update(congested: Set(congested.keys), now: now) {
            let task = "task \(report.task) of peer \(endpointOfTask[report.task]?.description ?? "(none known here)")"
            if report.ended {
                // Cleared by its peer, or no longer refreshed (see `BackpressureFrame.expiryNanos`).
                logger.info("backpressure: tuples for \(task) flow again after \(report.seconds) s")
            } else {
                logger.warning(
                    "backpressure: \(task) has been congested for \(report.seconds) s (status from \(congested[report.task] ?? "?")); tuples for it are held"
                )
            }
        }
    }

    private func run() {
        // Arrays by task id and by peer, not dictionaries: they are read for every tuple.
        var peerOfTask: [Int] = []
        var outgoing: [Outgoing] = []
        var lost = 0
        var endpointOfTask: [Int32: PeerRoutes.Endpoint] = [:]
        var lasting = LastingCongestion()
        var lastCongestionLook: UInt64 = 0
        func ship(_ i: Int) {
            guard outgoing[i].count > 0 else { return }
            TupleBatchCodec.finish(count: outgoing[i].count, at: outgoing[i].countAt, in: &outgoing[i].bytes)
            Frames.seal(&outgoing[i].bytes)
            outgoing[i].sender.send(outgoing[i].bytes)
            outgoing[i].bytes = []
            outgoing[i].count = 0
        }
        while true {
            let batches = queue.takeAll(timeoutMillis: 100)
            let now = DispatchTime.now().uptimeNanoseconds
            if now - lastCongestionLook >= 1_000_000_000 {
                lastCongestionLook = now
                logLastingCongestion(&lasting, endpointOfTask: endpointOfTask, now: now)
            }
            if let routes = pendingRoutes.withLock({ r -> PeerRoutes? in
                defer { r = nil }
                return r
            }) {
                endpointOfTask = routes.endpointOfTask
                let current = senders.withLock { $0 }
                let endpoints = Array(routes.endpoints)
                outgoing = endpoints.compactMap { current[$0].map { Outgoing(sender: $0) } }
                let index = Dictionary(
                    uniqueKeysWithValues: outgoing.enumerated().map { (ObjectIdentifier($1.sender), $0) })
                peerOfTask = Array(repeating: -1, count: Int(routes.endpointOfTask.keys.max() ?? 0) + 1)
                for (task, endpoint) in routes.endpointOfTask {
                    if let sender = current[endpoint], let i = index[ObjectIdentifier(sender)] {
                        peerOfTask[Int(task)] = i
                    }
                }
            }
            if batches.isEmpty {
                if queue.isClosed { break }
                continue
            }
            for batch in batches {
                for d in batch {
                    let t = Int(d.task)
                    let i = t < peerOfTask.count ? peerOfTask[t] : -1
                    guard i >= 0 else {
                        // Only the first is logged: a moved task drops every tuple until the new routes arrive.
                        if lost == 0 {
                            logger.warning(
                                "dropped a tuple for task \(t), which no worker runs (later ones are not logged)")
                        }
                        lost += 1
                        continue
                    }
                    if outgoing[i].count == 0 {
                        outgoing[i].bytes.reserveCapacity(64 << 10)
                        Frames.begin(into: &outgoing[i].bytes)
                        outgoing[i].countAt = TupleBatchCodec.begin(into: &outgoing[i].bytes)
                    }
                    TupleBatchCodec.append(d, into: &outgoing[i].bytes)
                    outgoing[i].count += 1
                    if outgoing[i].bytes.count >= Self.frameLimit { ship(i) }
                }
            }
            for i in outgoing.indices { ship(i) }
        }
    }
}
