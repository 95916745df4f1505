import Testing

@testable import Tuples

@Suite struct ValueCodecTests {
    static let samples: [Value] = [
        .null, true, false, 0, 1, -1, .int(Int64.max), .int(Int64.min), 300, -300, 1.5, -0.0, .double(.infinity),
        "", "word", "wörd ✓", .binary([]), .binary([0, 1, 255]), [], [1, "two", [3.0, nil]], [:],
        ["a": 1, "b": ["c": [true]]],
    ]

    @Test func everyKindOfValueRoundTrips() throws {
        var bytes: [UInt8] = []
        ValueCodec.encode(values: TupleValues(Self.samples), into: &bytes)
        #expect(try ValueCodec.decodeValues(bytes) == Self.samples)
    }

    @Test func smallValuesAreCompact() {
        var bytes: [UInt8] = []
        ValueCodec.encode(values: ["the", 7], into: &bytes)
        // count, string tag, length, "the", int tag, zigzag(7) = 14
        #expect(bytes == [2, 5, 3, 116, 104, 101, 3, 14])
    }

    @Test func badBytesAreErrorsNotCrashes() {
        var bytes: [UInt8] = []
        ValueCodec.encode(values: [["k": "value"], .binary([1, 2, 3])], into: &bytes)
        for cut in 0..<bytes.count {
            #expect(throws: ValueCodec.DecodingError.self) { try ValueCodec.decodeValues(Array(bytes.prefix(cut))) }
        }
        #expect(throws: ValueCodec.DecodingError(description: "unknown value tag 99 at byte 1")) {
            try ValueCodec.decodeValues([1, 99])
        }
        #expect(throws: ValueCodec.DecodingError.self) { try ValueCodec.decodeValues([1, 5, 0xff, 0xff, 0xff, 0x7f]) }
        #expect(throws: ValueCodec.DecodingError.self) { try ValueCodec.decodeValues(bytes + [0]) }
        // 200 nested one-element lists: refused at the depth limit rather than recursing on.
        let deep = [UInt8](Array(repeating: [UInt8(7), 1], count: 200).joined())
        #expect(throws: ValueCodec.DecodingError.self) { try ValueCodec.decodeValues([1] + deep) }
    }
}

@Suite struct StableHashTests {
    /// The hash of "storm", fixed: it must not change between runs or versions without a migration.
    static let storm: UInt64 = 0xaafb_a72e_6a42_8740  // worked out by hand (see StableHasher) in Python
    func hash(_ v: Value) -> UInt64 {
        var h = StableHasher()
        h.combine(v)
        return h.value
    }

    @Test func equalValuesHashAlikeAndTheHashIsFixed() {
        #expect(hash(["b": 1, "a": 2]) == hash(["a": 2, "b": 1]))
        #expect(hash(0.0) == hash(-0.0))
        #expect(hash("word") != hash("words"))
        #expect(hash(["ab", "c"]) != hash(["a", "bc"]))
        #expect(hash(1) != hash("1"))
        // The same in every process and run: a fields grouping sends a word to the same task after a restart.
        #expect(hash("storm") == Self.storm)
    }
}
