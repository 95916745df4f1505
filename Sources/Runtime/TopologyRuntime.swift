import Components
import Foundation
import Groupings
import Locking
import Logging
import Multilang
import StormCore
import StormThrift
import Tuples

public struct RuntimeError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
}

/// A tuple on its way to a task.
public struct Delivery: Sendable {
    public let task: Int32
    public let tuple: Tuple

    public init(task: Int32, tuple: Tuple) {
        self.task = task
        self.tuple = tuple
    }
}

/// Takes the tuples for tasks that run in other workers. Called from executor threads, concurrently, with
/// batches the caller gives up.
public protocol TupleTransfer: AnyObject, Sendable {
    func transfer(_ batch: [Delivery])
}

/// Counts per component, for the live throughput line and tests.
public struct ComponentStats: Sendable, Equatable {
    public var emitted: Int64 = 0
    public var executed: Int64 = 0
}

/// One executor's counts since it started: what worker heartbeats report.
public struct ExecutorCounts: Sendable, Equatable {
    public var emitted: Int64 = 0
    public var executed: Int64 = 0
    /// Tuples emitted and executed per stream, indexed by the stream's number in the topology's `StreamTable`.
    public var emittedByStream: [Int64] = []
    public var executedByStream: [Int64] = []
    /// A bolt: the tuples it acked and failed, by input stream. A spout: its trees completed and failed, by the
    /// stream of their root tuple.
    public var ackedByStream: [Int64] = []
    public var failedByStream: [Int64] = []
    /// A spout: the sum of its trees' complete latencies, by stream (for the mean), and their spread.
    public var completeNanosByStream: [UInt64] = []
    public var completeLatency = LatencyHistogram()
    /// A spout: why its trees failed: a bolt failed a tuple of the tree, or the tree timed out.
    public var failedByBolts: Int64 = 0
    public var timedOut: Int64 = 0
    /// A spout: trees emitted and not yet complete or failed.
    public var pendingTrees: Int = 0
    /// A spout: the most trees one of its tasks has had in flight at once.
    public var mostPendingTrees: Int = 0

    public init() {}
}

/// What a runtime tells its owner, from any of its threads. Given at construction and never changed: executor and
/// reader threads call these while they run, so a hook set later would be read without synchronization.
public struct RuntimeHooks: Sendable {
    /// Where components' errors go besides the log: a worker records them in the cluster state.
    public var errorSink: (@Sendable (_ component: String, _ task: Int32, _ message: String) -> Void)?
    /// What happens when a component cannot go on (a shell component's child died): a worker exits.
    public var onFatal: (@Sendable (_ component: String, _ task: Int32, _ message: String) -> Void)?
    /// A queue that takes other workers' tuples has filled, or one announced full has been taken: a worker then
    /// looks again (`checkBackpressure`). Event-driven, not polled: a thread waking every 2 ms to look cost a
    /// quarter of a word count's throughput on 2 cores.
    public var onBackpressureChange: (@Sendable () -> Void)?

    public init(
        errorSink: (@Sendable (_ component: String, _ task: Int32, _ message: String) -> Void)? = nil,
        onFatal: (@Sendable (_ component: String, _ task: Int32, _ message: String) -> Void)? = nil,
        onBackpressureChange: (@Sendable () -> Void)? = nil
    ) {
        self.errorSink = errorSink
        self.onFatal = onFatal
        self.onBackpressureChange = onBackpressureChange
    }
}

