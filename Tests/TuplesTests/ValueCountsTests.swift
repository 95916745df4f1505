import Testing

@testable import Tuples

@Suite struct ValueCountsTests {
    /// Many keys of every kind, each counted a different number of times, through several growths of the table:
    /// the same counts as a Dictionary keeps.
    @Test func countsAsADictionaryDoesThroughGrowth() {
        var keys: [Value] = [.null, .bool(true), .bool(false), .double(0), .double(-0.5), .binary([1, 2])]
        keys += (0..<3000).map { .string("word\($0)") }
        keys += (0..<3000).map { .int(Int64($0) * 7919) }
        keys += [.list(["a", 1]), .map(["k": "v"]), .string(""), .string("a long string past sixteen bytes, ü")]
        var counts = ValueCounts()
        var expected: [Value: Int64] = [:]
        for (i, key) in keys.enumerated() {
            for _ in 0...(i % 3) {
                let n = counts.increment(key)
                expected[key, default: 0] += 1
                #expect(n == expected[key])
            }
        }
        #expect(counts.count == expected.count)
        for (key, n) in expected { #expect(counts[key] == n) }
        #expect(counts[.string("never seen")] == nil)
        #expect(Dictionary(uniqueKeysWithValues: counts.entries.map { ($0.key, $0.count) }) == expected)
    }

    /// 0.0 and -0.0 are one value, as Value's equality says.
    @Test func equalValuesShareACount() {
        var counts = ValueCounts()
        counts.increment(.double(0))
        #expect(counts.increment(.double(-0.0)) == 2)
    }
}
