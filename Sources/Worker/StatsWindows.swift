import Runtime
import StormCore
import StormThrift
import Tuples

/// One executor's cumulative counts per stream at one moment, keeping only the entries that are not zero: the
/// snapshots a worker keeps for a day-long window then cost what the executor uses, not what the topology's
/// stream table holds.
struct StreamTotals: Sendable, Equatable {
    enum Counter: UInt8, Sendable {
        case emitted, transferred, executed, acked, failed
        case executeNanos, executeSamples, processNanos, processSamples, completeNanos
    }

    struct Entry: Sendable, Equatable {
        let counter: Counter
        let stream: Int32
        let value: Int64

        /// Entries are kept in this order: by counter, then stream.
        var order: Int64 { Int64(counter.rawValue) << 32 | Int64(stream) }
    }

    private(set) var entries: [Entry] = []

    static let zero = StreamTotals()

    private init() {}

    init(_ counts: ExecutorCounts) {
        func add(_ counter: Counter, _ values: [Int64]) {
            for (i, n) in values.enumerated() where n != 0 {
                entries.append(Entry(counter: counter, stream: Int32(i), value: n))
            }
        }
        // Nanosecond sums fit an Int64 for 292 years.
        func add(_ counter: Counter, _ values: [UInt64]) { add(counter, values.map { Int64(bitPattern: $0) }) }
        add(.emitted, counts.emittedByStream)
        add(.transferred, counts.transferredByStream)
        add(.executed, counts.executedByStream)
        add(.acked, counts.ackedByStream)
        add(.failed, counts.failedByStream)
        add(.executeNanos, counts.executeNanosByStream)
        add(.executeSamples, counts.executeSamplesByStream)
        add(.processNanos, counts.processNanosByStream)
        add(.processSamples, counts.processSamplesByStream)
        add(.completeNanos, counts.completeNanosByStream)
    }

    /// What was added since `earlier`, a snapshot of the same executor: counts only grow, so only the entries
    /// that grew remain.
    func since(_ earlier: StreamTotals) -> StreamTotals {
        var out = StreamTotals()
        var j = 0
        for entry in entries {
            while j < earlier.entries.count && earlier.entries[j].order < entry.order { j += 1 }
            let before =
                j < earlier.entries.count && earlier.entries[j].order == entry.order ? earlier.entries[j].value : 0
            if entry.value > before {
                out.entries.append(Entry(counter: entry.counter, stream: entry.stream, value: entry.value - before))
            }
        }
        return out
    }

    /// The counter's values by stream number.
    func counts(_ counter: Counter) -> [Int: Int64] {
        var out: [Int: Int64] = [:]
        for entry in entries where entry.counter == counter { out[Int(entry.stream)] = entry.value }
        return out
    }

    /// The mean of a latency per stream, in milliseconds: the `nanos` summed over the `samples` timed.
    func meanMillis(_ nanos: Counter, over samples: Counter) -> [Int: Double] {
        let n = counts(samples)
        var out: [Int: Double] = [:]
        for (stream, sum) in counts(nanos) {
            if let count = n[stream], count > 0 { out[stream] = Double(sum) / Double(count) / 1e6 }
        }
        return out
    }
}

/// An executor's counts in one window.
struct WindowTotals: Sendable {
    let window: String
    let totals: StreamTotals
}

/// Storm's stats windows over an executor's cumulative counts. Each window keeps snapshots of the counts taken a
/// bucket apart; its value is the counts now less the oldest snapshot still inside it, so it covers between its
/// length less a bucket and its length (or all the executor's life, while that is shorter). Kept off the tuple
/// path: executors only count, and the worker takes snapshots as it writes its heartbeats.
///
/// Time is given to each call, in nanoseconds of a monotonic clock, and the windows to the initializer, so a test
/// rolls windows without waiting.
struct StatsWindows: Sendable {
    struct Window: Sendable {
        /// The window's key in `ExecutorStats`' maps.
        let name: String
        let lengthNanos: UInt64
        let bucketNanos: UInt64

        init(name: String, lengthSeconds: UInt64, bucketSeconds: UInt64) {
            self.name = name
            lengthNanos = lengthSeconds * 1_000_000_000
            bucketNanos = bucketSeconds * 1_000_000_000
        }
    }

    /// Storm's windows, ten minutes, three hours and a day, in twenty buckets each: at most 21 snapshots each.
    static let storm = [
        Window(name: "600", lengthSeconds: 600, bucketSeconds: 30),
        Window(name: "10800", lengthSeconds: 10800, bucketSeconds: 540),
        Window(name: "86400", lengthSeconds: 86400, bucketSeconds: 4320),
    ]
    static let allTime = ":all-time"

    struct Snapshot: Sendable {
        let at: UInt64
        let totals: StreamTotals
    }

    let windows: [Window]
    /// Per executor, per window, its snapshots, oldest first.
    private var snapshots: [Executor: [[Snapshot]]] = [:]

    init(windows: [Window] = Self.storm) { self.windows = windows }