/// Runs a topology's executors as threads of this process: one thread per executor, tuples crossing threads in
/// batches through bounded queues. Local mode runs a whole topology this way; a worker runs its share and hands
/// tuples for the other tasks to a `TupleTransfer`.
public final class TopologyRuntime: @unchecked Sendable {
    public let topologyId: String
    let logger: Logger
    let executors: [ExecutorRunner]
    /// For each task id, the index of the executor that runs it; `remoteIndex` for a task of another worker, -1
    /// for a task no executor runs (system tasks). An array, not a dictionary: it is read for every tuple.
    let executorOfTask: [Int]
    /// The outbox index of tuples bound for other workers: one past the local executors.
    let remoteIndex: Int
    let transfer: (any TupleTransfer)?
    /// The topology's streams, numbered the same way in every worker.
    public let streams: StreamTable
    /// The tasks this runtime runs.
    public let localTasks: Set<Int32>
    public let hooks: RuntimeHooks
    private let inFlight = Locked(0)
    private let misrouted = Locked(0)
    private let active = Locked(true)
    /// topology.message.timeout.secs, or nil when topology.enable.message.timeouts is off.
    let messageTimeoutNanos: UInt64?
    /// topology.max.spout.pending: trees a spout task may have in flight.
    let maxSpoutPending: Int?
    let hasAckers: Bool
    private let finished = DispatchGroup()

    /// Tuples per batch between executors: large enough to amortize the queue's lock, small enough to stay warm.
    static let batchSize = 256
    /// Partial batches leave at least this often (Storm's topology.batch.flush.interval.millis default, 1 ms).
    static let flushIntervalNanos: UInt64 = 1_000_000

