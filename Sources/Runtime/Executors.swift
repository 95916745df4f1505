import Components
import Foundation
import Locking
import Logging
import Synchronization
import Tuples

/// An executor as its thread sees it: made on that thread (its components and collectors never leave it), run
/// there until the runtime stops it, then closed there.
protocol ExecutorLoop: AnyObject {
    /// One per task, in task order.
    var collectors: [TaskCollector] { get }
    func run()
    /// Calls the components' close (spouts) or cleanup (bolts).
    func close()
}

extension RuntimeLayout {
    /// Makes the executor `handle` describes, with a component and a collector per task, and opens or prepares
    /// its tasks. Called on the thread that will run it.
    func makeExecutor(_ handle: ExecutorHandle, dispatch: TupleDispatch, logger: Logger) throws -> any ExecutorLoop {
        var components: [any Component] = []
        var collectors: [TaskCollector] = []
        for task in handle.tasks {
            let component = try makeComponent(handle, logger: logger)
            let collector = TaskCollector(
                dispatch: dispatch, taskId: task.taskId, componentId: handle.componentId,
                routes: try routes(of: handle.componentId),
                streams: streams.streams(of: handle.componentId), sampling: handle.sampling)
            collector.spout = component as? any Spout
            components.append(component)
            collectors.append(collector)
        }
        if handle.isSpout {
            let spouts = try components.map {
                guard let spout = $0 as? any Spout else {
                    throw RuntimeError(description: "component '\(handle.componentId)' is not a spout")
                }
                return spout
            }
            let executor = SpoutExecutor(
                handle: handle, spouts: spouts, collectors: collectors, acking: acking, logger: logger)
            for (i, spout) in spouts.enumerated() {
                try spout.open(context: handle.tasks[i].context, collector: collectors[i])
            }
            return executor
        }
        let bolts = try components.map {
            guard let bolt = $0 as? any Components.Bolt else {
                throw RuntimeError(description: "component '\(handle.componentId)' is not a bolt")
            }
            return bolt
        }
        let executor = BoltExecutor(
            handle: handle, bolts: bolts, collectors: collectors, dispatch: dispatch,
            sampler: LatencySampler(period: samplePeriod))
        for (i, bolt) in bolts.enumerated() {
            if let pumped = bolt as? any PumpedBolt {
                let queue = handle.queue
                pumped.wake = { queue.wake() }
            }
            try bolt.prepare(context: handle.tasks[i].context, collector: collectors[i])
        }
        return executor
    }
}

/// A spout executor: calls its tasks' `nextTuple` while active, and hands them their ackers' answers.
final class SpoutExecutor: ExecutorLoop {
    let handle: ExecutorHandle
    let spouts: [any Spout]
    let collectors: [TaskCollector]
    let acking: AckingSettings
    let logger: Logger

    init(
        handle: ExecutorHandle, spouts: [any Spout], collectors: [TaskCollector], acking: AckingSettings, logger: Logger
    ) {
        self.handle = handle
        self.spouts = spouts
        self.collectors = collectors
        self.acking = acking
        self.logger = logger
    }

    func run() {
        var isActive = false
        var idleRounds = 0
        var lastFlush = MonotonicClock.nanos()
        var upkeep = TreeUpkeep(summaryInterval: 10_000_000_000, now: lastFlush)
        while handle.isRunning {
            if let change = handle.takeActivationChange(), change != isActive {
                isActive = change
                for spout in spouts { if isActive { spout.activate() } else { spout.deactivate() } }
            }
            // Acker answers first: they free room under topology.max.spout.pending and replay failures.
            if acking.hasAckers { settleTrees(waitNanos: 0, upkeep: &upkeep) }
            guard isActive else {
                flushAll()
                if acking.hasAckers { settleTrees(waitNanos: 10_000_000, upkeep: &upkeep) } else { usleep(10_000) }
                handle.publish(collectors, executed: 0, emitted: 0)
                continue
            }
            var emitted = 0
            var throttled = 0
            // Several rounds between checks of the shared flags, but no longer than a flush interval: a slow
            // spout's tuples must not wait for a full batch.
            let roundStart = MonotonicClock.nanos()
            var caughtUp = false
            for round in 0..<64 {
                let emittedBefore = emitted
                for (i, spout) in spouts.enumerated() {
                    let collector = collectors[i]
                    if let max = acking.maxSpoutPending, collector.trees.count >= max {
                        throttled += 1
                        continue
                    }
                    let before = collector.counters.emitted
                    spout.nextTuple()
                    emitted += collector.counters.emitted - before
                }
                // A round without a tuple: the spouts have emitted what they had (or what their pace allows), so
                // what they emitted leaves now rather than at the flush interval.
                if emitted == emittedBefore && emitted > 0 {
                    caughtUp = true
                    break
                }
                // The clock every eighth round: reading it for every tuple cost 5% of a fast spout's time.
                if round & 7 == 7 && MonotonicClock.nanos() - roundStart >= TupleDispatch.flushIntervalNanos { break }
            }
            let now = MonotonicClock.nanos()
            if emitted == 0 {
                flushAll()
                lastFlush = now
                idleRounds += 1
                if throttled > 0 && acking.hasAckers {
                    // Every task at topology.max.spout.pending: wait for acker answers rather than spin.
                    settleTrees(waitNanos: 1_000_000, upkeep: &upkeep)
                } else if acking.hasAckers {
                    // Nothing to emit: back off, as Storm's default spout wait strategy does, but wake for an
                    // acker's answer: a tree's complete latency would otherwise include the rest of the nap.
                    settleTrees(waitNanos: min(idleRounds, 10) * 100_000, upkeep: &upkeep)
                } else {
                    usleep(UInt32(min(idleRounds, 10)) * 100)
                }
            } else {
                idleRounds = 0
                let due = caughtUp || now - lastFlush >= TupleDispatch.flushIntervalNanos
                flushAll(onlyFull: !due)
                if due { lastFlush = now }
            }
            handle.publish(collectors, executed: 0, emitted: emitted)
        }
        flushAll()
        handle.stopped.store(true, ordering: .releasing)
    }

