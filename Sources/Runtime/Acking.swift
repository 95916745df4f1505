import Groupings
import Tuples

/// Storm's guaranteed-processing arithmetic: the acker's book and a bolt's anchor book, apart from the executors
/// (`AckerBolt`, `TaskCollector`) that use them, so it can be tested on its own.
///
/// Every tuple of a spout tuple's tree carries, for its root, an edge id: a random 64-bit number. The acker keeps
/// one value per root, the XOR of every edge id it has been told of: the spout's init brings the XOR of the edges
/// it emitted; each ack of a tuple brings that tuple's edge XOR the edges of the tuples anchored to it. Each edge
/// is thus XORed in twice (created, then acked), and the value is zero exactly when every tuple of the tree has
/// been acked (but for a 2^-64 chance).

/// One acker's book: the XOR value, spout task and start time of each pending tree.
public struct AckTracker: Sendable {
    public enum Outcome: Equatable, Sendable {
        case complete(root: UInt64, spoutTask: Int32, latencyNanos: UInt64)
        /// A bolt failed a tuple of the tree (timeouts are the spout's to call).
        case failed(root: UInt64, spoutTask: Int32)
    }

    struct Entry: Sendable {
        var value: UInt64 = 0
        var spoutTask: Int32?
        var started: UInt64
        var failed = false
    }

    let timeoutNanos: UInt64
    private var pending: [UInt64: Entry] = [:]

    public init(timeoutNanos: UInt64) { self.timeoutNanos = timeoutNanos }

    public var pendingCount: Int { pending.count }

    /// The spout emitted a tuple tree: `value` is the XOR of the edge ids it sent.
    public mutating func initialize(root: UInt64, value: UInt64, spoutTask: Int32, now: UInt64) -> Outcome? {
        var entry = pending[root] ?? Entry(started: now)
        entry.value ^= value
        entry.spoutTask = spoutTask
        entry.started = min(entry.started, now)
        return settle(root, entry, now: now)
    }

    /// A bolt acked a tuple of the tree: `value` is its edge id XOR the edges it anchored to it. An ack can
    /// overtake the spout's init (they travel different paths); the tree completes only once both are in.
    public mutating func ack(root: UInt64, value: UInt64, now: UInt64) -> Outcome? {
        var entry = pending[root] ?? Entry(started: now)
        entry.value ^= value
        return settle(root, entry, now: now)
    }

    /// A bolt failed a tuple of the tree: the whole tree fails at once, without waiting for the timeout.
    public mutating func fail(root: UInt64, now: UInt64) -> Outcome? {
        var entry = pending[root] ?? Entry(started: now)
        entry.failed = true
        return settle(root, entry, now: now)
    }

    /// Forgets the trees older than the message timeout (their spout fails them on its own clock); returns how
    /// many.
    public mutating func expire(now: UInt64) -> Int {
        let before = pending.count
        guard pending.contains(where: { now &- $0.value.started > timeoutNanos }) else { return 0 }
        pending = pending.filter { now &- $0.value.started <= timeoutNanos }
        return before - pending.count
    }

    private mutating func settle(_ root: UInt64, _ entry: Entry, now: UInt64) -> Outcome? {
        guard let task = entry.spoutTask else {
            pending[root] = entry
            return nil
        }
        if entry.failed {
            pending[root] = nil
            return .failed(root: root, spoutTask: task)
        }
        if entry.value == 0 {
            pending[root] = nil
            return .complete(root: root, spoutTask: task, latencyNanos: now &- entry.started)
        }
        pending[root] = entry
        return nil
    }
}

/// Random edge and root ids. They need to be distinct, not secret: a fast generator, never 0 (an edge of 0 would
/// vanish in the XOR, and root 0 means "not tracked").
public struct EdgeIds: Sendable {
    private var generator: SplitMix64

    public init(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) { generator = SplitMix64(seed: seed) }

    @inline(__always)
    public mutating func next() -> UInt64 {
        while true {
            let e = generator.next()
            if e != 0 { return e }
        }
    }
}

/// What a bolt task keeps to ack its inputs as Storm does: for each input tuple it has not acked yet, the XOR of
/// the edge ids of the tuples it emitted anchored to it. An input is known by its first edge id (random, so
/// unique among pending tuples). Most bolts emit anchored to the tuple they are executing and then ack it: that
/// one input lives in a slot of its own, and only the others go to a dictionary.
public struct AnchorBook: Sendable {
    private var lastKey: UInt64 = 0
    private var lastValue: UInt64 = 0
    private var others: [UInt64: UInt64] = [:]

    public init() {}

