import Groupings

/// Storm's guaranteed-processing arithmetic, kept apart from the executors that will use it.
///
/// Every tuple of a spout tuple's tree carries, for its root, an edge id: a random 64-bit number. The acker keeps
/// one value per root, the XOR of every edge id it has been told of: the spout's init brings the XOR of the edges
/// it emitted; each ack of a tuple brings that tuple's edge XOR the edges of the tuples anchored to it. Each edge
/// is thus XORed in twice (created, then acked), and the value is zero exactly when every tuple of the tree has
/// been acked (but for a 2^-64 chance).

/// A tuple's place in the trees it belongs to: for each root (spout tuple) id, the tuple's edge id. A tuple
/// anchored to several inputs belongs to all their trees.
public struct MessageIds: Equatable, Sendable {
    public var edges: [UInt64: UInt64] = [:]

    public init(_ edges: [UInt64: UInt64] = [:]) { self.edges = edges }

    public var isEmpty: Bool { edges.isEmpty }
}

/// One acker's book: the XOR value, spout task and start time of each pending tree.
public struct AckTracker: Sendable {
    public enum Reason: String, Sendable {
        case failed  // a bolt failed a tuple of the tree
        case timedOut  // not complete within topology.message.timeout.secs
    }

    public enum Outcome: Equatable, Sendable {
        case complete(root: UInt64, spoutTask: Int32, latencyNanos: UInt64)
        case failed(root: UInt64, spoutTask: Int32, reason: Reason)
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

    /// Trees older than the message timeout fail.
    public mutating func expire(now: UInt64) -> [Outcome] {
        var out: [Outcome] = []
        for (root, entry) in pending where now &- entry.started > timeoutNanos {
            pending[root] = nil
            // A tree whose spout never said where it came from cannot be reported; it is dropped.
            if let task = entry.spoutTask { out.append(.failed(root: root, spoutTask: task, reason: .timedOut)) }
        }
        return out
    }

    private mutating func settle(_ root: UInt64, _ entry: Entry, now: UInt64) -> Outcome? {
        guard let task = entry.spoutTask else {
            pending[root] = entry
            return nil
        }
        if entry.failed {
            pending[root] = nil
            return .failed(root: root, spoutTask: task, reason: .failed)
        }
        if entry.value == 0 {
            pending[root] = nil
            return .complete(root: root, spoutTask: task, latencyNanos: now &- entry.started)
        }
        pending[root] = entry
        return nil
    }
}

/// What a bolt task keeps to ack its inputs as Storm does: for each input tuple it has not acked yet, the XOR of
/// the edge ids of the tuples it emitted anchored to it.
public struct AnchorBook: Sendable {
    private var produced: [ObjectIdentifier: UInt64] = [:]
    // Edge ids need to be distinct, not secret: a fast generator, never 0 (an edge of 0 would vanish in the XOR).
    private var generator: SplitMix64

    public init(seed: UInt64 = UInt64.random(in: 1...UInt64.max)) { generator = SplitMix64(seed: seed) }

    private mutating func edge() -> UInt64 {
        while true {
            let e = generator.next()
            if e != 0 { return e }
        }
    }

    /// The message ids of a tuple emitted anchored to `anchors` (each identified by a key the caller keeps
    /// stable while the anchor is pending, with its own message ids).
    public mutating func anchor(to anchors: [(key: ObjectIdentifier, ids: MessageIds)]) -> MessageIds {
        var out = MessageIds()
        for anchor in anchors where !anchor.ids.isEmpty {
            let edge = edge()
            produced[anchor.key, default: 0] ^= edge
            for root in anchor.ids.edges.keys { out.edges[root, default: 0] ^= edge }
        }
        return out
    }

    /// The (root, value) pairs to send the ackers when the tuple `key` with `ids` is acked (or failed: then only
    /// the roots matter).
    public mutating func settle(key: ObjectIdentifier, ids: MessageIds) -> [(root: UInt64, value: UInt64)] {
        let extra = produced.removeValue(forKey: key) ?? 0
        return ids.edges.map { (root: $0.key, value: $0.value ^ extra) }
    }

    /// A fresh edge id (for a spout's outgoing tuples).
    public mutating func newEdge() -> UInt64 { edge() }
}