    /// Hands the spout tasks their ackers' answers (waiting up to `waitNanos` for some), and once a second fails
    /// the trees that have outlived topology.message.timeout.secs.
    private func settleTrees(waitNanos: Int, upkeep: inout TreeUpkeep) {
        let batches = waitNanos > 0 ? handle.queue.takeAll(timeoutNanos: waitNanos) : handle.queue.takeReady()
        let now = MonotonicClock.nanos()
        if !batches.isEmpty {
            let first = handle.tasks[0].taskId
            for batch in batches {
                for d in batch where collectors[Int(d.task - first)].settleTree(d.tuple, now: now) {
                    upkeep.failed += 1
                }
            }
        }
        if let timeout = acking.messageTimeoutNanos, now &- upkeep.lastExpiry >= 1_000_000_000 {
            upkeep.lastExpiry = now
            for collector in collectors { upkeep.timedOut += collector.expireTrees(now: now, timeoutNanos: timeout) }
        }
        if let line = upkeep.failureSummary(now: now) { logger.warning("\(handle.componentId): \(line)") }
    }

    private func flushAll(onlyFull: Bool = false) {
        for collector in collectors { collector.flush(onlyFull: onlyFull) }
    }

    func close() {
        for spout in spouts { spout.close() }
    }
}

@available(*, unavailable, message: "an executor belongs to its thread")
extension SpoutExecutor: Sendable {}

/// A bolt executor: takes batches from its queue and has its tasks execute each tuple; times the tuples its
/// sampler picks.
final class BoltExecutor: ExecutorLoop {
    let handle: ExecutorHandle
    let bolts: [any Components.Bolt]
    let collectors: [TaskCollector]
    let dispatch: TupleDispatch
    @exclusivity(unchecked) private var sampler: LatencySampler
    /// The sampled tuples' time in execute, by input stream. Only this executor's thread touches it.
    @exclusivity(unchecked) private var executeTimes: ExecuteTimes

    init(
        handle: ExecutorHandle, bolts: [any Components.Bolt], collectors: [TaskCollector], dispatch: TupleDispatch,
        sampler: LatencySampler
    ) {
        self.handle = handle
        self.bolts = bolts
        self.collectors = collectors
        self.dispatch = dispatch
        self.sampler = sampler
        executeTimes = ExecuteTimes(streamCount: dispatch.streamCount)
        executedByStream = Array(repeating: 0, count: dispatch.streamCount)
    }

    /// Per input stream, the tuples executed so far: published whole after each batch.
    @exclusivity(unchecked) private var executedByStream: [Int64]

    func run() {
        let pumped = bolts.compactMap { $0 as? any PumpedBolt }
        while handle.isRunning {
            let batches = handle.queue.takeAll(timeoutMillis: 50)
            if !pumped.isEmpty {
                let before = emittedSoFar()
                for bolt in pumped { bolt.pump() }
                let emitted = emittedSoFar() - before
                // What the children said may be only acks (not counted as emitted): flush whatever is waiting.
                flushAll()
                if emitted > 0 { publish(executed: 0, emitted: emitted, executedByStream: executedByStream) }
            }
            if batches.isEmpty { continue }
            if handle.announced.load(ordering: .relaxed) { dispatch.hooks.onBackpressureChange?() }
            let emittedBefore = emittedSoFar()
            var executed = 0
            for batch in batches { executed += execute(batch) }
            // Shell bolts write the batch's tuples to their children now, in one go.
            for bolt in pumped { bolt.pump() }
            let emitted = emittedSoFar() - emittedBefore
            // Downstream first, then count these as done: in-flight never drops to zero while work remains.
            flushAll()
            dispatch.inFlight.wrappingSubtract(executed, ordering: .relaxed)
            publish(executed: executed, emitted: emitted, executedByStream: executedByStream)
        }
    }

