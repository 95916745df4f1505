import Components
import Foundation
import Groupings
import Logging
import StormCore
import Tuples

/// A task's collector: routes each emitted tuple to its subscribers' tasks and buffers it in an outbox per
/// destination executor, which goes out as one batch; gives each copy its tree ids when the emit is tracked.
/// Lives on its executor's thread: not `Sendable`.
final class TaskCollector: SpoutOutputCollector, OutputCollector {
    let dispatch: TupleDispatch
    /// The dispatch's task-to-outbox table, copied: read for every tuple.
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
    let routeStreams: [StreamReference]
    /// The default stream's index in `routes`, if it has subscribers: most tuples go there, and comparing a
    /// short string is cheaper than hashing it.
    let defaultIndex: Int?
    /// The default stream's number when it is declared but has no subscribers (counted, not sent).
    let defaultUnsubscribedId: Int?
    /// The task's spout, when it is one: acked directly while tuples are not tracked. Not weak: a weak
    /// reference gives the spout a side table, which puts every retain of it on the slow path; the executor
    /// owns the spout for as long as this collector lives.
    unowned(unsafe) var spout: (any Spout)?
    @exclusivity(unchecked) var outboxes: [[Delivery]]
    /// By outbox: the chained executor that runs on this thread and takes that outbox's batches directly.
    @exclusivity(unchecked) var chainedExecutors: [BoltExecutor?]
    @exclusivity(unchecked) var pending = 0
    @exclusivity(unchecked) private(set) var counters: TaskCounters

    // MARK: guaranteed processing
    /// Where acking messages go, when the topology has ackers.
    let acking: AckRoutes?
    @exclusivity(unchecked) var edges = EdgeIds()
    @exclusivity(unchecked) var anchorBook = AnchorBook()
    /// A spout task's trees in flight and done.
    @exclusivity(unchecked) private(set) var trees: SpoutTrees

    /// The last ack's message, not sent yet: the acks that follow for the same tree are merged into it (XOR is
    /// associative, so the acker ends with the same value). A bolt acks the words of one sentence one after
    /// another, so the acker gets a message per sentence instead of one per word. Sent at the next ack of another
    /// tree, the next fail, or the next flush (the end of the executor's batch).
    @exclusivity(unchecked) private var heldAck: (root: UInt64, value: UInt64)?

    /// The task ids of the last emit. Reused: once the caller drops the array it returns, the storage is unique
    /// again and the next emit fills it without allocating.
    @exclusivity(unchecked) private var chosen: [Int32] = []
    /// How many of `chosen` the emit under way has filled: entries are overwritten in place, not removed and
    /// appended again (`removeAll(keepingCapacity:)` cost 2% of a word count's instructions).
    @exclusivity(unchecked) private var chosenCount = 0

    /// `debug`'s sampling: the route of the `__eventlog` stream when the topology has an event logger.
    let eventLogRoute: Int?
    let sampling: DebugSampling
    @exclusivity(unchecked) private var chooser: SampleChooser

