import Components
import Foundation
import Logging
import StormCore
import StormMetrics
import StormThrift
import Synchronization
import Tuples

/// Runs a topology's executors as threads of this process: one thread per executor, which makes, runs and
/// closes its components; tuples cross threads in batches through bounded queues. Local mode runs a whole
/// topology this way; a worker runs its share and hands tuples for the other tasks to a `TupleTransfer`.
public final class TopologyRuntime: Sendable {
    public let topologyId: String
    /// Where the components' own metrics are registered, and the labels every metric of this runtime carries.
    public let metricsScope: MetricsScope
    let layout: RuntimeLayout
    let dispatch: TupleDispatch
    let logger: Logger
    private let active = Atomic<Bool>(true)
    private let finished = DispatchGroup()

    /// The topology's streams, numbered the same way in every worker.
    public var streams: StreamTable { layout.streams }
    /// The tasks this runtime runs.
    public var localTasks: Set<Int32> { layout.localTasks }
    public var hooks: RuntimeHooks { dispatch.hooks }
    /// One tuple in this many has its latencies timed: 1 / topology.stats.sample.rate, what Storm calls the
    /// sampling rate and reports as `ExecutorStats.rate` (0: latencies are not timed).
    public var latencySamplePeriod: Int { layout.samplePeriod }
    var executors: [ExecutorHandle] { layout.executors }
    var hasAckers: Bool { layout.acking.hasAckers }

    /// - Parameters:
    ///   - executors: the executors to run here (all of the topology's when nil).
    ///   - transfer: where tuples for tasks outside `executors` go (dropped when nil).
    ///   - hooks: what the runtime's threads tell its owner.
    public init(
        topologyId: String, topology: StormTopology, conf: StormConfig, registry: ComponentRegistry = .shared,
        executors assigned: Set<Executor>? = nil, transfer: (any TupleTransfer)? = nil,
        shell: ShellEnvironment? = nil, hooks: RuntimeHooks = RuntimeHooks(), metrics: MetricsScope? = nil,
        workerPort: Int? = nil, logger: Logger = Logger(label: "runtime")
    ) throws {
        self.topologyId = topologyId
        self.logger = logger
        let metrics = metrics ?? Self.localMetricsScope(topologyId: topologyId, conf: conf)
        metricsScope = metrics
        layout = try RuntimeLayout(
            topologyId: topologyId, topology: topology, conf: conf, registry: registry, assigned: assigned,
            shell: shell ?? RuntimeLayout.defaultShellEnvironment(topologyId), metrics: metrics, workerPort: workerPort)
        dispatch = TupleDispatch(
            executors: layout.executors, executorOfTask: layout.executorOfTask, chains: layout.chains,
            transfer: transfer, hooks: hooks, logger: logger, streamCount: layout.streams.all.count)
        for executor in layout.executors where executor.isSpout { executor.requestActivation(true) }
    }

    /// Local mode's metrics: a registry of the runtime's own, labelled with the topology alone.
    static func localMetricsScope(topologyId: String, conf: StormConfig) -> MetricsScope {
        MetricsScope(
            registry: MetricsRegistry(seriesLimit: conf.intOrDefault(ConfigKey.topologyMetricsMaxSeries)),
            labels: MetricsScope.topologyLabels(topologyId: topologyId, conf: conf))
    }

    // MARK: running

    /// Starts one thread per executor (a chained executor runs on its host's), which makes its tasks' components
    /// and opens or prepares them; returns once all are ready and running, or throws the first error (and none
    /// runs).
    public func start() throws {
        let gate = StartGate()
        for (index, handle) in executors.enumerated() where !layout.chains.isChained(index) {
            gate.expect()
            finished.enter()
            let thread = Thread { [self] in
                defer { finished.leave() }
                KernelThreadName.set("\(handle.componentId)-executor")
                let loops: [any ExecutorLoop]
                do {
                    loops = try makeExecutors(forThreadOf: index)
                } catch {
                    _ = gate.report(error)
                    return
                }
                defer { for loop in loops { loop.close() } }
                guard gate.report(nil) else { return }
                loops[0].run()
            }
            thread.name = "\(handle.componentId)-executor"
            thread.start()
        }
        try gate.open()
        let ticking = executors.indices.filter { executors[$0].tickSecs != nil }
        if !ticking.isEmpty {
            let thread = Thread { [self] in
                KernelThreadName.set("ticks")
                tick(ticking)
            }
            thread.name = "ticks"
            thread.start()
        }
    }

