/// A running count per value: what a counting bolt keeps. An open-addressing table hashed with `StableHasher`
/// (a few multiplies per 8 bytes of a string) instead of a Dictionary's SipHash, which with `Value`'s generic
/// hashing was a seventh of a word count's instructions. Each table starts its hash from a random seed, so keys
/// chosen to collide in one process do not collide in another; SipHash remains the choice for keys picked by
/// someone who can watch the table's timing.
public struct ValueCounts {
    /// Slot `i` is empty when `hashes[i]` is 0 (a key's hash is never 0).
    private var hashes: [UInt64]
    private var keys: [Value]
    private var counts: [Int64]
    private let seed: UInt64
    public private(set) var count = 0

    public init() {
        hashes = Array(repeating: 0, count: 16)
        keys = Array(repeating: .null, count: 16)
        counts = Array(repeating: 0, count: 16)
        seed = UInt64.random(in: 1...UInt64.max)
    }

    /// Adds one to `key`'s count and returns the new count.
    @discardableResult
    public mutating func increment(_ key: Value) -> Int64 {
        let hash = hashOf(key)
        var i = slot(of: hash)
        while hashes[i] != 0 {
            if hashes[i] == hash && keys[i] == key {
                counts[i] &+= 1
                return counts[i]
            }
            i = (i + 1) & (hashes.count - 1)
        }
        hashes[i] = hash
        keys[i] = key
        counts[i] = 1
        count += 1
        // At most half full: probes stay short.
        if count * 2 > hashes.count { grow() }
        return 1
    }

    /// `key`'s count, or nil when it was never incremented.
    public subscript(key: Value) -> Int64? {
        let hash = hashOf(key)
        var i = slot(of: hash)
        while hashes[i] != 0 {
            if hashes[i] == hash && keys[i] == key { return counts[i] }
            i = (i + 1) & (hashes.count - 1)
        }
        return nil
    }

    /// Every key with its count, in no particular order.
    public var entries: [(key: Value, count: Int64)] {
        hashes.indices.filter { hashes[$0] != 0 }.map { (keys[$0], counts[$0]) }
    }

    @inline(__always)
    private func hashOf(_ key: Value) -> UInt64 {
        var hasher = StableHasher(seed: seed)
        hasher.combine(key)
        let h = hasher.value
        return h == 0 ? 1 : h
    }

    @inline(__always)
    private func slot(of hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & (hashes.count - 1) }

    private mutating func grow() {
        let old = (hashes, keys, counts)
        let size = hashes.count * 2
        hashes = Array(repeating: 0, count: size)
        keys = Array(repeating: .null, count: size)
        counts = Array(repeating: 0, count: size)
        for j in old.0.indices where old.0[j] != 0 {
            var i = slot(of: old.0[j])
            while hashes[i] != 0 { i = (i + 1) & (size - 1) }
            hashes[i] = old.0[j]
            keys[i] = old.1[j]
            counts[i] = old.2[j]
        }
    }
}
