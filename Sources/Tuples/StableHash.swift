/// A hash of values that is the same in every process and run (Swift's Hasher is seeded per process), so a
/// fields grouping sends equal values to the same task on every worker and after restarts. FNV-1a, 64 bits,
/// over a canonical byte form (map keys in sorted order).
public struct StableHasher {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        value = (value ^ UInt64(b)) &* 0x0000_0100_0000_01b3
    }

    @inline(__always)
    mutating func word(_ w: UInt64) {
        var w = w
        for _ in 0..<8 {
            byte(UInt8(truncatingIfNeeded: w))
            w >>= 8
        }
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
            for b in s.utf8 { byte(b) }
            byte(0xff)
        case .binary(let bytes):
            byte(6)
            word(UInt64(bytes.count))
            for b in bytes { byte(b) }
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