    @inline(__always)
    static func monotonicNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// - Parameters:
    ///   - executors: the executors to run here (all of the topology's when nil).
    ///   - transfer: where tuples for tasks outside `executors` go (dropped when nil).
    ///   - hooks: what the runtime's threads tell its owner.
    public init(
        topologyId: String, topology: StormTopology, conf: StormConfig, registry: ComponentRegistry = .shared,
        executors assigned: Set<Executor>? = nil, transfer: (any TupleTransfer)? = nil,
        shell: ShellEnvironment? = nil, hooks: RuntimeHooks = RuntimeHooks(), logger: Logger = Logger(label: "runtime")
    ) throws {
        // Components see the topology as submitted, as Storm's user context shows it.
        let submitted = topology
        // The topology as it runs: with the ackers and the streams between them, spouts and bolts.
        let topology = SystemTopology.build(topology, conf: conf)
        let timeoutsOn = conf[ConfigKey.topologyEnableMessageTimeouts]?.boolValue ?? true
        let timeoutSecs = max((try? conf.int(ConfigKey.topologyMessageTimeoutSecs)) ?? 30, 1)
        messageTimeoutNanos = timeoutsOn ? UInt64(timeoutSecs) * 1_000_000_000 : nil
        maxSpoutPending = ((try? conf.optionalInt(ConfigKey.topologyMaxSpoutPending)) ?? nil).flatMap { $0 > 0 ? Int($0) : nil }
        hasAckers = TopologyPlan.ackerExecutors(conf) > 0
        let shell = shell ?? Self.defaultShellEnvironment(topologyId)
        self.topologyId = topologyId
        self.logger = logger
        self.transfer = transfer
        self.hooks = hooks
        let plan = TopologyPlan(topology: topology, conf: conf)
        let taskRanges = TaskLayout.taskRanges(plan.tasks)
        var taskToComponent: [Int32: String] = [:]
        for (component, range) in taskRanges { for t in range { taskToComponent[t] = component } }
        streams = StreamTable(topology)
        var subscriptions: [String: [String: [(String, Grouping)]]] = [:]
        // Spouts subscribe too: to their ackers' answers.
        for component in topology.components {
            for (source, grouping) in component.common.inputs {
                subscriptions[source.componentId, default: [:]][source.streamId, default: []].append((component.id, grouping))
            }
        }

        var runners: [ExecutorRunner] = []
        var executorOfTask: [Int: Int] = [:]
        // A worker runs the executors its assignment names (a rebalance may have changed their number since
        // submission); local mode runs the topology's own.
        let chosen: [(key: Executor, value: String)] =
            if let assigned {
                assigned.sorted().compactMap { e in taskToComponent[e.start].map { (key: e, value: $0) } }
            } else {
                TaskLayout.executors(tasks: plan.tasks, executorCounts: plan.executors).sorted { $0.key < $1.key }
            }
        for (executor, componentId) in chosen {
            let isAcker = componentId == TopologyPlan.ackerComponent
            if TopologyName.isSystemId(componentId) && !isAcker { continue }
            guard let component = topology.components.first(where: { $0.id == componentId }) else { continue }
            let index = runners.count
            var tasks: [TaskInstance] = []
            for taskId in executor.start...executor.end {
                executorOfTask[Int(taskId)] = index
                let instance =
                    isAcker
                    ? AckerBolt(timeoutNanos: messageTimeoutNanos)
                    : try Self.instantiate(component, registry: registry, shell: shell, logger: logger)
                let context = TopologyContext(
                    topologyId: topologyId, thisTaskId: taskId, thisComponentId: componentId, taskToComponent: taskToComponent,
                    conf: conf, topology: submitted)
                tasks.append(TaskInstance(taskId: taskId, component: instance, context: context))
            }
            let runner = ExecutorRunner(
                componentId: componentId, isSpout: component.kind == .spout, tasks: tasks,
                // What spouts and ackers receive is acking traffic, bounded by the trees in flight: a full queue
                // there would let a bolt blocked on an acker block the spout that feeds it.
                unboundedQueue: component.kind == .spout || isAcker)
            if isAcker && messageTimeoutNanos != nil { runner.tickSecs = 1 }
            // A bolt's tick tuples: its own conf's topology.tick.tuple.freq.secs, else the topology's.
            if component.kind == .bolt && !isAcker {
                let own = (try? JSON.decodeObject(component.common.jsonConf ?? "{}"))?[ConfigKey.topologyTickTupleFreqSecs]
                let secs = (own ?? conf[ConfigKey.topologyTickTupleFreqSecs])?.intValue ?? 0
                runner.tickSecs = secs > 0 ? Int(secs) : nil
            }
            runners.append(runner)
        }
        self.executors = runners
        remoteIndex = runners.count
        var table = [Int](repeating: -1, count: (taskToComponent.keys.max().map(Int.init) ?? 0) + 1)
        for (task, component) in taskToComponent where !TopologyName.isSystemId(component) || component == TopologyPlan.ackerComponent {
            table[Int(task)] = remoteIndex
        }
        for (task, index) in executorOfTask { table[task] = index }
        self.executorOfTask = table
        let local = Set(executorOfTask.keys.map(Int32.init))
        localTasks = local

        // Collectors: one per task, with its own routers (a router is per emitter).
        for runner in runners {
            for task in runner.tasks {
                var routes: [String: [Route]] = [:]
                for (stream, subs) in subscriptions[runner.componentId] ?? [:] {
                    let fields = streams.stream(runner.componentId, stream)?.fields ?? Fields([])
                    routes[stream] = try subs.map { subscriber, grouping in
                        let targets = taskRanges[subscriber].map { Array($0) } ?? []
                        return Route(
                            subscriber: subscriber,
                            router: try Router(
                                grouping: grouping, subscriber: subscriber, tasks: targets, sourceFields: fields.names,
                                localTasks: local.intersection(targets), custom: { try registry.makeGrouping($0) }))
                    }
                }
                let collector = TaskCollector(
                    runtime: self, taskId: task.taskId, componentId: runner.componentId, routes: routes,
                    streams: streams.streams(of: runner.componentId), streamCount: streams.all.count,
                    outboxCount: runners.count + 1)
                collector.spout = task.component as? any Spout
                task.collector = collector
            }
        }
    }

    /// Shell components run in `resources/` under the working directory when there is one (a worker's is its
    /// topology's folder), else in the working directory itself.
    static func defaultShellEnvironment(_ topologyId: String) -> ShellEnvironment {
        let cwd = FileManager.default.currentDirectoryPath
        let resources = cwd + "/resources"
        var isDirectory: ObjCBool = false
        let dir = FileManager.default.fileExists(atPath: resources, isDirectory: &isDirectory) && isDirectory.boolValue ? resources : cwd
        return ShellEnvironment(
            resourcesDirectory: dir, pidDirectory: NSTemporaryDirectory() + "storm-shell-pids-\(topologyId)-\(getpid())")
    }

