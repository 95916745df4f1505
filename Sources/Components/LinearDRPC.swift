import StormCore
import StormThrift
import Tuples

/// Storm's PrepareRequest: gives each DRPC request an id and sends it three ways: `[request, args]` to the first
/// bolt of the chain, `[request, return]` (the return-info) to JoinResult, and `[request]` on `id` to the last bolt.
/// Ids fit in 53 bits, so a shell bolt in JavaScript echoes them exactly (JSON numbers are doubles there). The
/// return-info's field is `return_info`, not Storm's `return`: pystorm and streamparse make a Python namedtuple of
/// every stream of a bolt's sources, and fail at start on a keyword, so a Python first bolt could not run.
public final class PrepareRequest: Bolt {
    public static let className = "org.apache.storm.drpc.PrepareRequest"
    public static let argsStream = defaultStream
    public static let returnStream = "ret"
    public static let idStream = "id"
    private var collector: (any OutputCollector)?

    public init() {}

    public func declareOutputFields(_ declarer: inout OutputDeclarer) {
        declarer.declare(["request", "args"], stream: Self.argsStream)
        declarer.declare(["request", "return_info"], stream: Self.returnStream)
        declarer.declare(["request"], stream: Self.idStream)
    }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws { self.collector = collector }

    public func execute(_ tuple: Tuple) {
        guard let collector else { return }
        guard tuple.values.count >= 2 else {
            collector.reportError(
                LinearDRPCError(
                    "PrepareRequest: a request tuple has \(tuple.values.count) values, not [args, return-info]"))
            collector.fail(tuple)
            return
        }
        let request = Value.int(Int64.random(in: 0..<(1 << 53)))
        collector.emit([request, tuple.values[0]], stream: Self.argsStream, anchor: tuple)
        collector.emit([request, tuple.values[1]], stream: Self.returnStream, anchor: tuple)
        collector.emit([request], stream: Self.idStream, anchor: tuple)
        collector.ack(tuple)
    }
}

/// Storm's JoinResult: pairs each request's result (from the chain's last bolt) with its return-info (from
/// PrepareRequest) and emits `[result, return-info]` for ReturnResults. Unlike Storm's, it forgets what waited past the
/// message timeout (failing a return-info nobody answered, so its caller hears), and a second result for a request
/// already answered is acked, dropped and reported: each caller gets one answer.
public final class JoinResult: Bolt {
    public static let className = "org.apache.storm.drpc.JoinResult"
    let returnComponent: String
    private var collector: (any OutputCollector)?
    private var returns: [Value: (tuple: Tuple, at: ContinuousClock.Instant)] = [:]
    private var results: [Value: (tuple: Tuple, at: ContinuousClock.Instant)] = [:]
    private var answered: [Value: ContinuousClock.Instant] = [:]
    private var expiry = ExpirySweep()

    public init(returnComponent: String) { self.returnComponent = returnComponent }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["result", "return-info"]) }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        if let secs = try? context.conf.int(ConfigKey.topologyMessageTimeoutSecs), secs > 0 {
            expiry.timeout = .seconds(secs)
        }
    }

    public func execute(_ tuple: Tuple) {
        guard let collector, let id = tuple.values.first, tuple.values.count >= 2 else {
            collector?.reportError(
                LinearDRPCError("JoinResult: a tuple from '\(tuple.sourceComponent)' is not [request, value]"))
            collector?.fail(tuple)
            return
        }
        let now = ContinuousClock.now
        sweep(now)
        if answered[id] != nil {
            collector.reportError(
                LinearDRPCError(
                    "JoinResult: '\(tuple.sourceComponent)' sent another result for request \(id), which had its answer; the last bolt of a linear DRPC topology emits one result per request"
                ))
            collector.ack(tuple)
            return
        }
        if tuple.sourceComponent == returnComponent {
            returns[id] = (tuple, now)
        } else {
            results[id] = (tuple, now)
        }
        guard let result = results[id]?.tuple, let returner = returns[id]?.tuple else { return }
        results[id] = nil
        returns[id] = nil
        answered[id] = now
        let value = result.values[1]
        collector.emit(
            [.string(value.stringValue ?? value.description), returner.values[1]], anchors: [result, returner])
        collector.ack(result)
        collector.ack(returner)
    }

    /// Requests waiting past the message timeout have timed out at the spout already; their tuples are let go.
    private func sweep(_ now: ContinuousClock.Instant) {
        guard let collector, expiry.isDue(now) else { return }
        for (id, entry) in returns where expiry.hasExpired(since: entry.at, at: now) {
            returns[id] = nil
            collector.fail(entry.tuple)
        }
        for (id, entry) in results where expiry.hasExpired(since: entry.at, at: now) {
            results[id] = nil
            collector.fail(entry.tuple)
        }
        answered = answered.filter { !expiry.hasExpired(since: $0.value, at: now) }
    }
}

