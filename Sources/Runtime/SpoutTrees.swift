import Tuples

/// A spout task's tuple trees: those in flight (their message ids, kept until the acker answers or the timeout
/// passes), and what became of the finished ones.
struct SpoutTrees {
    private(set) var pending: [UInt64: PendingTree] = [:]
    /// Completed trees: the sum of their latencies per stream, and their spread.
    private(set) var completeNanosByStream: [UInt64]
    private(set) var completeLatency = LatencyHistogram()
    private(set) var timedOut: Int64 = 0
    private(set) var failedByBolts: Int64 = 0
    /// The most trees in flight at once.
    private(set) var mostPending = 0

    init(streamCount: Int) { completeNanosByStream = Array(repeating: 0, count: streamCount) }

    var count: Int { pending.count }

    mutating func started(root: UInt64, messageId: Value, stream: Int32, now: UInt64) {
        pending[root] = PendingTree(messageId: messageId, started: now, stream: stream)
        if pending.count > mostPending { mostPending = pending.count }
    }

    /// The acker's answer for the tree `root`; nil when the tree is gone already (it timed out).
    mutating func settle(root: UInt64, acked: Bool, now: UInt64) -> PendingTree? {
        guard let tree = pending.removeValue(forKey: root) else { return nil }
        if acked {
            let latency = now &- tree.started
            completeLatency.record(nanos: latency)
            if tree.stream >= 0 { completeNanosByStream[Int(tree.stream)] &+= latency }
        } else {
            failedByBolts += 1
        }
        return tree
    }

    /// Takes the trees older than `timeoutNanos`, oldest first (a spout that replays what fails replays in order).
    mutating func expire(now: UInt64, timeoutNanos: UInt64) -> [PendingTree] {
        guard !pending.isEmpty else { return [] }
        var expired: [(UInt64, PendingTree)] = []
        for (root, tree) in pending where now &- tree.started > timeoutNanos { expired.append((root, tree)) }
        expired.sort { $0.1.started < $1.1.started }
        for (root, _) in expired { pending[root] = nil }
        timedOut += Int64(expired.count)
        return expired.map(\.1)
    }
}

/// A spout tuple whose tree is not complete yet.
struct PendingTree {
    let messageId: Value
    let started: UInt64
    /// The stream of the spout's tuple, by number (its acks and fails are counted there).
    let stream: Int32
}

/// What one task counts as it runs: tuples emitted (in all, and per stream) and their copies sent to tasks, and
/// acked and failed per stream (a bolt: its inputs, by input stream; a spout: its trees, by the stream of their
/// root), with a bolt's process latencies of its sampled inputs.
struct TaskCounters {
    var emitted = 0
    var emittedByStream: [Int64]
    var transferredByStream: [Int64]
    var ackedByStream: [Int64]
    var failedByStream: [Int64]
    var processNanosByStream: [UInt64]
    var processSamplesByStream: [Int64]

    init(streamCount: Int) {
        emittedByStream = Array(repeating: 0, count: streamCount)
        transferredByStream = Array(repeating: 0, count: streamCount)
        ackedByStream = Array(repeating: 0, count: streamCount)
        failedByStream = Array(repeating: 0, count: streamCount)
        processNanosByStream = Array(repeating: 0, count: streamCount)
        processSamplesByStream = Array(repeating: 0, count: streamCount)
    }
}