    /// Inputs with emitted tuples anchored to them and not acked yet.
    public var count: Int { (lastKey == 0 ? 0 : 1) + others.count }

    /// The task emitted a tuple anchored to the input `anchor` with the new edge `edge`.
    @inline(__always)
    public mutating func produced(_ edge: UInt64, anchoredTo anchor: TreeIds) {
        let key = anchor.edge
        if key == lastKey {
            lastValue ^= edge
            return
        }
        if lastKey != 0 { others[lastKey, default: 0] ^= lastValue }
        lastKey = key
        lastValue = (others.isEmpty ? 0 : others.removeValue(forKey: key) ?? 0) ^ edge
    }

    /// What the task emitted anchored to `input` (0 when nothing), forgotten: the input is being acked or failed.
    @inline(__always)
    public mutating func take(_ input: TreeIds) -> UInt64 {
        let key = input.edge
        if key == lastKey {
            lastKey = 0
            defer { lastValue = 0 }
            return lastValue
        }
        return others.isEmpty ? 0 : others.removeValue(forKey: key) ?? 0
    }

    /// `input` is acked: calls `send` with each (root, value) pair its ackers must be told of, and forgets it.
    @inline(__always)
    public mutating func settle(_ input: TreeIds, _ send: (_ root: UInt64, _ value: UInt64) -> Void) {
        let extra = take(input)
        input.forEach { root, edge in send(root, edge ^ extra) }
    }

    /// The ids of a tuple emitted anchored to `anchors`: a new edge per tracked anchor, in every tree of that
    /// anchor (multi-anchoring joins the trees).
    public mutating func anchor(to anchors: [TreeIds], edges: inout EdgeIds) -> TreeIds {
        var out = TreeIds()
        for anchor in anchors where anchor.isTracked {
            let edge = edges.next()
            produced(edge, anchoredTo: anchor)
            anchor.forEach { root, _ in out.add(root: root, edge: edge) }
        }
        return out
    }
}

/// Complete latencies, in buckets 3.1% to 6.25% wide (16 per power of two of microseconds; 1 us wide below 16
/// us): enough for a mean and the p99 and p99.9 that ThroughputVsLatency reports, in a fixed 8 KB. A quantile is
/// its bucket's midpoint, so it is off by at most half a bucket: 3.1%.
public struct LatencyHistogram: Sendable, Equatable {
    public private(set) var counts = [UInt64](repeating: 0, count: 976)
    public private(set) var total: UInt64 = 0
    public private(set) var sumNanos: UInt64 = 0

    public init() {}

    static func bucket(_ micros: UInt64) -> Int {
        if micros < 16 { return Int(micros) }
        let power = 63 - micros.leadingZeroBitCount  // >= 4
        let sub = Int((micros >> UInt64(power - 4)) & 15)
        return (power - 3) * 16 + sub  // at most 975
    }

    /// The lower edge of a bucket, in microseconds.
    static func lowerMicros(_ bucket: Int) -> UInt64 {
        if bucket < 16 { return UInt64(bucket) }
        let power = bucket / 16 + 3
        return (16 + UInt64(bucket % 16)) << UInt64(power - 4)
    }

    public mutating func record(nanos: UInt64) {
        counts[Self.bucket(nanos / 1000)] += 1
        total += 1
        sumNanos &+= nanos
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] += other.counts[i] }
        total += other.total
        sumNanos &+= other.sumNanos
    }

    /// The samples recorded after `earlier` (an earlier copy of this histogram).
    public func since(_ earlier: LatencyHistogram) -> LatencyHistogram {
        var out = self
        for i in counts.indices { out.counts[i] -= min(earlier.counts[i], counts[i]) }
        out.total -= min(earlier.total, total)
        out.sumNanos &-= earlier.sumNanos
        return out
    }

    public var meanMillis: Double { total == 0 ? 0 : Double(sumNanos) / Double(total) / 1e6 }

    /// The middle of a bucket, in microseconds.
    static func midpointMicros(_ bucket: Int) -> Double {
        (Double(lowerMicros(bucket)) + Double(lowerMicros(bucket + 1))) / 2
    }

    /// The latency below which a fraction `q` of the samples fall, in milliseconds: the midpoint of the bucket
    /// that holds it (within 3.1%; a bucket's lower edge would read up to 6% low).
    public func quantileMillis(_ q: Double) -> Double {
        guard total > 0 else { return 0 }
        let rank = UInt64((Double(total) * q).rounded(.up))
        var seen: UInt64 = 0
        for (i, n) in counts.enumerated() {
            seen += n
            if seen >= max(rank, 1) { return Self.midpointMicros(i) / 1000 }
        }
        return Self.midpointMicros(counts.count - 1) / 1000
    }
}