/// Emits, when a request is finished, each distinct second value its tuples carried, as `[request, value]`: the
/// "unique" step of a DRPC query (Storm's reach example's PartialUniquer), grouped by `[request, value]` upstream.
public final class DistinctPerRequest: Bolt, FinishedCallback {
    public static let className = "storm.swift.drpc.DistinctPerRequest"
    private var collector: (any OutputCollector)?
    private var seen: [Value: Set<Value>] = [:]

    public init() {}

    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["request", "value"]) }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws { self.collector = collector }

    public func execute(_ tuple: Tuple) {
        if tuple.values.count >= 2 { seen[tuple.values[0], default: []].insert(tuple.values[1]) }
        collector?.ack(tuple)
    }

    public func finishedId(_ id: Value) {
        for value in seen.removeValue(forKey: id) ?? [] { collector?.emit([id, value]) }
    }

    public func timedOutId(_ id: Value) { seen[id] = nil }
}

/// Emits, when a request is finished, how many tuples it had as `[request, count]`: a DRPC query's count step
/// (Storm's reach example's CountAggregator, for one tuple per item), grouped by request upstream.
public final class CountPerRequest: Bolt, FinishedCallback {
    public static let className = "storm.swift.drpc.CountPerRequest"
    private var collector: (any OutputCollector)?
    private var counts: [Value: Int64] = [:]

    public init() {}

    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["request", "count"]) }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws { self.collector = collector }

    public func execute(_ tuple: Tuple) {
        if let id = tuple.values.first { counts[id, default: 0] += 1 }
        collector?.ack(tuple)
    }

    public func finishedId(_ id: Value) {
        collector?.emit([id, .int(counts.removeValue(forKey: id) ?? 0)])
    }

    public func timedOutId(_ id: Value) { counts[id] = nil }
}

struct LinearDRPCError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One bolt of a linear DRPC chain, as a builder describes it.
public struct LinearDRPCBolt: Sendable {
    /// How a bolt reads the one before it (the first: PrepareRequest's `[request, args]`).
    public struct Input: Sendable {
        public var stream: String
        public var grouping: Grouping
        public init(stream: String = defaultStream, grouping: Grouping) {
            self.stream = stream
            self.grouping = grouping
        }
    }

    /// Its component id; Storm's `bolt<index>` when nil.
    public var id: String?
    public var object: ComponentObject
    public var streams: [String: StreamInfo]
    public var parallelism: Int32
    public var conf: [String: ConfigValue]
    public var inputs: [Input]

    public init(
        id: String? = nil, object: ComponentObject, streams: [String: StreamInfo], parallelism: Int32 = 1,
        conf: [String: ConfigValue] = [:], inputs: [Input] = []
    ) {
        self.id = id
        self.object = object
        self.streams = streams
        self.parallelism = parallelism
        self.conf = conf
        self.inputs = inputs
    }
}

/// The topology Storm's LinearDRPCTopologyBuilder makes, from a chain of bolts: DRPCSpout (`spout`) ->
/// PrepareRequest (`prepare-request`) -> the bolts (`bolt0`, `bolt1`, ...), each coordinated -> JoinResult ->
/// ReturnResults. Each bolt's tuples carry the request id first; the last declares one stream of two fields,
/// `[id, result]`, and emits one tuple per request. The Swift builder and Flux's `linearDRPC` section build through
/// this; the Python client's builder makes the same topology.
public enum LinearDRPCTopology {
    public static let spoutId = "spout"
    public static let prepareId = "prepare-request"

