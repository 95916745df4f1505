import StormThrift

/// Builds a StormTopology from component class names, with the streams each component declares, as Storm's
/// TopologyBuilder does for Java objects.
public struct TopologyBuilder {
    let registry: ComponentRegistry
    var spouts: [String: SpoutSpec] = [:]
    var bolts: [String: StormThrift.Bolt] = [:]
    var failures: [String] = []

    public init(registry: ComponentRegistry = .shared) { self.registry = registry }

    public mutating func setSpout(_ id: String, _ className: String, parallelism: Int32 = 1, args: [JavaObjectArg] = [])
    {
        guard let streams = streams(id, className, args) else { return }
        spouts[id] = SpoutSpec(
            spoutObject: .javaObject(JavaObject(fullClassName: className, argsList: args)),
            common: ComponentCommon(inputs: [:], streams: streams, parallelismHint: parallelism))
    }

    /// Adds a bolt; say what it subscribes to on the declarer this returns.
    @discardableResult
    public mutating func setBolt(
        _ id: String, _ className: String, parallelism: Int32 = 1, args: [JavaObjectArg] = []
    )
        -> InputDeclarer
    {
        if let streams = streams(id, className, args) {
            bolts[id] = StormThrift.Bolt(
                boltObject: .javaObject(JavaObject(fullClassName: className, argsList: args)),
                common: ComponentCommon(inputs: [:], streams: streams, parallelismHint: parallelism))
        }
        return InputDeclarer(component: id)
    }

    /// Subscribes a bolt added with setBolt.
    public mutating func subscribe(_ declarer: InputDeclarer) {
        for (source, grouping) in declarer.inputs { bolts[declarer.component]?.common.inputs[source] = grouping }
    }

    public func build() throws -> StormTopology {
        if let failure = failures.first { throw ComponentRegistry.Failure(description: failure) }
        return StormTopology(spouts: spouts, bolts: bolts, stateSpouts: [:])
    }

    private mutating func streams(_ id: String, _ className: String, _ args: [JavaObjectArg]) -> [String: StreamInfo]? {
        do {
            return try registry.declaredStreams(className, args: args)
        } catch {
            failures.append("component '\(id)': \(error)")
            return nil
        }
    }
}

/// A bolt's subscriptions, one grouping each.
public struct InputDeclarer {
    public let component: String
    var inputs: [GlobalStreamId: Grouping] = [:]

    init(component: String) { self.component = component }

    private func adding(_ source: String, _ stream: String, _ grouping: Grouping) -> InputDeclarer {
        var copy = self
        copy.inputs[GlobalStreamId(componentId: source, streamId: stream)] = grouping
        return copy
    }

    public func shuffleGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .shuffle(NullStruct()))
    }
    public func fieldsGrouping(_ source: String, _ fields: [String], stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .fields(fields))
    }
    public func allGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .all(NullStruct()))
    }
    public func globalGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .fields([]))
    }
    public func noneGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .none(NullStruct()))
    }
    public func directGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .direct(NullStruct()))
    }
    public func localOrShuffleGrouping(_ source: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .localOrShuffle(NullStruct()))
    }
    public func customGrouping(_ source: String, _ className: String, stream: String = defaultStream) -> InputDeclarer {
        adding(source, stream, .customObject(JavaObject(fullClassName: className, argsList: [])))
    }
}