    static func instantiate(_ component: ComponentRef, registry: ComponentRegistry, shell: ShellEnvironment, logger: Logger) throws -> any Component {
        switch component.object {
        case .javaObject(let object):
            guard let entry = registry.entry(object.fullClassName) else {
                throw RuntimeError(description: "component '\(component.id)' names class \(object.fullClassName), which this program does not have")
            }
            return try entry.make(object.argsList)
        case .shell(let program):
            let command = [program.executionCommand, program.script].compactMap { $0 }.filter { !$0.isEmpty }
            guard !command.isEmpty else { throw RuntimeError(description: "shell component '\(component.id)' has no command") }
            return component.kind == .spout
                ? ShellSpout(command: command, streams: component.common.streams, environment: shell, logger: logger)
                : ShellBolt(command: command, streams: component.common.streams, environment: shell, logger: logger)
        case .serializedJava:
            throw RuntimeError(description: "component '\(component.id)' is a serialized Java object, which cannot run here")
        }
    }

    // MARK: running

    /// Opens and prepares every task, then starts one thread per executor.
    public func start() throws {
        for runner in executors {
            for task in runner.tasks {
                if let spout = task.component as? any Spout {
                    try spout.open(context: task.context, collector: task.collector!)
                } else if let bolt = task.component as? any Components.Bolt {
                    if let pumped = bolt as? any PumpedBolt {
                        let queue = runner.queue
                        pumped.wake = { queue.wake() }
                    }
                    try bolt.prepare(context: task.context, collector: task.collector!)
                }
            }
        }
        for runner in executors {
            finished.enter()
            let thread = Thread { [self] in
                if runner.isSpout { runSpouts(runner) } else { runBolts(runner) }
                finished.leave()
            }
            thread.name = "\(runner.componentId)-executor"
            thread.start()
        }
        let ticking = executors.indices.filter { executors[$0].tickSecs != nil }
        if !ticking.isEmpty {
            let thread = Thread { [self] in tick(ticking) }
            thread.name = "ticks"
            thread.start()
        }
    }

    /// The stream tick tuples arrive on: from `__system`, stream `__tick`, with the frequency as their value.
    static let tickStream = TupleStream(component: "__system", stream: "__tick", fields: Fields(["rate_secs"]))

    /// Sends each task of the executors at `indices` a tick tuple every `topology.tick.tuple.freq.secs`, until the
    /// runtime stops.
    private func tick(_ indices: [Int]) {
        var due = indices.map { Date().addingTimeInterval(Double(executors[$0].tickSecs!)) }
        while indices.allSatisfy({ executors[$0].running.withLock { $0 } }) {
            usleep(100_000)
            let now = Date()
            for (n, index) in indices.enumerated() where now >= due[n] {
                let runner = executors[index]
                due[n] = now.addingTimeInterval(Double(runner.tickSecs!))
                let secs = Value.int(Int64(runner.tickSecs!))
                deliver(runner.tasks.map { Delivery(task: $0.taskId, tuple: Tuple(values: [secs], stream: Self.tickStream, sourceTask: -1)) },
                        toExecutor: index)
            }
        }
    }

    public func activate() { setActive(true) }
    public func deactivate() { setActive(false) }

    private func setActive(_ on: Bool) {
        let changed = active.withLock { a -> Bool in
            defer { a = on }
            return a != on
        }
        guard changed else { return }
        for runner in executors where runner.isSpout { runner.pendingActivation.withLock { $0 = on } }
    }

    /// Stops the spouts, lets the bolts finish every tuple already emitted (up to `drainTimeout`), then stops the
    /// bolts and calls close and cleanup.
    public func stop(drainTimeout: TimeInterval = 10) {
        for runner in executors where runner.isSpout { runner.running.withLock { $0 = false } }
        let deadline = Date().addingTimeInterval(drainTimeout)
        while Date() < deadline {
            let spoutsDone = executors.filter(\.isSpout).allSatisfy { $0.stopped.withLock { $0 } }
            if spoutsDone && inFlight.withLock({ $0 }) == 0 { break }
            usleep(1000)
        }
        for runner in executors {
            runner.running.withLock { $0 = false }
            runner.queue.close()
        }
        finished.wait()
        for runner in executors {
            for task in runner.tasks {
                if let spout = task.component as? any Spout { spout.close() }
                if let bolt = task.component as? any Components.Bolt { bolt.cleanup() }
            }
        }
    }