    public static func build(function: String, bolts: [LinearDRPCBolt]) throws(TopologyError) -> StormTopology {
        let what = "linear DRPC topology '\(function)'"
        guard !function.isEmpty else { throw TopologyError("a linear DRPC topology needs a function name") }
        guard let last = bolts.last else { throw TopologyError("\(what) has no bolts") }
        let ids = bolts.enumerated().map { $0.element.id ?? "bolt\($0.offset)" }
        let joinId = "bolt\(bolts.count)"
        let returnId = "bolt\(bolts.count + 1)"
        var seen: Set<String> = []
        for id in [spoutId, prepareId] + ids + [joinId, returnId] where !seen.insert(id).inserted {
            throw TopologyError(
                "\(what) uses the component id '\(id)' twice (its own are \(spoutId), \(prepareId), \(joinId) and \(returnId))"
            )
        }
        let outputs = last.streams.filter { $0.key != CoordinationSpec.stream }
        guard outputs.count == 1, let (resultStream, resultInfo) = outputs.first else {
            throw TopologyError(
                "\(what): its last bolt '\(ids.last!)' must declare exactly one stream, [id, result]; it declares \(outputs.keys.sorted())"
            )
        }
        guard resultInfo.outputFields.count == 2 else {
            throw TopologyError(
                "\(what): the last bolt's stream must have exactly two fields, the request id and the result; '\(ids.last!)' declares \(resultInfo.outputFields)"
            )
        }

        var built: [String: StormThrift.Bolt] = [:]
        built[prepareId] = StormThrift.Bolt(
            boltObject: .javaObject(JavaObject(fullClassName: PrepareRequest.className, argsList: [])),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: spoutId, streamId: defaultStream): .none(NullStruct())],
                streams: [
                    PrepareRequest.argsStream: StreamInfo(outputFields: ["request", "args"], direct: false),
                    PrepareRequest.returnStream: StreamInfo(outputFields: ["request", "return_info"], direct: false),
                    PrepareRequest.idStream: StreamInfo(outputFields: ["request"], direct: false),
                ], parallelismHint: 1))
        for (index, bolt) in bolts.enumerated() {
            let previous = index == 0 ? prepareId : ids[index - 1]
            var inputs: [GlobalStreamId: Grouping] = [:]
            var spec = CoordinationSpec()
            if index > 0 {
                spec.sources[previous] = index == 1 ? .single : .all
                inputs[GlobalStreamId(componentId: previous, streamId: CoordinationSpec.stream)] = .direct(NullStruct())
            }
            if index == bolts.count - 1 {
                let idStream = GlobalStreamId(componentId: prepareId, streamId: PrepareRequest.idStream)
                spec.idStream = idStream
                inputs[idStream] = .fields(["request"])
            }
            if bolt.inputs.isEmpty && index > 0 {
                throw TopologyError(
                    "\(what): bolt '\(ids[index])' says not how it reads '\(previous)' (a shuffle, fields, global, ... grouping)"
                )
            }
            for input in bolt.inputs.isEmpty ? [LinearDRPCBolt.Input(grouping: .none(NullStruct()))] : bolt.inputs {
                inputs[GlobalStreamId(componentId: previous, streamId: input.stream)] = input.grouping
            }
            var streams = bolt.streams
            streams[CoordinationSpec.stream] = CoordinationSpec.streamInfo
            var conf = bolt.conf
            conf[CoordinationSpec.confKey] = spec.configValue
            built[ids[index]] = StormThrift.Bolt(
                boltObject: bolt.object,
                common: ComponentCommon(
                    inputs: inputs, streams: streams, parallelismHint: bolt.parallelism,
                    jsonConf: try? JSON.encode(.map(conf))))
        }
        built[joinId] = StormThrift.Bolt(
            boltObject: .javaObject(
                JavaObject(fullClassName: JoinResult.className, argsList: [.stringArg(prepareId)])),
            common: ComponentCommon(
                inputs: [
                    GlobalStreamId(componentId: ids.last!, streamId: resultStream): .fields([resultInfo.outputFields[0]]
                    ),
                    GlobalStreamId(componentId: prepareId, streamId: PrepareRequest.returnStream): .fields(["request"]),
                ],
                streams: [defaultStream: StreamInfo(outputFields: ["result", "return-info"], direct: false)],
                parallelismHint: 1))
        built[returnId] = StormThrift.Bolt(
            boltObject: .javaObject(JavaObject(fullClassName: ReturnResults.className, argsList: [])),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: joinId, streamId: defaultStream): .none(NullStruct())],
                streams: [:], parallelismHint: 1))
        let spout = SpoutSpec(
            spoutObject: .javaObject(JavaObject(fullClassName: DRPCSpout.className, argsList: [.stringArg(function)])),
            common: ComponentCommon(
                inputs: [:],
                streams: [defaultStream: StreamInfo(outputFields: ["args", "return-info"], direct: false)],
                parallelismHint: 1))
        let topology = StormTopology(spouts: [spoutId: spout], bolts: built, stateSpouts: [:])
        try TopologyValidator.validate(topology)
        return topology
    }
}

