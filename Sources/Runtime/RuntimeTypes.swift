import Components
import Tuples

#if canImport(Glibc)
import Glibc
#endif

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
    /// The copies of emitted tuples sent to tasks, per stream, as Storm counts "transferred": a tuple to three
    /// tasks counts three, one with no target none.
    public var transferredByStream: [Int64] = []
    /// A bolt: the tuples it acked and failed, by input stream. A spout: its trees completed and failed, by the
    /// stream of their root tuple.
    public var ackedByStream: [Int64] = []
    public var failedByStream: [Int64] = []
    /// A bolt, by input stream: the time its sampled tuples (`topology.stats.sample.rate`) spent in execute, and
    /// from the start of execute to their ack (Storm's process latency; failed tuples are left out), with how
    /// many were timed each way: a mean is the one over the other.
    public var executeNanosByStream: [UInt64] = []
    public var executeSamplesByStream: [Int64] = []
    public var processNanosByStream: [UInt64] = []
    public var processSamplesByStream: [Int64] = []
    /// A spout: the sum of its trees' complete latencies, by stream (every acked tree is timed, so the mean is
    /// this over `ackedByStream`), and their spread.
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

/// A worker's word to its peers: stop sending to these tasks of mine; these you may send to.
public struct BackpressureStatus: Equatable, Sendable {
    public var congested: [Int32] = []
    public var clear: [Int32] = []

    public init(congested: [Int32] = [], clear: [Int32] = []) {
        self.congested = congested
        self.clear = clear
    }
}

/// The calling thread's name as the kernel knows it (what `top -H`, `perf` and `/proc` show): Foundation's
/// `Thread.name` does not reach the kernel on Linux. The kernel keeps the first 15 bytes.
enum KernelThreadName {
    static func set(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
