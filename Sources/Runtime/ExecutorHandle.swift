import Components
import Foundation
import Locking
import StormCore
import StormThrift
import Synchronization
import Tuples

/// One task as the layout knows it: its id and the context its component will see.
struct TaskSpec: Sendable {
    let taskId: Int32
    let context: TopologyContext
}

/// What one executor shares with the rest of the runtime: what it runs, its input queue, its flags and its
/// counts. Safe from any thread. Its components and collectors are not here: they live on the executor's thread.
final class ExecutorHandle: Sendable {
    let componentId: String
    let component: ComponentRef
    let isSpout: Bool
    let isAcker: Bool
    /// Contiguous task ids, lowest first.
    let tasks: [TaskSpec]
    let queue: BatchQueue<Delivery>
    /// Seconds between tick tuples, for a bolt that asked for them (and an acker, which expires trees on them).
    let tickSecs: Int?
    /// Cleared to end the executor's loop.
    let running = Atomic<Bool>(true)
    /// Set by a spout executor once its loop has ended and its last tuples are sent.
    let stopped = Atomic<Bool>(false)
    /// A spout's activation change its loop has not seen yet: 0 none, 1 activate, 2 deactivate.
    private let activation = Atomic<UInt8>(0)
    /// Whether other workers are told to stop sending to this executor. Changed only by the backpressure
    /// check; read by the executor, which pokes the check when it takes a congested queue.
    let announced = Atomic<Bool>(false)
    let counts = Locked(ExecutorCounts())
    /// What share of its emits `debug` samples.
    let sampling = DebugSampling()

    init(componentId: String, component: ComponentRef, isAcker: Bool, tasks: [TaskSpec], tickSecs: Int?) {
        self.componentId = componentId
        self.component = component
        isSpout = component.kind == .spout
        self.isAcker = isAcker
        self.tasks = tasks
        self.tickSecs = tickSecs
        // What spouts and ackers receive is acking traffic, bounded by the trees in flight: a full queue there
        // would let a bolt blocked on an acker block the spout that feeds it.
        queue = BatchQueue(capacity: isSpout || isAcker ? .max : 64)
    }

    var isRunning: Bool { running.load(ordering: .acquiring) }

    func requestActivation(_ on: Bool) { activation.store(on ? 1 : 2, ordering: .releasing) }

    /// The activation change asked for since the last call, if any.
    func takeActivationChange() -> Bool? {
        switch activation.exchange(0, ordering: .acquiringAndReleasing) {
        case 1: true
        case 2: false
        default: nil
        }
    }

    /// Batches waiting at which this executor's queue counts as congested for other workers: twice what local
    /// producers may fill it with. Local producers keep a queue near its capacity whenever its executor is the
    /// bottleneck; congesting at capacity stalled the remote producers at every batch, while local ones kept
    /// their share (a tenth of a two-worker word count).
    var congestedDepth: Int { queue.capacity == .max ? .max : queue.capacity * 2 }

    /// Adds an executor loop's counts to what other threads read: once per batch, under the lock they take. The
    /// counts are copied into the arrays already there rather than shared with the tasks: a shared array would be
    /// copied afresh by the task's next count, an allocation per batch and per counter.
    func publish(
        _ collectors: [TaskCollector], executed: Int, emitted: Int, executedByStream: [Int64]? = nil,
        executeTimes: ExecuteTimes? = nil
    ) {
        let isSpout = isSpout
        counts.withLock { stats in
            stats.executed += Int64(executed)
            stats.emitted += Int64(emitted)
            Self.store(&stats.emittedByStream, summing: collectors) { $0.counters.emittedByStream }
            Self.store(&stats.transferredByStream, summing: collectors) { $0.counters.transferredByStream }
            Self.store(&stats.ackedByStream, summing: collectors) { $0.counters.ackedByStream }
            Self.store(&stats.failedByStream, summing: collectors) { $0.counters.failedByStream }
            if let executedByStream { Self.store(&stats.executedByStream, executedByStream) }
            if let executeTimes {
                Self.store(&stats.executeNanosByStream, executeTimes.nanos)
                Self.store(&stats.executeSamplesByStream, executeTimes.samples)
                Self.store(&stats.processNanosByStream, summing: collectors) { $0.counters.processNanosByStream }
                Self.store(&stats.processSamplesByStream, summing: collectors) { $0.counters.processSamplesByStream }
            }
            guard isSpout else { return }
            Self.store(&stats.completeNanosByStream, summing: collectors) { $0.trees.completeNanosByStream }
            stats.completeLatency = collectors.dropFirst().reduce(into: collectors[0].trees.completeLatency) {
                $0.merge($1.trees.completeLatency)
            }
            stats.failedByBolts = collectors.reduce(0) { $0 + $1.trees.failedByBolts }
            stats.timedOut = collectors.reduce(0) { $0 + $1.trees.timedOut }
            stats.pendingTrees = collectors.reduce(0) { $0 + $1.trees.count }
            stats.mostPendingTrees = collectors.map(\.trees.mostPending).max() ?? 0
        }
    }

    /// Writes `source` over `target` in place (no allocation once `target` has its length and is not shared).
    private static func store<T: FixedWidthInteger>(_ target: inout [T], _ source: [T]) {
        guard target.count == source.count else {
            target = source
            return
        }
        for i in source.indices { target[i] = source[i] }
    }

    /// Writes a per-stream counter summed over an executor's tasks over `target`, in place.
    private static func store<T: FixedWidthInteger>(
        _ target: inout [T], summing collectors: [TaskCollector], _ counts: (TaskCollector) -> [T]
    ) {
        store(&target, counts(collectors[0]))
        for collector in collectors.dropFirst() {
            for (i, n) in counts(collector).enumerated() { target[i] &+= n }
        }
    }
}

/// A bolt executor's sampled tuples' time in execute, and how many were timed, by input stream.
struct ExecuteTimes {
    var nanos: [UInt64]
    var samples: [Int64]

    init(streamCount: Int) {
        nanos = Array(repeating: 0, count: streamCount)
        samples = Array(repeating: 0, count: streamCount)
    }
}

/// The monotonic clock the tuple path reads, in nanoseconds.
enum MonotonicClock {
    @inline(__always)
    static func nanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
