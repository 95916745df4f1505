import Foundation
import Logging
import StormThrift
import Tuples

/// The components every cluster has, under Storm's class names where Storm has them.
public enum BuiltInComponents {
    /// Storm's test and example sentences.
    public static let sentences = [
        "the cow jumped over the moon", "an apple a day keeps the doctor away", "four score and seven years ago",
        "snow white and the seven dwarfs", "i am at two with nature",
    ]

    static func register(in registry: ComponentRegistry) {
        registry.register("org.apache.storm.testing.TestWordSpout", kind: .spout) { _ in TestWordSpout() }
        registry.register("org.apache.storm.starter.spout.RandomSentenceSpout", kind: .spout) { _ in
            RandomSentenceSpout()
        }
        registry.register(SentenceSpout.className, kind: .spout) { args in
            switch args.first {
            case nil: return SentenceSpout()
            case .intArg(let n)?: return SentenceSpout(limit: Int(n))
            case .longArg(let n)?: return SentenceSpout(limit: Int(n))
            default:
                throw ComponentRegistry.Failure(
                    description: "\(SentenceSpout.className) takes one optional argument, a number of sentences")
            }
        }
        registry.register(AckedSentenceSpout.className, kind: .spout) { args in
            switch args.first {
            case nil: return AckedSentenceSpout()
            case .longArg(let n)? where n >= 0 && args.count == 1: return AckedSentenceSpout(perSecond: Double(n))
            default:
                throw ComponentRegistry.Failure(
                    description: "\(AckedSentenceSpout.className) takes one optional argument, sentences per second")
            }
        }
        registry.register("org.apache.storm.testing.TestWordCounter", kind: .bolt) { _ in WordCountBolt() }
        registry.register("org.apache.storm.perf.bolt.CountBolt", kind: .bolt) { _ in WordCountBolt() }
        registry.register("org.apache.storm.perf.bolt.SplitSentenceBolt", kind: .bolt) { _ in SplitSentenceBolt() }
        registry.register("org.apache.storm.flux.wrappers.bolts.LogInfoBolt", kind: .bolt) { _ in LogInfoBolt() }
        registry.register("org.apache.storm.perf.bolt.DevNullBolt", kind: .bolt) { _ in DevNullBolt() }
        registry.register(DRPCSpout.className, kind: .spout) { args in
            DRPCSpout(function: try oneName(args, of: DRPCSpout.className, "the function's name"))
        }
        registry.register(ReturnResults.className, kind: .bolt) { _ in ReturnResults() }
        registry.register(EventLoggerBolt.className, kind: .bolt) { _ in EventLoggerBolt() }
        registry.register(IdentityBolt.className, kind: .bolt) { args in
            let fields = args.compactMap { arg -> String? in
                if case .stringArg(let field) = arg { return field }
                return nil
            }
            guard !fields.isEmpty, fields.count == args.count else {
                throw ComponentRegistry.Failure(
                    description: "\(IdentityBolt.className) takes its output fields, one string argument each")
            }
            return IdentityBolt(fields: fields)
        }
        registry.register(PrepareRequest.className, kind: .bolt) { _ in PrepareRequest() }
        registry.register(JoinResult.className, kind: .bolt) { args in
            JoinResult(
                returnComponent: try oneName(args, of: JoinResult.className, "the component sending return-infos"))
        }
        registry.register(DistinctPerRequest.className, kind: .bolt) { _ in DistinctPerRequest() }
        registry.register(CountPerRequest.className, kind: .bolt) { _ in CountPerRequest() }
    }

    /// The one non-empty string argument a class takes.
    private static func oneName(_ args: [JavaObjectArg], of className: String, _ what: String) throws -> String {
        guard args.count == 1, case .stringArg(let name) = args[0], !name.isEmpty else {
            throw ComponentRegistry.Failure(description: "\(className) takes one argument, \(what)")
        }
        return name
    }
}

/// Storm's TestWordSpout: a random word of five every 100 ms, on field "word".
public final class TestWordSpout: Spout {
    static let words: [Value] = ["nathan", "mike", "jackson", "golda", "bertels"]
    var collector: (any SpoutOutputCollector)?
    var random = SystemRandomNumberGenerator()

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["word"]) }
    public func open(context: TopologyContext, collector: any SpoutOutputCollector) { self.collector = collector }
    public func nextTuple() {
        Thread.sleep(forTimeInterval: 0.1)
        collector?.emit([Self.words.randomElement(using: &random)!])
    }
}

/// Storm's RandomSentenceSpout (storm-starter): a random sentence of five every 100 ms, on field "word" as Storm
/// declares it.
public final class RandomSentenceSpout: Spout {
    var collector: (any SpoutOutputCollector)?

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["word"]) }
    public func open(context: TopologyContext, collector: any SpoutOutputCollector) { self.collector = collector }
    public func nextTuple() {
        Thread.sleep(forTimeInterval: 0.1)
        collector?.emit([.string(BuiltInComponents.sentences.randomElement()!)])
    }
}

