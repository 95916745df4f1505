import StormThrift

/// How a bolt of a linear DRPC topology knows it has seen every tuple of a request (Storm's CoordinatedBolt): each
/// upstream task reports on `stream` how many tuples of the request it sent to each task, and a task whose counts
/// and acks agree has finished the request. A bolt is coordinated when its component conf holds `confKey`, which the
/// linear DRPC builders (Swift, Python, Flux) write; the runtime wraps the bolt, whatever it is (a Swift class or a
/// shell component), so the bolt itself knows nothing of it.
public struct CoordinationSpec: Sendable, Equatable {
    /// Where in a component's json_conf the spec is.
    public static let confKey = "storm.coordination"
    /// Storm's coordination stream (`Constants.COORDINATED_STREAM_ID`): `["id", "count"]`, direct.
    public static let stream = "org.apache.storm.coordination.CoordinatedBolt/coord-stream"
    public static let streamInfo = StreamInfo(outputFields: ["id", "count"], direct: true)

    /// How many reports a request gets from a source: one (only the task that had the request reports, as for the
    /// first bolt, which sees each request once) or one from every task of the source.
    public enum Reports: String, Sendable, Equatable, CaseIterable {
        case single, all
    }

    /// Upstream components that report their counts, and how many of their tasks do.
    public var sources: [String: Reports]
    /// The stream that names each request once (PrepareRequest's `id`): a bolt that finishes requests (a
    /// `FinishedCallback`) finishes a request only on the task that stream's tuple reached.
    public var idStream: GlobalStreamId?

    public init(sources: [String: Reports] = [:], idStream: GlobalStreamId? = nil) {
        self.sources = sources
        self.idStream = idStream
    }

    public var configValue: ConfigValue {
        var map: [String: ConfigValue] = ["sources": .map(sources.mapValues { .string($0.rawValue) })]
        if let idStream {
            map["id-stream"] = .list([.string(idStream.componentId), .string(idStream.streamId)])
        }
        return .map(map)
    }

    /// Reads the spec from a component's conf value; the error says what is wrong with it.
    public init(_ value: ConfigValue) throws(TopologyError) {
        func bad(_ what: String) -> TopologyError {
            TopologyError("\(Self.confKey) \(what), not \(value.display)")
        }
        guard let map = value.mapValue else { throw bad("must be a map of sources and an id-stream") }
        for key in map.keys where key != "sources" && key != "id-stream" {
            throw bad("has an unknown key '\(key)' (it takes sources and id-stream)")
        }
        var sources: [String: Reports] = [:]
        if let given = map["sources"], !given.isNull {
            guard let entries = given.mapValue else { throw bad("sources must map components to single or all") }
            for (component, reports) in entries {
                guard let kind = reports.stringValue.flatMap(Reports.init(rawValue:)) else {
                    throw bad("sources must map components to single or all")
                }
                sources[component] = kind
            }
        }
        var idStream: GlobalStreamId?
        if let given = map["id-stream"], !given.isNull {
            guard let parts = given.listValue, parts.count == 2, let component = parts[0].stringValue,
                let stream = parts[1].stringValue
            else { throw bad("id-stream must be [component, stream]") }
            idStream = GlobalStreamId(componentId: component, streamId: stream)
        }
        self.init(sources: sources, idStream: idStream)
    }

    /// The spec a component's json_conf holds, if any.
    public static func of(jsonConf: String?) throws(TopologyError) -> CoordinationSpec? {
        guard let jsonConf, let conf = try? JSON.decodeObject(jsonConf), let value = conf[confKey], !value.isNull
        else { return nil }
        return try CoordinationSpec(value)
    }

    /// Checks the spec against the bolt it coordinates: it declares the coordination stream, each source reports
    /// to it on that stream, and the id stream is one it subscribes to.
    func validate(bolt id: String, common: ComponentCommon) throws(TopologyError) {
        guard common.streams[Self.stream] == Self.streamInfo else {
            throw TopologyError(
                "bolt '\(id)' is coordinated but does not declare the coordination stream \(Self.stream) [\"id\", \"count\"] direct"
            )
        }
        for source in sources.keys.sorted()
        where common.inputs[GlobalStreamId(componentId: source, streamId: Self.stream)] == nil {
            throw TopologyError(
                "bolt '\(id)' is coordinated by '\(source)' but does not subscribe to its coordination stream")
        }
        if let idStream, common.inputs[idStream] == nil {
            throw TopologyError(
                "bolt '\(id)' takes its request ids from \(idStream.componentId):\(idStream.streamId) but does not subscribe to it"
            )
        }
    }
}
