import Components
import Groupings
import Logging
import StormCore
import Tuples

/// A task's collector: routes each emitted tuple to its subscribers' tasks and buffers it in an outbox per
/// destination executor, which goes out as one batch. Used only from the task's executor thread.
final class TaskCollector: SpoutOutputCollector, OutputCollector, @unchecked Sendable {
    unowned let runtime: TopologyRuntime
    /// The runtime's task-to-outbox table, copied: reading it through the unowned reference would cost a
    /// reference count check per tuple.
    let executorOfTask: [Int]
    let taskId: Int32
    let componentId: String
    /// Subscriptions per stream: the index into `routes` by stream id, looked up once per tuple; the routers
    /// are then mutated in place (a copy out of a dictionary would copy the array on every tuple).
    let streamIndex: [String: Int]
    // Only the task's executor thread touches the mutable state below, so the per-access exclusivity checks
    // are skipped (they showed as a tenth of the tuple path in profiles).
    @exclusivity(unchecked) var routes: [[Route]]
    /// The streams this component declares.
    let streams: [String: TupleStream]
    /// The stream of each entry in `routes`, by the same index.
    let routeStreams: [TupleStream]
    /// The default stream's index in `routes`, if it has subscribers: most tuples go there, and comparing a
    /// short string is cheaper than hashing it.
    let defaultIndex: Int?
    /// The default stream's number when it is declared but has no subscribers (counted, not sent).
    let defaultUnsubscribedId: Int?
    /// The task's spout, when it is one: acked directly while tuples are not tracked. Not weak: a weak
    /// reference gives the spout a side table, which puts every retain of it on the slow path; the runtime's
    /// task owns the spout for as long as this collector lives.
    unowned(unsafe) var spout: (any Spout)?
    @exclusivity(unchecked) var outboxes: [[Delivery]]
    @exclusivity(unchecked) var pending = 0
    /// Tuples this task has emitted (all time); executors read it to count.
    @exclusivity(unchecked) private(set) var emittedCount = 0
    /// Tuples emitted per stream, by the stream's number in the topology's table.
    @exclusivity(unchecked) private(set) var streamEmitted: [Int64]
    /// Tuples this task acked and failed (a bolt: by input stream; a spout: trees, by the stream of their root).
    @exclusivity(unchecked) private(set) var ackedByStream: [Int64]
    @exclusivity(unchecked) private(set) var failedByStream: [Int64]

    // MARK: guaranteed processing
    /// Where acking messages go, when the topology has ackers.
    let acking: AckRoutes?
    @exclusivity(unchecked) var edges = EdgeIds()
    @exclusivity(unchecked) var anchorBook = AnchorBook()
    /// How the tuples of the emit in progress are tracked: each copy gets its own edge.
    @exclusivity(unchecked) private var anchoring: Anchoring = .none
    /// The root of the spout tuple being emitted, and the XOR of the edges its copies got.
    @exclusivity(unchecked) private var spoutRoot: UInt64 = 0
    @exclusivity(unchecked) private var initValue: UInt64 = 0
    /// A spout task's trees not yet complete, by root.
    @exclusivity(unchecked) var pendingTrees: [UInt64: PendingTree] = [:]
    /// A spout task's completed trees: sum of latencies per stream, and their spread.
    @exclusivity(unchecked) private(set) var completeNanosByStream: [UInt64]
    @exclusivity(unchecked) private(set) var completeLatency = LatencyHistogram()
    @exclusivity(unchecked) private(set) var timedOut: Int64 = 0
    @exclusivity(unchecked) private(set) var failedByBolts: Int64 = 0
    /// The most trees this spout task has had in flight at once.
    @exclusivity(unchecked) private(set) var mostPendingTrees = 0

    /// The task ids of the last emit. Reused: once the caller drops the array it returns, the storage is unique
    /// again and the next emit fills it without allocating.
    @exclusivity(unchecked) private var chosen: [Int32] = []