/// Storm's five sentences in turn, as fast as they are taken, on field "sentence": the source of the word count
/// quick start and benchmarks. With a limit, each task emits that many sentences and then nothing (starting at
/// sentence `task id % 5`), so a test knows exactly what to count.
public final class SentenceSpout: Spout {
    public static let className = "storm.swift.SentenceSpout"
    static let values: [Value] = BuiltInComponents.sentences.map { .string($0) }
    var collector: (any SpoutOutputCollector)?
    var next = 0
    var remaining: Int

    public init(limit: Int = .max) { remaining = limit }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["sentence"]) }
    public func open(context: TopologyContext, collector: any SpoutOutputCollector) {
        self.collector = collector
        next = Int(context.thisTaskId) % Self.values.count
    }
    public func nextTuple() {
        guard remaining > 0 else { return }
        remaining -= 1
        collector?.emit([Self.values[next]])
        next = next + 1 == Self.values.count ? 0 : next + 1
    }
}

/// Storm's five sentences in turn, each with a message id so its tree is tracked, at most `perSecond` a second
/// shared by the component's tasks (0: as fast as they are taken): the spout of ThroughputVsLatency. Failed
/// sentences are not emitted again; the spout's acked, failed and complete latency are what is measured.
public final class AckedSentenceSpout: Spout {
    public static let className = "storm.swift.AckedSentenceSpout"
    var collector: (any SpoutOutputCollector)?
    let perSecond: Double
    var pace: Pace?
    var next = 0
    var id: Int64 = 0

    public init(perSecond: Double = 0) { self.perSecond = perSecond }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["sentence"]) }
    public func open(context: TopologyContext, collector: any SpoutOutputCollector) {
        self.collector = collector
        next = Int(context.thisTaskId) % SentenceSpout.values.count
        pace = Pace(perSecond: perSecond, context: context)
    }

    public func nextTuple() {
        guard pace?.admit() ?? true else { return }
        id += 1
        collector?.emit([SentenceSpout.values[next]], messageId: .int(id))
        next = next + 1 == SentenceSpout.values.count ? 0 : next + 1
    }
}

/// Splits the first value of each tuple on spaces and emits each word, anchored to its sentence.
public final class SplitSentenceBolt: Bolt {
    var collector: (any OutputCollector)?

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["word"]) }
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    public func execute(_ tuple: Tuple) {
        guard let collector else { return }
        if case .string(var sentence) = tuple.values.first {
            // One pass over the bytes, no array of substrings: this runs for every sentence.
            sentence.withUTF8 { bytes in
                var start = 0
                for i in 0...bytes.count where i == bytes.count || bytes[i] == UInt8(ascii: " ") {
                    if i > start {
                        let word = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                        collector.emit(TupleValues(.string(word)), anchor: tuple)
                    }
                    start = i + 1
                }
            }
        }
        collector.ack(tuple)
    }
}

/// Counts the first value of each tuple and emits [word, count] (Storm's TestWordCounter and perf CountBolt).
public final class WordCountBolt: Bolt {
    var collector: (any OutputCollector)?
    /// Only the executor's thread touches it (readers wait for the topology to stop): unchecked, as the
    /// dynamic exclusivity check cost 80 instructions a word.
    @exclusivity(unchecked) public private(set) var counts = ValueCounts()

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["word", "count"]) }
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    public func execute(_ tuple: Tuple) {
        guard let word = tuple.values.first, let collector else { return }
        let count = counts.increment(word)
        // Made directly rather than from an array literal, whose (stack) array costs an element-by-element destroy.
        collector.emit(TupleValues(word, .int(count)), anchor: tuple)
        collector.ack(tuple)
    }
}

/// Storm's Flux LogInfoBolt: logs every tuple at info level.
public final class LogInfoBolt: Bolt {
    var collector: (any OutputCollector)?
    var logger = Logger(label: "LogInfoBolt")

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    public func prepare(context: TopologyContext, collector: any OutputCollector) {
        self.collector = collector
        logger[metadataKey: "component"] = "\(context.thisComponentId):\(context.thisTaskId)"
    }
    public func execute(_ tuple: Tuple) {
        logger.info("\(tuple.values)")
        collector?.ack(tuple)
    }
}

/// Storm's perf DevNullBolt: acks and drops every tuple.
public final class DevNullBolt: Bolt {
    var collector: (any OutputCollector)?

    public init() {}
    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    public func execute(_ tuple: Tuple) { collector?.ack(tuple) }
}

/// Storm's testing IdentityBolt: emits each tuple's values as they came, anchored, on the fields it is given (one
/// string argument per field, where Storm's takes a Fields).
public final class IdentityBolt: Bolt {
    public static let className = "org.apache.storm.testing.IdentityBolt"
    let fields: [String]
    var collector: (any OutputCollector)?

    public init(fields: [String]) { self.fields = fields }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(fields) }
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    public func execute(_ tuple: Tuple) {
        collector?.emit(tuple.values, anchor: tuple)
        collector?.ack(tuple)
    }
}