    /// Emitted and executed counts per component so far.
    public var stats: [String: ComponentStats] {
        var out: [String: ComponentStats] = [:]
        for runner in executors {
            let s = runner.stats.withLock { $0 }
            out[runner.componentId, default: ComponentStats()].emitted += s.emitted
            out[runner.componentId, default: ComponentStats()].executed += s.executed
        }
        return out
    }

    /// Each executor's counts, with its component and whether it is a spout.
    public func executorCounts() -> [(executor: Executor, component: String, isSpout: Bool, counts: ExecutorCounts)] {
        executors.map { runner in
            (Executor(runner.tasks.first!.taskId, runner.tasks.last!.taskId), runner.componentId, runner.isSpout,
             runner.stats.withLock { $0 })
        }
    }

    /// The instances of a component's tasks (tests read their state once the runtime has stopped).
    public func instances(of component: String) -> [any Component] {
        executors.filter { $0.componentId == component }.flatMap { $0.tasks.map(\.component) }
    }

    // MARK: executor loops

    private func runSpouts(_ runner: ExecutorRunner) {
        var isActive = active.withLock { $0 }
        for task in runner.tasks where isActive { (task.component as! any Spout).activate() }
        let spouts = runner.tasks.map { ($0, $0.component as! any Spout) }
        let collectors = runner.tasks.map { $0.collector! }
        var idleRounds = 0
        var lastFlush = Self.monotonicNanos()
        var upkeep = TreeUpkeep(summaryInterval: 10_000_000_000, now: lastFlush)
        while runner.running.withLock({ $0 }) {
            if let change = runner.pendingActivation.withLock({ p -> Bool? in defer { p = nil }; return p }), change != isActive {
                isActive = change
                for (_, spout) in spouts { if isActive { spout.activate() } else { spout.deactivate() } }
            }
            // Acker answers first: they free room under topology.max.spout.pending and replay failures.
            if hasAckers { settleTrees(runner, collectors, waitMillis: 0, upkeep: &upkeep) }
            guard isActive else {
                flushAll(runner)
                if hasAckers { settleTrees(runner, collectors, waitMillis: 10, upkeep: &upkeep) } else { usleep(10_000) }
                publish(runner, executed: 0, emitted: 0, executedByStream: [])
                continue
            }
            var emitted = 0
            var throttled = 0
            // Several rounds between checks of the shared flags (they cost a lock each), but no longer than a
            // flush interval: a slow spout's tuples must not wait for a full batch.
            let roundStart = Self.monotonicNanos()
            for round in 0..<64 {
                for (task, spout) in spouts {
                    if let max = maxSpoutPending, task.collector!.pendingTrees.count >= max {
                        throttled += 1
                        continue
                    }
                    let before = task.collector!.emittedCount
                    spout.nextTuple()
                    emitted += task.collector!.emittedCount - before
                }
                // The clock every eighth round: reading it for every tuple cost 5% of a fast spout's time.
                if round & 7 == 7 && Self.monotonicNanos() - roundStart >= Self.flushIntervalNanos { break }
            }
            let now = Self.monotonicNanos()
            if emitted == 0 {
                flushAll(runner)
                lastFlush = now
                idleRounds += 1
                if throttled > 0 && hasAckers {
                    // Every task at topology.max.spout.pending: wait for acker answers rather than spin.
                    settleTrees(runner, collectors, waitMillis: 1, upkeep: &upkeep)
                } else {
                    // Nothing to emit: back off, as Storm's default spout wait strategy does.
                    usleep(UInt32(min(idleRounds, 10)) * 100)
                }
            } else {
                idleRounds = 0
                let due = now - lastFlush >= Self.flushIntervalNanos
                flushAll(runner, onlyFull: !due)
                if due { lastFlush = now }
            }
            publish(runner, executed: 0, emitted: emitted, executedByStream: [])
        }
        flushAll(runner)
        runner.stopped.withLock { $0 = true }
    }

