#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Tuples

/// Components for tests and benchmarks that need to count: a spout of numbered messages that replays what fails,
/// a sink that records what it saw, and a deliberately slow bolt.
enum TestingComponents {
    static func register(in registry: ComponentRegistry) {
        registry.register(NumberedSpout.className, kind: .spout) { args in
            guard case .longArg(let n)? = args.first ?? .longArg(Int64.max) else {
                throw ComponentRegistry.Failure(description: "\(NumberedSpout.className) takes one argument, how many messages")
            }
            return NumberedSpout(count: n)
        }
        registry.register(RecordingSink.className, kind: .bolt) { args in
            guard case .stringArg(let path)? = args.first else {
                throw ComponentRegistry.Failure(description: "\(RecordingSink.className) takes one argument, the file it appends to")
            }
            return RecordingSink(path: path)
        }
        registry.register(SlowBolt.className, kind: .bolt) { args in
            guard case .longArg(let micros)? = args.first, micros >= 0 else {
                throw ComponentRegistry.Failure(description: "\(SlowBolt.className) takes one argument, microseconds per tuple")
            }
            return SlowBolt(microsPerTuple: micros)
        }
    }
}

/// Emits messages 0, 1, 2, … up to `count` on field "n", each with its number as message id, and emits a
/// failed one again: with ackers, every number is eventually acked (at least once).
public final class NumberedSpout: Spout {
    public static let className = "storm.swift.testing.NumberedSpout"
    let count: Int64
    var next: Int64 = 0
    var replay: [Int64] = []
    public private(set) var acked = Set<Int64>()
    public private(set) var failures = 0
    var collector: (any SpoutOutputCollector)?

    public init(count: Int64) { self.count = count }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }
    public func open(context: TopologyContext, collector: any SpoutOutputCollector) { self.collector = collector }

    public func nextTuple() {
        let n: Int64
        if !replay.isEmpty {
            n = replay.removeFirst()
        } else if next < count {
            n = next
            next += 1
        } else {
            return
        }
        collector?.emit([.int(n)], messageId: .int(n))
    }

    public func ack(_ messageId: Value) {
        if let n = messageId.intValue { acked.insert(n) }
    }

    public func fail(_ messageId: Value) {
        failures += 1
        if let n = messageId.intValue { replay.append(n) }
    }
}

/// Appends the first value of every tuple it gets to a file, one per line, and acks it. The file is opened for
/// appending, so the tasks of several sinks (and workers) can share it: each line is one atomic append.
public final class RecordingSink: Bolt {
    public static let className = "storm.swift.testing.RecordingSink"
    let path: String
    var fd: Int32 = -1
    var collector: (any OutputCollector)?

    public init(path: String) { self.path = path }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ComponentRegistry.Failure(description: "cannot open \(path) to record into: \(String(cString: strerror(errno)))") }
    }

    public func execute(_ tuple: Tuple) {
        if !tuple.isTick, let first = tuple.values.first {
            let line = Array("\(first)\n".utf8)
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        }
        collector?.ack(tuple)
    }

    public func cleanup() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}

/// Passes each tuple on after spending `microsPerTuple` on it: a bolt slower than its spout, for backpressure.
public final class SlowBolt: Bolt {
    public static let className = "storm.swift.testing.SlowBolt"
    let microsPerTuple: Int64
    var collector: (any OutputCollector)?

    public init(microsPerTuple: Int64) { self.microsPerTuple = microsPerTuple }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["value"]) }
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }

    public func execute(_ tuple: Tuple) {
        if microsPerTuple > 0 { usleep(UInt32(clamping: microsPerTuple)) }
        collector?.emit([tuple.values.first ?? .null], anchor: tuple)
        collector?.ack(tuple)
    }
}
