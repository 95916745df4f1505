import Components
import Groupings
import Logging
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
    /// The task ids of the last emit. Reused: once the caller drops the array it returns, the storage is unique
    /// again and the next emit fills it without allocating.
    @exclusivity(unchecked) private var chosen: [Int32] = []

    init(
        runtime: TopologyRuntime, taskId: Int32, componentId: String, routes: [String: [Route]], streams: [String: TupleStream],
        streamCount: Int, outboxCount: Int
    ) {
        streamEmitted = Array(repeating: 0, count: streamCount)
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
    }

    private func send(_ values: [Value], stream: String, direct: Int32?) -> [Int32] {
        emittedCount += 1
        let index = stream == defaultStream ? defaultIndex : streamIndex[stream]
        guard let s = index else {
            if stream == defaultStream, let id = defaultUnsubscribedId {
                streamEmitted[id] &+= 1
                return []
            }
            if let declared = streams[stream] { streamEmitted[Int(declared.id)] += 1 }
            if streams[stream] == nil { reportError(RuntimeError(description: "\(componentId) emitted on undeclared stream '\(stream)'")) }
            return []
        }
        let stream = routeStreams[s]
        if stream.id >= 0 { streamEmitted[Int(stream.id)] &+= 1 }
        chosen.removeAll(keepingCapacity: true)
        // One subscriber choosing one task is the common case: the tuple is built in place in the outbox, with
        // no copy to retain and release.
        if direct == nil && routes[s].count == 1 && !routes[s][0].router.isDirect {
            do {
                if case .one(let t) = try routes[s][0].router.route(values, from: taskId) {
                    enqueue(t, Tuple(values: values, stream: stream, sourceTask: taskId))
                    return chosen
                }
            } catch {
                reportError(error)
                return chosen
            }
        }
        let tuple = Tuple(values: values, stream: stream, sourceTask: taskId)
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
                case .one(let t): enqueue(t, tuple)
                case .many(let ts): for t in ts { enqueue(t, tuple) }
                case .all: for t in routes[s][i].router.tasks { enqueue(t, tuple) }
                }
            } catch {
                reportError(error)
            }
        }
        return chosen
    }

    @inline(__always)
    private func enqueue(_ task: Int32, _ tuple: __owned Tuple) {
        let executor = executorOfTask[Int(task)]
        guard executor >= 0 else { return }
        outboxes[executor].append(Delivery(task: task, tuple: tuple))
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
        let chosen = send(values, stream: stream, direct: nil)
        // Without ackers a tuple counts as done once emitted, as in Storm with topology.acker.executors 0.
        if let messageId { spout?.ack(messageId) }
        return chosen
    }

    func emitDirect(task: Int32, _ values: [Value], stream: String, messageId: Value?) {
        _ = send(values, stream: stream, direct: task)
    }

    // MARK: OutputCollector

    func emit(_ values: [Value], stream: String, anchors: [Tuple]) -> [Int32] {
        send(values, stream: stream, direct: nil)
    }

    func emit(_ values: [Value], stream: String, anchor: Tuple) -> [Int32] {
        send(values, stream: stream, direct: nil)
    }

    func emitDirect(task: Int32, _ values: [Value], stream: String, anchors: [Tuple]) {
        _ = send(values, stream: stream, direct: task)
    }

    func ack(_ tuple: Tuple) {}
    func fail(_ tuple: Tuple) {}

    func reportError(_ error: any Error) {
        runtime.logger.error("\(componentId):\(taskId): \(error)")
        runtime.errorSink?(componentId, taskId, "\(error)")
    }

    func reportFatal(_ error: any Error) {
        reportError(error)
        runtime.onFatal?(componentId, taskId, "\(error)")
    }
}