    /// Hands the spout tasks their ackers' answers (waiting up to `waitMillis` for some), and once a second fails
    /// the trees that have outlived topology.message.timeout.secs.
    private func settleTrees(_ runner: ExecutorRunner, _ collectors: [TaskCollector], waitMillis: Int, upkeep: inout TreeUpkeep) {
        let batches = waitMillis > 0 ? runner.queue.takeAll(timeoutMillis: waitMillis) : runner.queue.takeReady()
        let now = Self.monotonicNanos()
        if !batches.isEmpty {
            let first = runner.tasks.first!.taskId
            for batch in batches {
                for d in batch {
                    if collectors[Int(d.task - first)].settleTree(d.tuple, now: now) { upkeep.failed += 1 }
                }
            }
        }
        if let timeout = messageTimeoutNanos, now &- upkeep.lastExpiry >= 1_000_000_000 {
            upkeep.lastExpiry = now
            for collector in collectors { upkeep.timedOut += collector.expireTrees(now: now, timeoutNanos: timeout) }
        }
        if let line = upkeep.failureSummary(now: now) { logger.warning("\(runner.componentId): \(line)") }
    }

    private func runBolts(_ runner: ExecutorRunner) {
        // An executor's tasks are a contiguous range: index by offset from the first. Arrays of the bolts and
        // collectors, read once per tuple; most executors run one task, which is hoisted out of the loop.
        let first = runner.tasks.first!.taskId
        let bolts: [any Components.Bolt] = runner.tasks.map { $0.component as! any Components.Bolt }
        let collectors: [TaskCollector] = runner.tasks.map { $0.collector! }
        let single = bolts.count == 1 ? bolts[0] : nil
        let pumped = bolts.compactMap { $0 as? any PumpedBolt }
        var executedByStream = [Int64](repeating: 0, count: streams.all.count)
        while runner.running.withLock({ $0 }) {
            let batches = runner.queue.takeAll(timeoutMillis: 50)
            if !pumped.isEmpty {
                let before = collectors.reduce(0) { $0 + $1.emittedCount }
                for bolt in pumped { bolt.pump() }
                let emitted = collectors.reduce(0) { $0 + $1.emittedCount } - before
                // What the children said may be only acks (not counted as emitted): flush whatever is waiting.
                flushAll(runner)
                if emitted > 0 { publish(runner, executed: 0, emitted: emitted, executedByStream: executedByStream) }
            }
            if batches.isEmpty { continue }
            if runner.announced.withLock({ $0 }) { hooks.onBackpressureChange?() }
            var executed = 0
            let emittedBefore = collectors.reduce(0) { $0 + $1.emittedCount }
            for batch in batches {
                // Through the buffer, so each tuple is lent to execute rather than copied out (and retained).
                batch.withUnsafeBufferPointer { deliveries in
                    for i in deliveries.indices {
                        let stream = Int(deliveries[i].tuple.stream.id)
                        if stream >= 0 { executedByStream[stream] &+= 1 }
                        if let single {
                            single.execute(deliveries[i].tuple)
                        } else {
                            bolts[Int(deliveries[i].task - first)].execute(deliveries[i].tuple)
                        }
                    }
                }
                executed += batch.count
            }
            // Shell bolts write the batch's tuples to their children now, in one go.
            for bolt in pumped { bolt.pump() }
            let emitted = collectors.reduce(0) { $0 + $1.emittedCount } - emittedBefore
            // Downstream first, then count these as done: in-flight never drops to zero while work remains.
            flushAll(runner)
            inFlight.withLock { $0 -= executed }
            publish(runner, executed: executed, emitted: emitted, executedByStream: executedByStream)
        }
    }