    init(
        runtime: TopologyRuntime, taskId: Int32, componentId: String, routes: [String: [Route]], streams: [String: TupleStream],
        streamCount: Int, outboxCount: Int
    ) {
        streamEmitted = Array(repeating: 0, count: streamCount)
        ackedByStream = Array(repeating: 0, count: streamCount)
        failedByStream = Array(repeating: 0, count: streamCount)
        completeNanosByStream = Array(repeating: 0, count: streamCount)
        self.runtime = runtime
        executorOfTask = runtime.executorOfTask
        self.taskId = taskId
        self.componentId = componentId
        var index: [String: Int] = [:]
        var table: [[Route]] = []
        for (stream, list) in routes {
            index[stream] = table.count
            table.append(list)
        }
        streamIndex = index
        self.routes = table
        self.streams = streams
        routeStreams = index.sorted { $0.value < $1.value }.map {
            streams[$0.key] ?? TupleStream(component: componentId, stream: $0.key, fields: Fields([]))
        }
        defaultIndex = index[defaultStream]
        defaultUnsubscribedId = index[defaultStream] == nil ? streams[defaultStream].map { Int($0.id) } : nil
        outboxes = Array(repeating: [], count: outboxCount)
        acking = AckRoutes(
            initRoute: index[SystemTopology.ackInitStream], ackRoute: index[SystemTopology.ackAckStream],
            failRoute: index[SystemTopology.ackFailStream])
    }

    private func send(_ values: [Value], stream: String, direct: Int32?) -> [Int32] {
        let index = stream == defaultStream ? defaultIndex : streamIndex[stream]
        guard let s = index else {
            emittedCount += 1
            if stream == defaultStream, let id = defaultUnsubscribedId {
                streamEmitted[id] &+= 1
                return []
            }
            if let declared = streams[stream] { streamEmitted[Int(declared.id)] += 1 }
            if streams[stream] == nil { reportError(RuntimeError(description: "\(componentId) emitted on undeclared stream '\(stream)'")) }
            return []
        }
        return send(values, route: s, direct: direct)
    }

    private func send(_ values: [Value], route s: Int, direct: Int32?) -> [Int32] {
        let stream = routeStreams[s]
        // The system's own streams (acking) are counted per stream but are not the component's output.
        if !stream.isSystem { emittedCount += 1 }
        if stream.id >= 0 { streamEmitted[Int(stream.id)] &+= 1 }
        chosen.removeAll(keepingCapacity: true)
        // One subscriber choosing one task is the common case: the tuple is built in place in the outbox, with
        // no copy to retain and release.
        if direct == nil && routes[s].count == 1 && !routes[s][0].router.isDirect {
            do {
                if case .one(let t) = try routes[s][0].router.route(values, from: taskId) {
                    enqueue(t, values, stream)
                    return chosen
                }
            } catch {
                reportError(error)
                return chosen
            }
        }
        for i in routes[s].indices {
            do {
                let targets: Targets
                if let direct {
                    guard routes[s][i].router.isDirect else { continue }
                    targets = try routes[s][i].router.direct(direct)
                } else {
                    if routes[s][i].router.isDirect { continue }
                    targets = try routes[s][i].router.route(values, from: taskId)
                }
                switch targets {
                case .one(let t): enqueue(t, values, stream)
                case .many(let ts): for t in ts { enqueue(t, values, stream) }
                case .all: for t in routes[s][i].router.tasks { enqueue(t, values, stream) }
                }
            } catch {
                reportError(error)
            }
        }
        return chosen
    }

    /// The tree ids of the next copy of the tuple being emitted: untracked, or with a new edge of its own.
    @inline(__always)
    private func nextIds() -> TreeIds {
        switch anchoring {
        case .none:
            return .none
        case .spout:
            let edge = edges.next()
            initValue ^= edge
            return TreeIds(root: spoutRoot, edge: edge)
        case .one(let anchor):
            let edge = edges.next()
            anchorBook.produced(edge, anchoredTo: anchor)
            return anchor.withEdge(edge)
        case .many(let anchors):
            return anchorBook.anchor(to: anchors, edges: &edges)
        }
    }

    @inline(__always)
    private func enqueue(_ task: Int32, _ values: [Value], _ stream: TupleStream) {
        let executor = executorOfTask[Int(task)]
        guard executor >= 0 else { return }
        outboxes[executor].append(Delivery(task: task, tuple: Tuple(values: values, stream: stream, sourceTask: taskId, ids: nextIds())))
        chosen.append(task)
        pending += 1
        if outboxes[executor].count >= TopologyRuntime.batchSize { ship(executor) }
    }

