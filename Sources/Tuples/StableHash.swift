/// A hash of values that is the same in every process and run (Swift's Hasher is seeded per process), so a
/// fields grouping sends equal values to the same task on every worker and after restarts. It mixes 64-bit
/// words of a canonical form (strings 8 bytes at a time, map keys in sorted order) with a multiply-xorshift
/// step, and finishes with SplitMix64's avalanche so that the low bits (taken modulo the task count) are good.
public struct StableHasher {
    var state: UInt64 = 0x9e37_79b9_7f4a_7c15

    public init() {}

    /// A hasher whose values differ from the unseeded one's: for tables local to a process (`ValueCounts`).
    init(seed: UInt64) { state ^= seed }

    public var value: UInt64 {
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    @inline(__always)
    mutating func word(_ w: UInt64) {
        state = (state ^ w) &* 0xff51_afd7_ed55_8ccd
        state ^= state >> 32
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) { word(UInt64(b)) }

    @inline(__always)
    mutating func bytes(_ p: UnsafeRawBufferPointer) {
        var i = 0
        while i + 8 <= p.count {
            word(p.loadUnaligned(fromByteOffset: i, as: UInt64.self).littleEndian)
            i += 8
        }
        // The last 0 to 7 bytes as one little-endian word, copied in one go (a loop over them was a third of
        // hashing a short word).
        var tail: UInt64 = 0
        if i < p.count {
            withUnsafeMutableBytes(of: &tail) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: p[i...])) }
        }
        tail = UInt64(littleEndian: tail)
        // The length closes the string, so "ab","c" and "a","bc" differ.
        word(tail ^ (UInt64(p.count) << 56))
    }

    public mutating func combine(_ v: Value) {
        switch v {
        case .null: byte(0)
        case .bool(let b): byte(b ? 2 : 1)
        case .int(let i):
            byte(3)
            word(UInt64(bitPattern: i))
        case .double(let d):
            byte(4)
            // 0.0 and -0.0 are equal values: one hash.
            word(d == 0 ? 0 : d.bitPattern)
        case .string(let s):
            byte(5)
            var s = s
            s.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
        case .binary(let b):
            byte(6)
            b.withUnsafeBytes { bytes($0) }
        case .list(let l):
            byte(7)
            word(UInt64(l.count))
            for x in l { combine(x) }
        case .map(let m):
            byte(8)
            word(UInt64(m.count))
            for k in m.keys.sorted() {
                combine(.string(k))
                combine(m[k]!)
            }
        }
    }
}