    /// Adds an executor loop's counts to what other threads read: once per batch, under the lock they take.
    private func publish(_ runner: ExecutorRunner, executed: Int, emitted: Int, executedByStream: [Int64]) {
        let tasks = runner.tasks
        runner.stats.withLock { stats in
            stats.executed += Int64(executed)
            stats.emitted += Int64(emitted)
            stats.emittedByStream = Self.summed(tasks) { $0.streamEmitted }
            if !executedByStream.isEmpty { stats.executedByStream = executedByStream }
            stats.ackedByStream = Self.summed(tasks) { $0.ackedByStream }
            stats.failedByStream = Self.summed(tasks) { $0.failedByStream }
            guard runner.isSpout else { return }
            stats.completeNanosByStream = Self.summed(tasks) { $0.completeNanosByStream }
            stats.completeLatency = tasks.dropFirst().reduce(into: tasks[0].collector!.completeLatency) { $0.merge($1.collector!.completeLatency) }
            stats.failedByBolts = tasks.reduce(0) { $0 + $1.collector!.failedByBolts }
            stats.timedOut = tasks.reduce(0) { $0 + $1.collector!.timedOut }
            stats.pendingTrees = tasks.reduce(0) { $0 + $1.collector!.pendingTrees.count }
            stats.mostPendingTrees = tasks.map { $0.collector!.mostPendingTrees }.max() ?? 0
        }
    }

    /// A per-stream counter summed over an executor's tasks: the task's own array (no copy) when it runs one.
    private static func summed<T: FixedWidthInteger>(_ tasks: [TaskInstance], _ counts: (TaskCollector) -> [T]) -> [T] {
        var out = counts(tasks[0].collector!)
        for task in tasks.dropFirst() {
            for (i, n) in counts(task.collector!).enumerated() { out[i] &+= n }
        }
        return out
    }

    private func flushAll(_ runner: ExecutorRunner, onlyFull: Bool = false) {
        for task in runner.tasks { task.collector!.flush(onlyFull: onlyFull) }
    }

    /// `force`: never wait for room (see `receive`).
    func deliver(_ batch: [Delivery], toExecutor index: Int, force: Bool = false) {
        if index == remoteIndex {
            transfer?.transfer(batch)
            return
        }
        // What spouts receive is acker answers, not work the topology must finish before it stops.
        if !executors[index].isSpout { inFlight.withLock { $0 += batch.count } }
        if force {
            let runner = executors[index]
            if runner.queue.forcePut(batch) >= Self.congestedDepth(runner) && !runner.announced.withLock({ $0 }) {
                hooks.onBackpressureChange?()
            }
        } else {
            executors[index].queue.put(batch)
        }
    }

    /// Batches waiting at which an executor's queue counts as congested for other workers: twice what local
    /// producers may fill it with. Local producers keep a queue near its capacity whenever its executor is the
    /// bottleneck; congesting at capacity stalled the remote producers at every batch, while local ones kept
    /// their share (a tenth of a two-worker word count).
    static func congestedDepth(_ runner: ExecutorRunner) -> Int {
        runner.queue.capacity == .max ? .max : runner.queue.capacity * 2
    }

    /// Which of this runtime's tasks other workers must stop sending to: those of bolt executors whose queue is
    /// past `congestedDepth` (until it is back to its capacity), and which they may send to again. `changed` says whether any
    /// executor crossed since the last call. Called from one thread (the worker's backpressure loop), when
    /// `hooks.onBackpressureChange` says it is time: a queue filled, or a congested executor took its queue.
    public func checkBackpressure() -> (status: BackpressureStatus, changed: Bool) {
        var status = BackpressureStatus()
        var changed = false
        for runner in executors where !runner.isSpout && runner.queue.capacity != .max {
            let depth = runner.queue.depth
            if !runner.congested && depth >= Self.congestedDepth(runner) {
                runner.congested = true
                runner.announced.withLock { $0 = true }
                changed = true
            } else if runner.congested && depth <= runner.queue.capacity {
                runner.congested = false
                runner.announced.withLock { $0 = false }
                changed = true
            }
            let tasks = runner.tasks.map(\.taskId)
            if runner.congested { status.congested += tasks } else { status.clear += tasks }
        }
        return (status, changed)
    }