    private func ship(_ executor: Int) {
        let batch = outboxes[executor]
        outboxes[executor] = []
        outboxes[executor].reserveCapacity(TopologyRuntime.batchSize)
        pending -= batch.count
        runtime.deliver(batch, toExecutor: executor)
    }

    /// Sends what the outboxes hold (`onlyFull`: only outboxes that have reached a batch).
    func flush(onlyFull: Bool = false) {
        guard pending > 0 else { return }
        for i in outboxes.indices where !outboxes[i].isEmpty && (!onlyFull || outboxes[i].count >= TopologyRuntime.batchSize) {
            ship(i)
        }
    }

    // MARK: SpoutOutputCollector

    func emit(_ values: [Value], stream: String, messageId: Value?) -> [Int32] {
        sendTracked(values, stream: stream, direct: nil, messageId: messageId)
    }

    func emitDirect(task: Int32, _ values: [Value], stream: String, messageId: Value?) {
        _ = sendTracked(values, stream: stream, direct: task, messageId: messageId)
    }

    /// A spout's emit: with a message id and ackers, the tuple's copies start a new tree.
    private func sendTracked(_ values: [Value], stream: String, direct: Int32?, messageId: Value?) -> [Int32] {
        guard let messageId else { return send(values, stream: stream, direct: direct) }
        guard let initRoute = acking?.initRoute else {
            let chosen = send(values, stream: stream, direct: direct)
            // Without ackers a tuple counts as done once emitted, as in Storm with topology.acker.executors 0.
            spout?.ack(messageId)
            return chosen
        }
        spoutRoot = edges.next()
        initValue = 0
        let chosen = send(values, stream: stream, direct: direct, anchoring: .spout)
        endTree(messageId, stream: stream, initRoute: initRoute)
        return chosen
    }

    /// Sends with the copies tracked as `mode` says.
    private func send(_ values: [Value], stream: String, direct: Int32?, anchoring mode: Anchoring) -> [Int32] {
        anchoring = mode
        defer { anchoring = .none }
        return send(values, stream: stream, direct: direct)
    }

    /// Tells the root's acker the XOR of the edges the tree starts with (0 when the tuple went nowhere: the
    /// acker then completes it at once, as Storm's does) and keeps the message id until the acker answers.
    private func endTree(_ messageId: Value, stream: String, initRoute: Int) {
        let id = streams[stream]?.id ?? -1
        pendingTrees[spoutRoot] = PendingTree(messageId: messageId, started: TopologyRuntime.monotonicNanos(), stream: id)
        if pendingTrees.count > mostPendingTrees { mostPendingTrees = pendingTrees.count }
        _ = send(
            [.int(Int64(bitPattern: spoutRoot)), .int(Int64(bitPattern: initValue)), .int(Int64(taskId))],
            route: initRoute, direct: nil)
    }

    /// An acker's answer for one of this spout task's trees: the spout's ack or fail with its message id.
    /// Returns true when the tree failed.
    @discardableResult
    func settleTree(_ answer: Tuple, now: UInt64) -> Bool {
        guard let spout, let root = answer.values.first?.intValue,
            let tree = pendingTrees.removeValue(forKey: UInt64(bitPattern: root))
        else { return false }  // timed out already
        let stream = Int(tree.stream)
        if answer.stream.stream == SystemTopology.ackAckStream {
            let latency = now &- tree.started
            completeLatency.record(nanos: latency)
            if stream >= 0 {
                ackedByStream[stream] &+= 1
                completeNanosByStream[stream] &+= latency
            }
            spout.ack(tree.messageId)
            return false
        } else {
            failedByBolts += 1
            if stream >= 0 { failedByStream[stream] &+= 1 }
            runtime.logger.debug("\(componentId):\(taskId): message \(tree.messageId) failed: a bolt failed a tuple of its tree")
            spout.fail(tree.messageId)
            return true
        }
    }

