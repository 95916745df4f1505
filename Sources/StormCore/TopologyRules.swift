import StormThrift

/// Why nimbus refuses a topology: the message names the component and the problem.
public struct TopologyError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum TopologyName {
    /// Topology ids `<name>-<counter>-<secs>` name a directory under storm.local.dir and a ZooKeeper node, so
    /// the id must fit one path component (255 bytes); 200 bytes of name leaves room for the suffix.
    public static let maxBytes = 200

    /// Storm's rule (`^[^/.:\\]+$`) plus the limits a path component imposes: not empty, no control characters.
    public static func validate(_ name: String) throws(TopologyError) {
        if name.isEmpty { throw TopologyError("topology name is empty") }
        if name.utf8.count > maxBytes {
            throw TopologyError("topology name is \(name.utf8.count) bytes long; at most \(maxBytes) are allowed")
        }
        for scalar in name.unicodeScalars {
            if "/.:\\".unicodeScalars.contains(scalar) {
                throw TopologyError("topology name '\(name)' contains '\(scalar)'; names must not contain / . : or \\")
            }
            if scalar.properties.generalCategory == .control {
                throw TopologyError(
                    "topology name contains the control character U+\(String(scalar.value, radix: 16, uppercase: true))"
                )
            }
        }
    }

    public static func isSystemId(_ id: String) -> Bool { id.hasPrefix("__") }

    /// The name a topology id `<name>-<counter>-<secs>` spells, or nil when the id has not that shape: what is
    /// known of a topology whose base cannot be read.
    public static func name(ofId id: String) -> String? {
        let parts = id.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts.suffix(2).allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else {
            return nil
        }
        let name = parts.dropLast(2).joined(separator: "-")
        return name.isEmpty ? nil : name
    }
}

/// A component of a topology, whatever its kind.
public struct ComponentRef: Sendable {
    public enum Kind: String, Sendable { case spout, bolt, stateSpout = "state spout" }
    public let id: String
    public let kind: Kind
    public let object: ComponentObject
    public let common: ComponentCommon
}

extension StormTopology {
    /// Every component, spouts first, in id order.
    public var components: [ComponentRef] {
        spouts.sorted { $0.key < $1.key }.map {
            ComponentRef(id: $0.key, kind: .spout, object: $0.value.spoutObject, common: $0.value.common)
        }
            + bolts.sorted { $0.key < $1.key }.map {
                ComponentRef(id: $0.key, kind: .bolt, object: $0.value.boltObject, common: $0.value.common)
            }
            + stateSpouts.sorted { $0.key < $1.key }.map {
                ComponentRef(id: $0.key, kind: .stateSpout, object: $0.value.stateSpoutObject, common: $0.value.common)
            }
    }
}

public enum TopologyValidator {
    /// Checks a topology as nimbus does at submit. Nothing about the topology is stored before this passes.
    public static func validate(_ topology: StormTopology) throws(TopologyError) {
        let components = topology.components
        if components.isEmpty { throw TopologyError("topology has no spouts and no bolts") }
        if let id = topology.stateSpouts.keys.sorted().first {
            throw TopologyError("component '\(id)' is a state spout; state spouts are not supported")
        }
        var seen: [String: ComponentRef.Kind] = [:]
        for c in components {
            if let other = seen[c.id] {
                throw TopologyError(
                    "component id '\(c.id)' is used twice (by a \(other.rawValue) and a \(c.kind.rawValue))")
            }
            seen[c.id] = c.kind
            if TopologyName.isSystemId(c.id) {
                throw TopologyError("component id '\(c.id)' begins with '__', which is reserved for system components")
            }
            if c.id.isEmpty { throw TopologyError("a \(c.kind.rawValue) has an empty component id") }
        }
        let byId = Dictionary(uniqueKeysWithValues: components.map { ($0.id, $0) })
        for c in components {
            try validateObject(c)
            try validateCommon(c, byId: byId)
        }
    }