    /// Takes `totals`, the executor's counts at `now`, and answers its counts in each window, then in all time
    /// (":all-time"). An executor seen for the first time starts from zero now.
    mutating func update(_ executor: Executor, totals: StreamTotals, now: UInt64) -> [WindowTotals] {
        var rings = snapshots[executor] ?? Array(repeating: [Snapshot(at: now, totals: .zero)], count: windows.count)
        var out: [WindowTotals] = []
        for (w, window) in windows.enumerated() {
            if now &- rings[w].last!.at >= window.bucketNanos { rings[w].append(Snapshot(at: now, totals: totals)) }
            // The oldest snapshot inside the window starts it; older ones are of no more use. One always stays,
            // even older than the window (heartbeats that stalled for longer than it).
            let start = now >= window.lengthNanos ? now - window.lengthNanos : 0
            let outside = rings[w].prefix { $0.at < start }.count
            rings[w].removeFirst(min(outside, rings[w].count - 1))
            out.append(WindowTotals(window: window.name, totals: totals.since(rings[w][0].totals)))
        }
        snapshots[executor] = rings
        out.append(WindowTotals(window: Self.allTime, totals: totals))
        return out
    }

    /// Snapshots kept, over every window of every executor: bounded by the windows' bucket counts.
    var snapshotCount: Int { snapshots.values.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } } }
}

/// Storm's `ExecutorStats` from an executor's counts in each window. Empty maps and zero entries are left out:
/// they would cost ZooKeeper bytes at every heartbeat and say nothing a missing entry does not.
enum ExecutorStatsRendering {
    /// Each of `runtime`'s executors' stats in `windows`, as of `now` (a monotonic clock's nanoseconds).
    static func executorStats(
        _ runtime: TopologyRuntime, windows: inout StatsWindows, now: UInt64
    ) -> [ExecutorInfo: ExecutorStats] {
        let streams = runtime.streams.all
        var stats: [ExecutorInfo: ExecutorStats] = [:]
        for entry in runtime.executorCounts() {
            let counts = windows.update(entry.executor, totals: StreamTotals(entry.counts), now: now)
            stats[ExecutorInfo(taskStart: entry.executor.start, taskEnd: entry.executor.end)] = executorStats(
                counts, isSpout: entry.isSpout, streams: streams, samplePeriod: runtime.latencySamplePeriod)
        }
        return stats
    }

    /// - Parameters:
    ///   - windows: the executor's counts in each window (`StatsWindows.update`).
    ///   - streams: the topology's stream table, by which the counts are indexed.
    ///   - samplePeriod: one tuple in this many has its latencies timed; `ExecutorStats.rate` as Storm reports it.
    static func executorStats(
        _ windows: [WindowTotals], isSpout: Bool, streams: [TupleStream], samplePeriod: Int
    ) -> ExecutorStats {
        // Spouts' and emitted counts are keyed by stream id, bolts' by the input's component and stream.
        func byName<V>(_ values: [Int: V]) -> [String: V] {
            var out: [String: V] = [:]
            for (i, v) in values { out[streams[i].stream] = v }
            return out
        }
        func byInput<V>(_ values: [Int: V]) -> [GlobalStreamId: V] {
            var out: [GlobalStreamId: V] = [:]
            for (i, v) in values {
                out[GlobalStreamId(componentId: streams[i].component, streamId: streams[i].stream)] = v
            }
            return out
        }
        var emitted: [String: [String: Int64]] = [:]
        var transferred: [String: [String: Int64]] = [:]
        var spout = SpoutStats(acked: [:], failed: [:], completeMsAvg: [:])
        var bolt = BoltStats(acked: [:], failed: [:], processMsAvg: [:], executed: [:], executeMsAvg: [:])
        for (window, totals) in windows.map({ ($0.window, $0.totals) }) {
            put(&emitted, window, byName(totals.counts(.emitted)))
            put(&transferred, window, byName(totals.counts(.transferred)))
            if isSpout {
                put(&spout.acked, window, byName(totals.counts(.acked)))
                put(&spout.failed, window, byName(totals.counts(.failed)))
                // Every acked tree is timed.
                put(&spout.completeMsAvg, window, byName(totals.meanMillis(.completeNanos, over: .acked)))
            } else {
                put(&bolt.acked, window, byInput(totals.counts(.acked)))
                put(&bolt.failed, window, byInput(totals.counts(.failed)))
                put(&bolt.executed, window, byInput(totals.counts(.executed)))
                put(&bolt.executeMsAvg, window, byInput(totals.meanMillis(.executeNanos, over: .executeSamples)))
                put(&bolt.processMsAvg, window, byInput(totals.meanMillis(.processNanos, over: .processSamples)))
            }
        }
        return ExecutorStats(
            emitted: emitted, transferred: transferred, specific: isSpout ? .spout(spout) : .bolt(bolt),
            rate: Double(samplePeriod))
    }

    private static func put<K, V>(_ map: inout [String: [K: V]], _ window: String, _ values: [K: V]) {
        if !values.isEmpty { map[window] = values }
    }
}