/// How a bolt of a linear DRPC chain reads the one before it.
public enum PreviousBoltGrouping: Sendable {
    case shuffle, localOrShuffle, global, all, none, direct
    case fields([String])

    var grouping: Grouping {
        switch self {
        case .shuffle: .shuffle(NullStruct())
        case .localOrShuffle: .localOrShuffle(NullStruct())
        case .global: .fields([])
        case .all: .all(NullStruct())
        case .none: .none(NullStruct())
        case .direct: .direct(NullStruct())
        case .fields(let fields): .fields(fields)
        }
    }
}

/// Storm's LinearDRPCTopologyBuilder in Swift: a DRPC function as a chain of bolts, each named by class (registered
/// in `registry`) or a shell command.
///
/// ```swift
/// var builder = LinearDRPCTopologyBuilder(function: "words")
/// builder.addShellBolt(["python3", "split.py"], fields: ["request", "word"], parallelism: 2)
/// builder.addBolt(CountPerRequest.className, grouping: .fields(["request"]))
/// let topology = try builder.createTopology()
/// ```
public struct LinearDRPCTopologyBuilder {
    let function: String
    let registry: ComponentRegistry
    var bolts: [LinearDRPCBolt] = []
    var failures: [String] = []

    public init(function: String, registry: ComponentRegistry = .shared) {
        self.function = function
        self.registry = registry
    }

    /// Adds a bolt named by class; `grouping` says how it reads the bolt before it (the first reads each request
    /// once, from PrepareRequest, unless it says otherwise).
    public mutating func addBolt(
        _ className: String, parallelism: Int32 = 1, args: [JavaObjectArg] = [], grouping: PreviousBoltGrouping? = nil,
        stream: String = defaultStream, conf: [String: ConfigValue] = [:]
    ) {
        do {
            let streams = try registry.declaredStreams(className, args: args)
            add(
                .javaObject(JavaObject(fullClassName: className, argsList: args)), streams, parallelism, grouping,
                stream, conf)
        } catch {
            failures.append("bolt\(bolts.count) (\(className)): \(error)")
        }
    }

    /// Adds a shell bolt run as `command` (e.g. `["python3", "split.py"]`) in the topology's resources folder,
    /// emitting `fields` on the default stream.
    public mutating func addShellBolt(
        _ command: [String], fields: [String], parallelism: Int32 = 1, grouping: PreviousBoltGrouping? = nil,
        stream: String = defaultStream, conf: [String: ConfigValue] = [:]
    ) {
        let shell = ShellComponent(
            executionCommand: command.first,
            script: command.count > 1 ? command.dropFirst().joined(separator: " ") : nil)
        add(
            .shell(shell), [defaultStream: StreamInfo(outputFields: fields, direct: false)], parallelism, grouping,
            stream, conf)
    }

    private mutating func add(
        _ object: ComponentObject, _ streams: [String: StreamInfo], _ parallelism: Int32,
        _ grouping: PreviousBoltGrouping?, _ stream: String, _ conf: [String: ConfigValue]
    ) {
        bolts.append(
            LinearDRPCBolt(
                object: object, streams: streams, parallelism: parallelism, conf: conf,
                inputs: grouping.map { [LinearDRPCBolt.Input(stream: stream, grouping: $0.grouping)] } ?? []))
    }

    /// The topology, for a cluster or a LocalCluster (give it a LocalDRPC's `topologyConf` there).
    public func createTopology() throws -> StormTopology {
        if let failure = failures.first { throw ComponentRegistry.Failure(description: failure) }
        return try LinearDRPCTopology.build(function: function, bolts: bolts)
    }
}