    /// Executes a batch its producer hands over on this thread (a chained executor): at once, with its own
    /// emits flushed before the producer goes on.
    func executeChained(_ batch: [Delivery]) {
        let emittedBefore = emittedSoFar()
        let executed = execute(batch)
        flushAll()
        publish(executed: executed, emitted: emittedSoFar() - emittedBefore, executedByStream: executedByStream)
    }

    /// Has the tasks execute each tuple of `batch`; returns how many.
    private func execute(_ batch: [Delivery]) -> Int {
        // An executor's tasks are a contiguous range: index by offset from the first. Most executors run one
        // task, which is hoisted out of the loop.
        let first = handle.tasks[0].taskId
        let bolts = bolts
        let single = bolts.count == 1 ? bolts[0] : nil
        // Through the buffer, so each tuple is lent to execute rather than copied out (and retained).
        batch.withUnsafeBufferPointer { deliveries in
            for i in deliveries.indices {
                let stream = Int(deliveries[i].tuple.stream.id)
                if stream >= 0 { executedByStream[stream] &+= 1 }
                if sampler.next() && stream >= 0 {
                    executeTimed(deliveries, i, stream: stream, first: first)
                } else if let single {
                    single.execute(deliveries[i].tuple)
                } else {
                    bolts[Int(deliveries[i].task - first)].execute(deliveries[i].tuple)
                }
            }
        }
        return batch.count
    }

    /// Executes the sampled tuple `deliveries[i]`, timed, and marked with its start for its process latency at
    /// its ack. Given the buffer, not the delivery: a delivery passed by value was copied out of the buffer (and
    /// retained) for every tuple, sampled or not, which showed in the word count's profile.
    @inline(never)
    private func executeTimed(_ deliveries: UnsafeBufferPointer<Delivery>, _ i: Int, stream: Int, first: Int32) {
        let bolt = bolts.count == 1 ? bolts[0] : bolts[Int(deliveries[i].task - first)]
        let start = MonotonicClock.nanos()
        bolt.execute(deliveries[i].tuple.sampled(atMicros: LatencySampler.micros(start)))
        executeTimes.nanos[stream] &+= MonotonicClock.nanos() &- start
        executeTimes.samples[stream] &+= 1
    }

    private func publish(executed: Int, emitted: Int, executedByStream: [Int64]) {
        handle.publish(
            collectors, executed: executed, emitted: emitted, executedByStream: executedByStream,
            executeTimes: executeTimes)
    }

    private func emittedSoFar() -> Int { collectors.reduce(0) { $0 + $1.counters.emitted } }

    private func flushAll() {
        for collector in collectors { collector.flush() }
    }

    func close() {
        for bolt in bolts { bolt.cleanup() }
    }
}

@available(*, unavailable, message: "an executor belongs to its thread")
extension BoltExecutor: Sendable {}

/// A spout executor's periodic work on its trees: when it last failed the timed-out ones, and its failures by
/// reason since its last log line. The first failures after a quiet spell are logged at once; later ones at most
/// once per interval (a line per failure would flood the log exactly when something is wrong).
struct TreeUpkeep {
    let summaryInterval: UInt64
    var failed = 0
    var timedOut = 0
    var lastSummary: UInt64
    var lastExpiry: UInt64

    init(summaryInterval: UInt64, now: UInt64) {
        self.summaryInterval = summaryInterval
        lastSummary = now &- summaryInterval
        lastExpiry = now
    }

    mutating func failureSummary(now: UInt64) -> String? {
        guard failed + timedOut > 0, now &- lastSummary >= summaryInterval else { return nil }
        let seconds = (now &- lastSummary) / 1_000_000_000
        lastSummary = now
        defer { (failed, timedOut) = (0, 0) }
        return
            "\(failed + timedOut) tuple trees failed in the last \(seconds) s: \(timedOut) timed out, \(failed) failed by a bolt"
    }
}

/// Holds every executor thread between preparing its tasks and running them, so none runs before all are
/// prepared, and none runs at all when one failed.
final class StartGate: Sendable {
    private let preparing = DispatchGroup()
    private let decided = DispatchGroup()
    private let failures = Locked<[any Error]>([])
    private let go = Atomic<Bool>(false)

    init() { decided.enter() }

    /// One more executor to wait for: called before its thread starts.
    func expect() { preparing.enter() }

    /// An executor is prepared (`error` nil) or could not be; returns, once every executor has reported,
    /// whether to run.
    func report(_ error: (any Error)?) -> Bool {
        if let error { failures.withLock { $0.append(error) } }
        preparing.leave()
        decided.wait()
        return go.load(ordering: .acquiring)
    }

    /// Waits for every executor to report; lets them run, or throws the first failure (and none runs).
    func open() throws {
        preparing.wait()
        let first = failures.withLock { $0.first }
        go.store(first == nil, ordering: .releasing)
        decided.leave()
        if let first { throw first }
    }
}