    /// The executors one thread runs: executor `index`, then those chained to it, whose batches every collector
    /// on the thread hands over directly. Closes what it made when one cannot be made.
    private func makeExecutors(forThreadOf index: Int) throws -> [any ExecutorLoop] {
        var made: [any ExecutorLoop] = []
        do {
            made.append(try layout.makeExecutor(executors[index], dispatch: dispatch, logger: logger))
            var chained: [(index: Int, executor: BoltExecutor)] = []
            for i in layout.chains.chained(on: index) {
                let loop = try layout.makeExecutor(executors[i], dispatch: dispatch, logger: logger)
                made.append(loop)
                guard let bolt = loop as? BoltExecutor, !bolt.bolts.contains(where: { $0 is any PumpedBolt }) else {
                    throw RuntimeError(
                        description: "component '\(executors[i].componentId)' cannot be chained: it needs a thread")
                }
                chained.append((i, bolt))
            }
            for loop in made {
                for collector in loop.collectors {
                    for (i, bolt) in chained { collector.chainedExecutors[i] = bolt }
                }
            }
        } catch {
            for loop in made { loop.close() }
            throw error
        }
        return made
    }

    /// The stream tick tuples arrive on: from `__system`, stream `__tick`, with the frequency as their value.
    static let tickStream = TupleStream(component: "__system", stream: "__tick", fields: Fields(["rate_secs"]))

    /// Sends each task of the executors at `indices` a tick tuple every `topology.tick.tuple.freq.secs`, until
    /// the runtime stops.
    private func tick(_ indices: [Int]) {
        var due = indices.map { Date().addingTimeInterval(Double(executors[$0].tickSecs!)) }
        while indices.allSatisfy({ executors[$0].isRunning }) {
            usleep(100_000)
            let now = Date()
            for (n, index) in indices.enumerated() where now >= due[n] {
                let executor = executors[index]
                due[n] = now.addingTimeInterval(Double(executor.tickSecs!))
                let secs = Value.int(Int64(executor.tickSecs!))
                dispatch.deliver(
                    executor.tasks.map {
                        Delivery(task: $0.taskId, tuple: Tuple(values: [secs], stream: Self.tickStream, sourceTask: -1))
                    },
                    toExecutor: index)
            }
        }
    }

    public func activate() { setActive(true) }
    public func deactivate() { setActive(false) }

    private func setActive(_ on: Bool) {
        guard active.exchange(on, ordering: .acquiringAndReleasing) != on else { return }
        for executor in executors where executor.isSpout { executor.requestActivation(on) }
    }

    /// Stops the spouts, lets the bolts finish every tuple already emitted (up to `drainTimeout`), then stops the
    /// bolts; each executor calls its components' close or cleanup as it ends.
    public func stop(drainTimeout: TimeInterval = 10) {
        for executor in executors where executor.isSpout { executor.running.store(false, ordering: .releasing) }
        let deadline = Date().addingTimeInterval(drainTimeout)
        while Date() < deadline {
            let spoutsDone = executors.filter(\.isSpout).allSatisfy { $0.stopped.load(ordering: .acquiring) }
            if spoutsDone && dispatch.inFlight.load(ordering: .relaxed) == 0 { break }
            usleep(1000)
        }
        for executor in executors {
            executor.running.store(false, ordering: .releasing)
            executor.queue.close()
        }
        finished.wait()
    }

    /// Emitted and executed counts per component so far.
    public var stats: [String: ComponentStats] {
        var out: [String: ComponentStats] = [:]
        for executor in executors {
            let s = executor.counts.withLock { $0 }
            out[executor.componentId, default: ComponentStats()].emitted += s.emitted
            out[executor.componentId, default: ComponentStats()].executed += s.executed
        }
        return out
    }

    /// Each executor's counts, with its component and whether it is a spout.
    public func executorCounts() -> [(executor: Executor, component: String, isSpout: Bool, counts: ExecutorCounts)] {
        executors.map { executor in
            (
                Executor(executor.tasks.first!.taskId, executor.tasks.last!.taskId), executor.componentId,
                executor.isSpout,
                executor.counts.withLock { $0 }
            )
        }
    }

    // MARK: other workers

    /// Takes tuples that arrived from other workers (see `TupleDispatch.receive`).
    public func receive(_ deliveries: [Delivery]) { dispatch.receive(deliveries) }

    /// Tuples that arrived for tasks this runtime does not run.
    public var misroutedCount: Int { dispatch.misrouted.load(ordering: .relaxed) }

    /// Which of this runtime's tasks other workers must stop sending to: those of bolt executors whose queue is
    /// past their congested depth (until it is back to its capacity), and which they may send to again. `changed`
    /// says whether any executor crossed since the last call. Called from one thread (the worker's backpressure
    /// loop), when `hooks.onBackpressureChange` says it is time: a queue filled, or a congested executor took its
    /// queue.
    public func checkBackpressure() -> (status: BackpressureStatus, changed: Bool) {
        var status = BackpressureStatus()
        var changed = false
        for executor in executors where !executor.isSpout && executor.queue.capacity != .max {
            let depth = executor.queue.depth
            var congested = executor.announced.load(ordering: .relaxed)
            if !congested && depth >= executor.congestedDepth {
                congested = true
                changed = true
            } else if congested && depth <= executor.queue.capacity {
                congested = false
                changed = true
            }
            executor.announced.store(congested, ordering: .relaxed)
            let tasks = executor.tasks.map(\.taskId)
            if congested { status.congested += tasks } else { status.clear += tasks }
        }
        return (status, changed)
    }
}