    /// Checks the topology keys whose values nimbus and workers compute with.
    public static func validateConf(_ conf: StormConfig) throws(TopologyError) {
        func check(_ key: String, atLeast minimum: Int64, _ what: String) throws(TopologyError) {
            guard let value = conf[key], !value.isNull else { return }
            guard let n = value.intValue, n >= minimum else {
                throw TopologyError("topology conf '\(key)' must be \(what), not \(value.display)")
            }
        }
        try check(ConfigKey.topologyWorkers, atLeast: 1, "a positive integer")
        try check(ConfigKey.topologyMessageTimeoutSecs, atLeast: 1, "a positive integer")
        try check(ConfigKey.topologyMaxSpoutPending, atLeast: 1, "a positive integer")
        try check(ConfigKey.topologyMaxTaskParallelism, atLeast: 1, "a positive integer")
        try check(ConfigKey.topologyAckerExecutors, atLeast: 0, "a non-negative integer")
        try check(ConfigKey.topologyEventloggerExecutors, atLeast: 0, "a non-negative integer")
        try check(ConfigKey.topologyMinReplicationCount, atLeast: 1, "a positive integer")
        // Storm waits for ever when this is 0 or less.
        try check(ConfigKey.topologyMaxReplicationWaitTimeSec, atLeast: Int64.min, "an integer")
        try check(ConfigKey.topologyMetricsMaxSeries, atLeast: 0, "a non-negative integer")
        do { _ = try MetricsReporterSpec.parse(conf) } catch { throw TopologyError("topology conf: \(error)") }
        for key in [ConfigKey.topologyEnableMessageTimeouts, ConfigKey.topologyExecutorChaining] {
            if let value = conf[key], !value.isNull, value.boolValue == nil {
                throw TopologyError("topology conf '\(key)' must be true or false, not \(value.display)")
            }
        }
    }

    private static func validateObject(_ c: ComponentRef) throws(TopologyError) {
        switch c.object {
        case .serializedJava:
            throw TopologyError(
                "component '\(c.id)' is a serialized Java object, which cannot run here; use a shell component or a built-in class name"
            )
        case .shell(let shell):
            if (shell.executionCommand ?? "").isEmpty {
                throw TopologyError("shell component '\(c.id)' has no execution_command")
            }
        case .javaObject(let object):
            if object.fullClassName.isEmpty { throw TopologyError("component '\(c.id)' names an empty class") }
        }
    }

    private static func validateCommon(_ c: ComponentRef, byId: [String: ComponentRef]) throws(TopologyError) {
        if let p = c.common.parallelismHint, p < 1 {
            throw TopologyError("component '\(c.id)' has parallelism \(p); it must be at least 1")
        }
        if let json = c.common.jsonConf {
            let conf: [String: ConfigValue]
            do {
                conf = try JSON.decodeObject(json)
            } catch {
                throw TopologyError("component '\(c.id)' has a json_conf that is \(error)")
            }
            if let tasks = conf[ConfigKey.topologyTasks], !tasks.isNull {
                guard let n = tasks.intValue, n >= 0 else {
                    throw TopologyError(
                        "component '\(c.id)' sets topology.tasks to \(tasks.display); it must be a non-negative integer"
                    )
                }
            }
            if let value = conf[CoordinationSpec.confKey], !value.isNull {
                guard c.kind == .bolt else {
                    throw TopologyError("component '\(c.id)' is a \(c.kind.rawValue); only bolts are coordinated")
                }
                let spec: CoordinationSpec
                do {
                    spec = try CoordinationSpec(value)
                } catch {
                    throw TopologyError("bolt '\(c.id)': \(error.description)")
                }
                try spec.validate(bolt: c.id, common: c.common)
            }
        }
        for (streamId, info) in c.common.streams where Set(info.outputFields).count != info.outputFields.count {
            throw TopologyError("component '\(c.id)' declares stream '\(streamId)' with a field named twice")
        }
        for (source, grouping) in c.common.inputs.sorted(by: {
            ($0.key.componentId, $0.key.streamId) < ($1.key.componentId, $1.key.streamId)
        }) {
            guard let from = byId[source.componentId] else {
                throw TopologyError(
                    "\(c.kind.rawValue) '\(c.id)' subscribes to unknown component '\(source.componentId)'")
            }
            guard let stream = from.common.streams[source.streamId] else {
                throw TopologyError(
                    "\(c.kind.rawValue) '\(c.id)' subscribes to stream '\(source.streamId)', which component '\(source.componentId)' does not declare"
                )
            }
            switch grouping {
            case .fields(let fields):
                for field in fields where !stream.outputFields.contains(field) {
                    throw TopologyError(
                        "\(c.kind.rawValue) '\(c.id)' groups stream \(source.componentId):\(source.streamId) by field '\(field)', which is not among its fields \(stream.outputFields)"
                    )
                }
            case .direct:
                if !stream.direct {
                    throw TopologyError(
                        "\(c.kind.rawValue) '\(c.id)' uses a direct grouping on stream \(source.componentId):\(source.streamId), which is not declared direct"
                    )
                }
            case .customSerialized:
                throw TopologyError(
                    "\(c.kind.rawValue) '\(c.id)' uses a serialized Java custom grouping, which cannot run here")
            case .shuffle, .all, .none, .customObject, .localOrShuffle:
                break
            }
        }
    }
}

