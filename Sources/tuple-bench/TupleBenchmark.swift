import Dispatch
import Groupings
import StormThrift
import Tuples

/// Nanoseconds per tuple for the pieces of a tuple's trip built so far: encoding a word-count tuple to the wire
/// format, decoding it, and choosing its target with a shuffle and with a fields grouping. Each loop runs over
/// 1,024 distinct tuples; "loop" is the cost of the loop itself (picking a tuple), included in the others.
@main
enum TupleBenchmark {
    static let n = 10_000_000

    static func time(_ name: String, _ body: () throws -> Int) rethrows {
        _ = try body()
        let start = DispatchTime.now().uptimeNanoseconds
        let check = try body()
        let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
        print("\(name): \(String(format: "%.1f", ns)) ns/tuple (\(String(format: "%.1f", 1000 / ns))M/s) [\(check % 10)]")
    }

    static func main() throws {
        let tuples: [[Value]] = (0..<1024).map { [.string("word\($0)"), .int(1)] }
        let encoded: [[UInt8]] = tuples.map {
            var b: [UInt8] = []
            ValueCodec.encode($0, into: &b)
            return b
        }
        time("loop") {
            var sum = 0
            for i in 0..<n { sum &+= tuples[i & 1023].count }
            return sum
        }
        time("encode [word, 1] into a reused buffer") {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 16)
            var sum = 0
            for i in 0..<n {
                if buffer.count > 60_000 {
                    sum &+= buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
                ValueCodec.encode(tuples[i & 1023], into: &buffer)
            }
            return sum
        }
        try time("decode [word, 1]") {
            var sum = 0
            for i in 0..<n { sum &+= try ValueCodec.decodeValues(encoded[i & 1023]).count }
            return sum
        }
        var shuffle = try Router(grouping: .shuffle(NullStruct()), subscriber: "split", tasks: [1, 2, 3, 4], sourceFields: ["sentence"])
        try time("route: shuffle over 4 tasks") {
            var sum = 0
            for i in 0..<n { if case .one(let t) = try shuffle.route(tuples[i & 1023], from: 0) { sum &+= Int(t) } }
            return sum
        }
        var fields = try Router(grouping: .fields(["word"]), subscriber: "count", tasks: [1, 2, 3, 4], sourceFields: ["word", "count"])
        try time("route: fields on a word over 4 tasks") {
            var sum = 0
            for i in 0..<n { if case .one(let t) = try fields.route(tuples[i & 1023], from: 0) { sum &+= Int(t) } }
            return sum
        }
    }
}
