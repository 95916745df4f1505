import Testing

@testable import Tuples

@Suite struct TupleValuesTests {
    @Test func shortTuplesAreInlineAndLongOnesAnArray() {
        let none: TupleValues = []
        let one: TupleValues = ["word"]
        let two: TupleValues = ["word", 3]
        let three: TupleValues = ["a", "b", "c"]
        #expect(none.isEmpty)
        guard case .one(.string("word")) = one.storage else {
            Issue.record("one value not inline")
            return
        }
        guard case .two(.string("word"), .int(3)) = two.storage else {
            Issue.record("two not inline")
            return
        }
        guard case .many(let list) = three.storage else {
            Issue.record("three values not an array")
            return
        }
        #expect(list == ["a", "b", "c"])
    }

    @Test func readsAsTheArrayItWasMadeFrom() {
        for values: [Value] in [[], [1], [1, "two"], [1, "two", 3.0], [nil, [1, 2], ["k": true], .binary([9])]] {
            let tuple = TupleValues(values)
            #expect(tuple.count == values.count)
            #expect(Array(tuple) == values)
            #expect(tuple.array == values)
            #expect(tuple == values)
            #expect(tuple.description == values.description)
            for (i, v) in values.enumerated() { #expect(tuple[i] == v) }
            var visited: [Value] = []
            tuple.forEachValue { visited.append($0) }
            #expect(visited == values)
        }
    }

    @Test func equalValuesAreEqualAndHashAlikeHoweverMade() {
        let literal: TupleValues = ["word", 1]
        let fromArray = TupleValues(["word", 1] as [Value])
        let fromPair = TupleValues("word", 1)
        let fromSequence = TupleValues(["word", 1].lazy.map { $0 as Value })
        #expect(Set([literal, fromArray, fromPair, fromSequence]).count == 1)
        #expect(literal != ["word", 2])
        #expect(literal != ["word"])
    }

    @Test func shortTuplesRoundTripThroughTheWireEncoding() throws {
        for values: TupleValues in [[], ["w"], ["w", 7], ["w", 7, false]] {
            var bytes: [UInt8] = []
            ValueCodec.encode(values: values, into: &bytes)
            let decoded = try ValueCodec.decodeValues(bytes)
            #expect(decoded == values)
            #expect(decoded.storage == values.storage)
        }
    }
}
