import Logging
import Synchronization
import Tuples

/// Moves batches of tuples to where their tasks run: a local executor's queue, or the transfer to other workers.
/// Shared by every collector of a runtime and by the threads that read tuples from other workers.
final class TupleDispatch: Sendable {
    let executors: [ExecutorHandle]
    /// For each task id, the index of the executor that runs it; `remoteIndex` for a task of another worker, -1
    /// for a task no executor runs (system tasks). An array, not a dictionary: it is read for every tuple.
    let executorOfTask: [Int]
    /// The outbox index of tuples bound for other workers: one past the local executors.
    let remoteIndex: Int
    /// Executors that run on another's thread, which hands them their tuples directly: nothing may be queued
    /// for them.
    let isChained: [Bool]
    let transfer: (any TupleTransfer)?
    let hooks: RuntimeHooks
    let logger: Logger
    /// Streams in the topology (the length of every per-stream counter).
    let streamCount: Int
    /// Tuples given to bolts here and not yet executed: stopping waits for none.
    let inFlight = Atomic<Int>(0)
    let misrouted = Atomic<Int>(0)

    /// Tuples per batch between executors: large enough to amortize the queue's lock, small enough to stay warm.
    static let batchSize = 256
    /// Partial batches leave at least this often (Storm's topology.batch.flush.interval.millis default, 1 ms).
    static let flushIntervalNanos: UInt64 = 1_000_000

    init(
        executors: [ExecutorHandle], executorOfTask: [Int], chains: ExecutorChains, transfer: (any TupleTransfer)?,
        hooks: RuntimeHooks, logger: Logger, streamCount: Int
    ) {
        self.executors = executors
        isChained = executors.indices.map { chains.isChained($0) }
        self.executorOfTask = executorOfTask
        remoteIndex = executors.count
        self.transfer = transfer
        self.hooks = hooks
        self.logger = logger
        self.streamCount = streamCount
    }

    /// One outbox per local executor, and one for other workers.
    var outboxCount: Int { executors.count + 1 }

    /// `force`: never wait for room (see `receive`).
    func deliver(_ batch: [Delivery], toExecutor index: Int, force: Bool = false) {
        if index == remoteIndex {
            transfer?.transfer(batch)
            return
        }
        let executor = executors[index]
        // What spouts receive is acker answers, not work the topology must finish before it stops.
        if !executor.isSpout { inFlight.wrappingAdd(batch.count, ordering: .relaxed) }
        if force {
            if executor.queue.forcePut(batch) >= executor.congestedDepth && !executor.announced.load(ordering: .relaxed)
            {
                hooks.onBackpressureChange?()
            }
        } else {
            executor.queue.put(batch)
        }
    }

    /// Takes tuples that arrived from other workers: each goes to the executor of its task here. A tuple for a
    /// task not run here (a worker whose assignment just changed) is dropped and counted. Never waits for room:
    /// a socket carries tuples for every task here, acks included, and a reader stuck on one full queue would
    /// hold up the rest, and with them the peer, which may be waiting on this worker in turn. Full queues are
    /// announced to the peers instead (`TopologyRuntime.checkBackpressure`), and they stop sending to those tasks.
    func receive(_ deliveries: [Delivery]) {
        var groups: [[Delivery]] = Array(repeating: [], count: executors.count)
        var strays = 0
        for d in deliveries {
            let i = Int(d.task) < executorOfTask.count && d.task >= 0 ? executorOfTask[Int(d.task)] : -1
            // A chained executor's inputs all come from its own thread: a tuple from elsewhere is a stray.
            if i >= 0 && i < remoteIndex && !isChained[i] { groups[i].append(d) } else { strays += 1 }
        }
        // In batches of the usual size: a queue holds a bounded number of batches, so a frame of thousands of
        // tuples would otherwise weigh as much there as a batch of one.
        for i in groups.indices where !groups[i].isEmpty {
            if groups[i].count <= Self.batchSize {
                deliver(groups[i], toExecutor: i, force: true)
            } else {
                for start in stride(from: 0, to: groups[i].count, by: Self.batchSize) {
                    deliver(
                        Array(groups[i][start..<min(start + Self.batchSize, groups[i].count)]), toExecutor: i,
                        force: true)
                }
            }
        }
        if strays > 0 { misrouted.wrappingAdd(strays, ordering: .relaxed) }
    }
}