    init(
        dispatch: TupleDispatch, taskId: Int32, componentId: String, routes: [String: [Route]],
        streams: [String: TupleStream], sampling: DebugSampling = DebugSampling()
    ) {
        let streamCount = dispatch.streamCount
        counters = TaskCounters(streamCount: streamCount)
        trees = SpoutTrees(streamCount: streamCount)
        self.dispatch = dispatch
        executorOfTask = dispatch.executorOfTask
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
            StreamReference(streams[$0.key] ?? TupleStream(component: componentId, stream: $0.key, fields: Fields([])))
        }
        defaultIndex = index[defaultStream]
        defaultUnsubscribedId = index[defaultStream] == nil ? streams[defaultStream].map { Int($0.id) } : nil
        outboxes = Array(repeating: [], count: dispatch.outboxCount)
        chainedExecutors = Array(repeating: nil, count: dispatch.outboxCount)
        acking = AckRoutes(
            initRoute: index[SystemTopology.ackInitStream], ackRoute: index[SystemTopology.ackAckStream],
            failRoute: index[SystemTopology.ackFailStream])
        eventLogRoute = index[SystemTopology.eventLogStream]
        self.sampling = sampling
        chooser = SampleChooser()
    }

    /// Sends a copy of an emitted tuple to the event logger, at the sampling percentage `debug` set: Storm's
    /// `[component-id, message-id, ts, values]`, untracked.
    @inline(__always)
    private func sample(_ values: TupleValues, messageId: Value?) {
        guard let route = eventLogRoute else { return }
        let percent = sampling.percent
        guard percent > 0, chooser.nextPercent() < percent else { return }
        let millis = Int64(Date().timeIntervalSince1970 * 1000)
        var unused: UInt64 = 0
        _ = send(
            [.string(componentId), messageId ?? .null, .int(millis), .list(Array(values))], route: route, direct: nil,
            anchoring: .none, spoutEdges: &unused)
    }

    // MARK: routing

    private func send(_ values: TupleValues, stream: String, direct: Int32?, anchoring: Anchoring = .none) -> [Int32] {
        var spoutEdges: UInt64 = 0
        return send(values, stream: stream, direct: direct, anchoring: anchoring, spoutEdges: &spoutEdges)
    }

    private func send(
        _ values: TupleValues, stream: String, direct: Int32?, anchoring: Anchoring, spoutEdges: inout UInt64
    ) -> [Int32] {
        let index = stream == defaultStream ? defaultIndex : streamIndex[stream]
        guard let s = index else {
            counters.emitted += 1
            if stream == defaultStream, let id = defaultUnsubscribedId {
                counters.emittedByStream[id] &+= 1
                return []
            }
            if let declared = streams[stream] { counters.emittedByStream[Int(declared.id)] += 1 }
            if streams[stream] == nil {
                reportError(RuntimeError(description: "\(componentId) emitted on undeclared stream '\(stream)'"))
            }
            return []
        }
        return send(values, route: s, direct: direct, anchoring: anchoring, spoutEdges: &spoutEdges)
    }

    /// An acking message (init, ack or fail) to the acker its route chooses: never tracked itself.
    private func sendAcking(_ values: TupleValues, route: Int) {
        var unused: UInt64 = 0
        _ = send(values, route: route, direct: nil, anchoring: .none, spoutEdges: &unused)
    }

    /// Sends one tuple on the stream of route `s`, each copy tracked as `anchoring` says; a spout's tracked copies
    /// XOR their edges into `spoutEdges`, which the tree's acker must be told.
    private func send(
        _ values: TupleValues, route s: Int, direct: Int32?, anchoring: Anchoring, spoutEdges: inout UInt64
    ) -> [Int32] {
        let stream = routeStreams[s].stream
        // The system's own streams (acking) are counted per stream but are not the component's output.
        if !stream.isSystem { counters.emitted += 1 }
        if stream.id >= 0 { counters.emittedByStream[Int(stream.id)] &+= 1 }
        chosenCount = 0
        // One subscriber choosing one task is the common case: the tuple is built in place in the outbox, with
        // no copy to retain and release.
        if direct == nil && routes[s].count == 1 && !routes[s][0].router.isDirect {
            do {
                if case .one(let t) = try routes[s][0].router.route(values, from: taskId) {
                    enqueue(t, values, stream, anchoring, &spoutEdges)
                    return sent(stream)
                }
            } catch {
                reportError(error)
                return sent(stream)
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
                case .one(let t): enqueue(t, values, stream, anchoring, &spoutEdges)
                case .many(let ts): for t in ts { enqueue(t, values, stream, anchoring, &spoutEdges) }
                case .all: for t in routes[s][i].router.tasks { enqueue(t, values, stream, anchoring, &spoutEdges) }
                }
            } catch {
                reportError(error)
            }
        }
        return sent(stream)
    }

    /// The number of this task's stream `stream` (-1 when undeclared), without a dictionary lookup for the
    /// default stream.
    private func streamId(_ stream: String) -> Int32 {
        if stream == defaultStream, let i = defaultIndex { return routeStreams[i].stream.id }
        return streams[stream]?.id ?? -1
    }

    /// The tasks the tuple just routed on `stream` went to, counted as transferred: one per copy.
    @inline(__always)
    private func sent(_ stream: TupleStream) -> [Int32] {
        if chosen.count > chosenCount { chosen.removeLast(chosen.count - chosenCount) }
        if stream.id >= 0 { counters.transferredByStream[Int(stream.id)] &+= Int64(chosenCount) }
        return chosen
    }

    /// The tree ids of the next copy of the tuple being emitted: untracked, or with a new edge of its own.
    @inline(__always)
    private func nextIds(_ anchoring: Anchoring, _ spoutEdges: inout UInt64) -> TreeIds {
        switch anchoring {
        case .none:
            return .none
        case .spout(let root):
            let edge = edges.next()
            spoutEdges ^= edge
            return TreeIds(root: root, edge: edge)
        case .one(let anchor):
            let edge = edges.next()
            anchorBook.produced(edge, anchoredTo: anchor)
            return anchor.withEdge(edge)
        case .many(let anchors):
            return anchorBook.anchor(to: anchors, edges: &edges)
        }
    }

    @inline(__always)
    private func enqueue(
        _ task: Int32, _ values: TupleValues, _ stream: TupleStream, _ anchoring: Anchoring, _ spoutEdges: inout UInt64
    ) {
        let executor = executorOfTask[Int(task)]
        guard executor >= 0 else { return }
        outboxes[executor].append(
            Delivery(
                task: task,
                tuple: Tuple(values: values, stream: stream, sourceTask: taskId, ids: nextIds(anchoring, &spoutEdges))))
        if chosenCount < chosen.count { chosen[chosenCount] = task } else { chosen.append(task) }
        chosenCount += 1
        pending += 1
        if outboxes[executor].count >= TupleDispatch.batchSize { ship(executor) }
    }

    private func ship(_ executor: Int) {
        let batch = outboxes[executor]
        outboxes[executor] = []
        outboxes[executor].reserveCapacity(TupleDispatch.batchSize)
        pending -= batch.count
        if let chained = chainedExecutors[executor] {
            chained.executeChained(batch)
        } else {
            dispatch.deliver(batch, toExecutor: executor)
        }
    }

    /// Sends what the outboxes hold (`onlyFull`: only outboxes that have reached a batch).
    func flush(onlyFull: Bool = false) {
        sendHeldAck()
        guard pending > 0 else { return }
        for i in outboxes.indices
        where !outboxes[i].isEmpty && (!onlyFull || outboxes[i].count >= TupleDispatch.batchSize) {
            ship(i)
        }
    }

    // MARK: SpoutOutputCollector

    func emit(_ values: TupleValues, stream: String, messageId: Value?) -> [Int32] {
        let chosen = sendTracked(values, stream: stream, direct: nil, messageId: messageId)
        sample(values, messageId: messageId)
        return chosen
    }

    func emitDirect(task: Int32, _ values: TupleValues, stream: String, messageId: Value?) {
        _ = sendTracked(values, stream: stream, direct: task, messageId: messageId)
        sample(values, messageId: messageId)
    }

    /// A spout's emit: with a message id and ackers, the tuple's copies start a new tree. The root's acker is
    /// told the XOR of the edges the tree starts with (0 when the tuple went nowhere: the acker then completes
    /// it at once, as Storm's does), and the message id is kept until the acker answers.
    private func sendTracked(_ values: TupleValues, stream: String, direct: Int32?, messageId: Value?) -> [Int32] {
        guard let messageId else { return send(values, stream: stream, direct: direct) }
        guard let initRoute = acking?.initRoute else {
            let chosen = send(values, stream: stream, direct: direct)
            // Without ackers a tuple counts as done once emitted, as in Storm with topology.acker.executors 0.
            spout?.ack(messageId)
            return chosen
        }
        let root = edges.next()
        var spoutEdges: UInt64 = 0
        let chosen = send(
            values, stream: stream, direct: direct, anchoring: .spout(root: root), spoutEdges: &spoutEdges)
        trees.started(root: root, messageId: messageId, stream: streamId(stream), now: MonotonicClock.nanos())
        sendAcking(
            [.int(Int64(bitPattern: root)), .int(Int64(bitPattern: spoutEdges)), .int(Int64(taskId))], route: initRoute)
        return chosen
    }

    /// An acker's answer for one of this spout task's trees: the spout's ack or fail with its message id.
    /// Returns true when the tree failed.
    @discardableResult
    func settleTree(_ answer: Tuple, now: UInt64) -> Bool {
        guard let spout, let root = answer.values.first?.intValue else { return false }
        let acked = answer.stream.stream == SystemTopology.ackAckStream
        // Nil when the tree timed out already.
        guard let tree = trees.settle(root: UInt64(bitPattern: root), acked: acked, now: now) else { return false }
        if acked {
            if tree.stream >= 0 { counters.ackedByStream[Int(tree.stream)] &+= 1 }
            spout.ack(tree.messageId)
            return false
        }
        if tree.stream >= 0 { counters.failedByStream[Int(tree.stream)] &+= 1 }
        dispatch.logger.debug(
            "\(componentId):\(taskId): message \(tree.messageId) failed: a bolt failed a tuple of its tree")
        spout.fail(tree.messageId)
        return true
    }

    /// Fails the trees older than `timeoutNanos` (topology.message.timeout.secs); returns how many.
    func expireTrees(now: UInt64, timeoutNanos: UInt64) -> Int {
        guard let spout else { return 0 }
        let expired = trees.expire(now: now, timeoutNanos: timeoutNanos)
        for tree in expired {
            if tree.stream >= 0 { counters.failedByStream[Int(tree.stream)] &+= 1 }
            dispatch.logger.debug("\(componentId):\(taskId): message \(tree.messageId) failed: timed out")
            spout.fail(tree.messageId)
        }
        return expired.count
    }

    // MARK: OutputCollector

    func emit(_ values: TupleValues, stream: String, anchors: [Tuple]) -> [Int32] {
        let chosen = send(values, stream: stream, direct: nil, anchoring: anchoring(anchors))
        sample(values, messageId: nil)
        return chosen
    }

    func emit(_ values: TupleValues, stream: String, anchor: Tuple) -> [Int32] {
        let chosen =
            acking != nil && anchor.ids.isTracked
            ? send(values, stream: stream, direct: nil, anchoring: .one(anchor.ids))
            : send(values, stream: stream, direct: nil)
        sample(values, messageId: nil)
        return chosen
    }

    func emitDirect(task: Int32, _ values: TupleValues, stream: String, anchors: [Tuple]) {
        _ = send(values, stream: stream, direct: task, anchoring: anchoring(anchors))
        sample(values, messageId: nil)
    }

    /// How a bolt's emit anchored to `anchors` is tracked: not at all without ackers or tracked inputs.
    private func anchoring(_ anchors: [Tuple]) -> Anchoring {
        guard acking != nil, anchors.contains(where: { $0.ids.isTracked }) else { return .none }
        return anchors.count == 1 ? .one(anchors[0].ids) : .many(anchors.map(\.ids))
    }

    func ack(_ tuple: Tuple) {
        let stream = Int(tuple.stream.id)
        if stream >= 0 {
            counters.ackedByStream[stream] &+= 1
            if tuple.processSampleStart != 0 { recordProcessLatency(tuple.processSampleStart, stream: stream) }
        }
        guard tuple.ids.isTracked, acking?.ackRoute != nil else { return }
        anchorBook.settle(tuple.ids) { root, value in
            if let held = heldAck, held.root == root {
                heldAck = (root, held.value ^ value)
            } else {
                sendHeldAck()
                heldAck = (root, value)
            }
        }
    }

    private func sendHeldAck() {
        guard let held = heldAck, let route = acking?.ackRoute else { return }
        heldAck = nil
        sendAcking([.int(Int64(bitPattern: held.root)), .int(Int64(bitPattern: held.value))], route: route)
    }

    /// A sampled input is acked: its process latency, from the start of its execute to now.
    @inline(never)
    private func recordProcessLatency(_ start: UInt32, stream: Int) {
        counters.processNanosByStream[stream] &+= LatencySampler.nanosSince(start, now: MonotonicClock.nanos())
        counters.processSamplesByStream[stream] &+= 1
    }

    /// Failed inputs are counted, not timed: process latency runs to an ack, as Storm measures it.
    func fail(_ tuple: Tuple) {
        if tuple.stream.id >= 0 { counters.failedByStream[Int(tuple.stream.id)] &+= 1 }
        guard tuple.ids.isTracked, let route = acking?.failRoute else { return }
        sendHeldAck()
        _ = anchorBook.take(tuple.ids)
        tuple.ids.forEach { root, _ in sendAcking([.int(Int64(bitPattern: root))], route: route) }
    }

    func reportError(_ error: any Error) {
        dispatch.logger.error("\(componentId):\(taskId): \(error)")
        dispatch.hooks.errorSink?(componentId, taskId, "\(error)")
    }

    func reportFatal(_ error: any Error) {
        reportError(error)
        dispatch.hooks.onFatal?(componentId, taskId, "\(error)")
    }
}

@available(*, unavailable, message: "a collector belongs to its executor's thread")
extension TaskCollector: Sendable {}

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
    /// A spout tuple with a message id: each copy a new edge of the tree rooted at `root`.
    case spout(root: UInt64)
    /// Anchored to one input: each copy a new edge in that input's trees.
    case one(TreeIds)
    /// Anchored to several inputs: a new edge per input, joining their trees.
    case many([TreeIds])
}

struct Route {
    let subscriber: String
    var router: Router
}

/// A stream held without counting references (streams are never freed): loading it from the collector's table
/// for every emit wrote the stream's reference count, on the cache line the executing threads read the stream's
/// fields from.
struct StreamReference {
    unowned(unsafe) let stream: TupleStream

    init(_ stream: TupleStream) { self.stream = stream }
}