    /// Takes tuples that arrived from other workers: each goes to the executor of its task here. A tuple for a
    /// task not run here (a worker whose assignment just changed) is dropped and counted. Never waits for room:
    /// a socket carries tuples for every task here, acks included, and a reader stuck on one full queue would
    /// hold up the rest, and with them the peer, which may be waiting on this worker in turn. Full queues are
    /// announced to the peers instead (`checkBackpressure`), and they stop sending to those tasks.
    public func receive(_ deliveries: [Delivery]) {
        var groups: [[Delivery]] = Array(repeating: [], count: executors.count)
        var strays = 0
        for d in deliveries {
            let i = Int(d.task) < executorOfTask.count && d.task >= 0 ? executorOfTask[Int(d.task)] : -1
            if i >= 0 && i < remoteIndex { groups[i].append(d) } else { strays += 1 }
        }
        // In batches of the usual size: a queue holds a bounded number of batches, so a frame of thousands of
        // tuples would otherwise weigh as much there as a batch of one.
        for i in groups.indices where !groups[i].isEmpty {
            if groups[i].count <= Self.batchSize {
                deliver(groups[i], toExecutor: i, force: true)
            } else {
                for start in stride(from: 0, to: groups[i].count, by: Self.batchSize) {
                    deliver(Array(groups[i][start..<min(start + Self.batchSize, groups[i].count)]), toExecutor: i, force: true)
                }
            }
        }
        if strays > 0 { misrouted.withLock { $0 += strays } }
    }

    /// Tuples that arrived for tasks this runtime does not run.
    public var misroutedCount: Int { misrouted.withLock { $0 } }
}

/// One task: its component instance and collector.
final class TaskInstance: @unchecked Sendable {
    let taskId: Int32
    let component: any Component
    let context: TopologyContext
    var collector: TaskCollector?

    init(taskId: Int32, component: any Component, context: TopologyContext) {
        self.taskId = taskId
        self.component = component
        self.context = context
    }
}

/// One executor: its tasks, its input queue, its flags.
final class ExecutorRunner: @unchecked Sendable {
    let componentId: String
    let isSpout: Bool
    let tasks: [TaskInstance]
    let queue: BatchQueue<Delivery>
    let running = Locked(true)
    let stopped = Locked(false)
    let pendingActivation = Locked<Bool?>(nil)
    let stats = Locked(ExecutorCounts())
    /// Seconds between tick tuples for a bolt that asked for them.
    var tickSecs: Int?
    /// Whether other workers have been told to stop sending to this executor (only the backpressure loop), and
    /// the same for the threads that decide when to call it.
    var congested = false
    let announced = Locked(false)

    init(componentId: String, isSpout: Bool, tasks: [TaskInstance], unboundedQueue: Bool = false) {
        queue = BatchQueue(capacity: unboundedQueue ? .max : 64)
        self.componentId = componentId
        self.isSpout = isSpout
        self.tasks = tasks
    }
}

struct Route {
    let subscriber: String
    var router: Router
}

/// A spout executor's periodic work on its trees: when it last failed the timed-out ones, and its failures by
/// reason since its last log line, which it writes at most once per interval (a line per failure would flood the
/// log exactly when something is wrong).
struct TreeUpkeep {
    let summaryInterval: UInt64
    var failed = 0
    var timedOut = 0
    var lastSummary: UInt64
    var lastExpiry: UInt64

    init(summaryInterval: UInt64, now: UInt64) {
        self.summaryInterval = summaryInterval
        lastSummary = now
        lastExpiry = now
    }

    mutating func failureSummary(now: UInt64) -> String? {
        guard now &- lastSummary >= summaryInterval else { return nil }
        lastSummary = now
        guard failed + timedOut > 0 else { return nil }
        defer { (failed, timedOut) = (0, 0) }
        return "\(failed + timedOut) tuple trees failed in the last \(summaryInterval / 1_000_000_000) s: \(timedOut) timed out, \(failed) failed by a bolt"
    }
}

/// A worker's word to its peers: stop sending to these tasks of mine; these you may send to.
public struct BackpressureStatus: Equatable, Sendable {
    public var congested: [Int32] = []
    public var clear: [Int32] = []

    public init(congested: [Int32] = [], clear: [Int32] = []) {
        self.congested = congested
        self.clear = clear
    }
}