/// How many executors and tasks each component gets, as Storm computes them.
public struct TopologyPlan: Sendable, Equatable {
    public static let ackerComponent = "__acker"
    public static let ackerClass = "org.apache.storm.daemon.Acker"
    /// Storm's event logger: where components' sampled tuples go while `debug` is on for them.
    public static let eventLoggerComponent = "__eventlogger"
    public static let eventLoggerClass = "org.apache.storm.metric.EventLoggerBolt"

    public var executors: [String: Int32]
    public var tasks: [String: Int32]

    public var totalExecutors: Int32 { executors.values.reduce(0, +) }
    public var totalTasks: Int32 { tasks.values.reduce(0, +) }

    /// `conf` is the topology's full conf (daemon conf overlaid by the topology's). Executors are the
    /// parallelism hint (default 1), capped by `topology.max.task.parallelism`; tasks are the component's
    /// `topology.tasks`, or its executors. Ackers: `topology.acker.executors`, or one per worker when unset.
    public init(topology: StormTopology, conf: StormConfig) {
        let maxParallelism = (try? conf.optionalInt(ConfigKey.topologyMaxTaskParallelism)) ?? nil
        var executors: [String: Int32] = [:]
        var tasks: [String: Int32] = [:]
        for c in topology.components {
            var n = max(c.common.parallelismHint ?? 1, 1)
            if let cap = maxParallelism, cap > 0 { n = min(n, Int32(clamping: cap)) }
            let componentConf = (try? JSON.decodeObject(c.common.jsonConf ?? "{}")) ?? [:]
            let t = componentConf[ConfigKey.topologyTasks]?.intValue.map { Int32(clamping: $0) } ?? n
            executors[c.id] = n
            tasks[c.id] = t
        }
        let ackers = Self.ackerExecutors(conf)
        if ackers > 0 {
            executors[Self.ackerComponent] = ackers
            tasks[Self.ackerComponent] = ackers
        }
        let loggers = Self.eventLoggerExecutors(conf)
        if loggers > 0 {
            executors[Self.eventLoggerComponent] = loggers
            tasks[Self.eventLoggerComponent] = loggers
        }
        self.executors = executors
        self.tasks = tasks
    }

    /// `topology.eventlogger.executors` (0 by default, as Storm's; set to null, one per worker, as Storm's).
    public static func eventLoggerExecutors(_ conf: StormConfig) -> Int32 {
        guard let value = conf[ConfigKey.topologyEventloggerExecutors] else { return 0 }
        if value.isNull { return Int32(clamping: max(conf.intOrDefault(ConfigKey.topologyWorkers), 1)) }
        return Int32(clamping: max(value.intValue ?? 0, 0))
    }

    public static func ackerExecutors(_ conf: StormConfig) -> Int32 {
        if let n = (try? conf.optionalInt(ConfigKey.topologyAckerExecutors)) ?? nil {
            return Int32(clamping: max(n, 0))
        }
        return Int32(clamping: max(conf.intOrDefault(ConfigKey.topologyWorkers), 1))
    }
}