    /// Fails the trees older than `timeoutNanos` (topology.message.timeout.secs); returns how many.
    func expireTrees(now: UInt64, timeoutNanos: UInt64) -> Int {
        guard let spout, !pendingTrees.isEmpty else { return 0 }
        var expired: [(UInt64, PendingTree)] = []
        for (root, tree) in pendingTrees where now &- tree.started > timeoutNanos { expired.append((root, tree)) }
        // Oldest first, so a spout that replays what fails replays in order.
        expired.sort { $0.1.started < $1.1.started }
        for (root, tree) in expired {
            pendingTrees[root] = nil
            timedOut += 1
            if tree.stream >= 0 { failedByStream[Int(tree.stream)] &+= 1 }
            runtime.logger.debug("\(componentId):\(taskId): message \(tree.messageId) failed: timed out")
            spout.fail(tree.messageId)
        }
        return expired.count
    }

    // MARK: OutputCollector

    func emit(_ values: [Value], stream: String, anchors: [Tuple]) -> [Int32] {
        sendAnchored(values, stream: stream, direct: nil, anchors: anchors)
    }

    func emit(_ values: [Value], stream: String, anchor: Tuple) -> [Int32] {
        guard acking != nil, anchor.ids.isTracked else { return send(values, stream: stream, direct: nil) }
        return send(values, stream: stream, direct: nil, anchoring: .one(anchor.ids))
    }

    func emitDirect(task: Int32, _ values: [Value], stream: String, anchors: [Tuple]) {
        _ = sendAnchored(values, stream: stream, direct: task, anchors: anchors)
    }

    private func sendAnchored(_ values: [Value], stream: String, direct: Int32?, anchors: [Tuple]) -> [Int32] {
        guard acking != nil, anchors.contains(where: { $0.ids.isTracked }) else { return send(values, stream: stream, direct: direct) }
        return send(values, stream: stream, direct: direct, anchoring: anchors.count == 1 ? .one(anchors[0].ids) : .many(anchors.map(\.ids)))
    }

    func ack(_ tuple: Tuple) {
        if tuple.stream.id >= 0 { ackedByStream[Int(tuple.stream.id)] &+= 1 }
        guard tuple.ids.isTracked, let route = acking?.ackRoute else { return }
        anchorBook.settle(tuple.ids) { root, value in
            _ = send([.int(Int64(bitPattern: root)), .int(Int64(bitPattern: value))], route: route, direct: nil)
        }
    }

    func fail(_ tuple: Tuple) {
        if tuple.stream.id >= 0 { failedByStream[Int(tuple.stream.id)] &+= 1 }
        guard tuple.ids.isTracked, let route = acking?.failRoute else { return }
        _ = anchorBook.take(tuple.ids)
        tuple.ids.forEach { root, _ in _ = send([.int(Int64(bitPattern: root))], route: route, direct: nil) }
    }

    func reportError(_ error: any Error) {
        runtime.logger.error("\(componentId):\(taskId): \(error)")
        runtime.hooks.errorSink?(componentId, taskId, "\(error)")
    }

    func reportFatal(_ error: any Error) {
        reportError(error)
        runtime.hooks.onFatal?(componentId, taskId, "\(error)")
    }
}

/// The routes (indices into a collector's `routes`) of the acking streams this task emits on; nil entries for
/// streams it does not have (a spout only inits, a bolt only acks and fails).
struct AckRoutes {
    let initRoute: Int?
    let ackRoute: Int?
    let failRoute: Int?

    init?(initRoute: Int?, ackRoute: Int?, failRoute: Int?) {
        guard initRoute != nil || ackRoute != nil || failRoute != nil else { return nil }
        self.initRoute = initRoute
        self.ackRoute = ackRoute
        self.failRoute = failRoute
    }
}

/// How the copies of the tuple being emitted are tracked.
enum Anchoring {
    case none
    /// A spout tuple with a message id: each copy a new edge of the spout's new tree.
    case spout
    /// Anchored to one input: each copy a new edge in that input's trees.
    case one(TreeIds)
    /// Anchored to several inputs: a new edge per input, joining their trees.
    case many([TreeIds])
}

/// A spout tuple whose tree is not complete yet.
struct PendingTree {
    let messageId: Value
    let started: UInt64
    /// The stream of the spout's tuple, by number (its acks and fails are counted there).
    let stream: Int32
}