/// The topology as it runs: the user's components plus the system components nimbus adds.
public enum SystemTopology {
    public static let ackInitStream = "__ack_init"
    public static let ackAckStream = "__ack_ack"
    public static let ackFailStream = "__ack_fail"

    public static let eventLogStream = "__eventlog"
    public static let eventLogFields = ["component-id", "message-id", "ts", "values"]

    public static func build(_ topology: StormTopology, conf: StormConfig) -> StormTopology {
        withEventLogger(withAckers(topology, conf: conf), conf: conf)
    }

    /// Storm's event logger bolt, fed by a `__eventlog` stream every component declares, grouped by component.
    static func withEventLogger(_ topology: StormTopology, conf: StormConfig) -> StormTopology {
        let loggers = TopologyPlan.eventLoggerExecutors(conf)
        guard loggers > 0 else { return topology }
        var system = topology
        let stream = StreamInfo(outputFields: eventLogFields, direct: false)
        var inputs: [GlobalStreamId: Grouping] = [:]
        for id in topology.spouts.keys where !TopologyName.isSystemId(id) {
            system.spouts[id]!.common.streams[eventLogStream] = stream
            inputs[GlobalStreamId(componentId: id, streamId: eventLogStream)] = .fields(["component-id"])
        }
        for id in topology.bolts.keys where !TopologyName.isSystemId(id) {
            system.bolts[id]!.common.streams[eventLogStream] = stream
            inputs[GlobalStreamId(componentId: id, streamId: eventLogStream)] = .fields(["component-id"])
        }
        system.bolts[TopologyPlan.eventLoggerComponent] = Bolt(
            boltObject: .javaObject(JavaObject(fullClassName: TopologyPlan.eventLoggerClass, argsList: [])),
            common: ComponentCommon(
                inputs: inputs, streams: [:], parallelismHint: loggers,
                jsonConf: try? JSON.encode([ConfigKey.topologyTasks: .int(Int64(loggers))])))
        return system
    }

    static func withAckers(_ topology: StormTopology, conf: StormConfig) -> StormTopology {
        let ackers = TopologyPlan.ackerExecutors(conf)
        guard ackers > 0 else { return topology }
        var system = topology
        let idFields = StreamInfo(outputFields: ["id", "ack-val"], direct: false)
        var ackerInputs: [GlobalStreamId: Grouping] = [:]
        for id in topology.spouts.keys {
            system.spouts[id]!.common.streams[ackInitStream] = StreamInfo(
                outputFields: ["id", "init-val", "spout-task"], direct: false)
            system.spouts[id]!.common.inputs[
                GlobalStreamId(componentId: TopologyPlan.ackerComponent, streamId: ackAckStream)] = .direct(
                    NullStruct())
            system.spouts[id]!.common.inputs[
                GlobalStreamId(componentId: TopologyPlan.ackerComponent, streamId: ackFailStream)] = .direct(
                    NullStruct())
            ackerInputs[GlobalStreamId(componentId: id, streamId: ackInitStream)] = .fields(["id"])
        }
        for id in topology.bolts.keys {
            system.bolts[id]!.common.streams[ackAckStream] = idFields
            system.bolts[id]!.common.streams[ackFailStream] = StreamInfo(outputFields: ["id"], direct: false)
            ackerInputs[GlobalStreamId(componentId: id, streamId: ackAckStream)] = .fields(["id"])
            ackerInputs[GlobalStreamId(componentId: id, streamId: ackFailStream)] = .fields(["id"])
        }
        let ackerCommon = ComponentCommon(
            inputs: ackerInputs,
            streams: [
                ackAckStream: StreamInfo(outputFields: ["id", "time-delta-ms"], direct: true),
                ackFailStream: StreamInfo(outputFields: ["id", "time-delta-ms"], direct: true),
            ],
            parallelismHint: ackers,
            jsonConf: try? JSON.encode([ConfigKey.topologyTasks: .int(Int64(ackers))]))
        system.bolts[TopologyPlan.ackerComponent] = Bolt(
            boltObject: .javaObject(JavaObject(fullClassName: TopologyPlan.ackerClass, argsList: [])),
            common: ackerCommon)
        return system
    }
}
