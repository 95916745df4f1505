import StormCore
import StormMetrics
import StormThrift
import Tuples

public let defaultStream = "default"

/// Collects the streams a component emits on, with their fields.
public struct OutputDeclarer: Sendable {
    public private(set) var streams: [String: StreamInfo] = [:]

    public init() {}

    public mutating func declare(_ fields: [String], stream: String = defaultStream, direct: Bool = false) {
        streams[stream] = StreamInfo(outputFields: fields, direct: direct)
    }
}

/// What a task knows about its topology.
public struct TopologyContext: Sendable {
    public let topologyId: String
    public let thisTaskId: Int32
    public let thisComponentId: String
    public let taskToComponent: [Int32: String]
    /// The topology's conf, merged over the daemon's.
    public let conf: StormConfig
    /// The topology as submitted, without the system components and streams the runtime adds: what Storm's
    /// user context describes to a component (its streams, sources and targets).
    public let topology: StormTopology
    /// Where the component registers its own metrics (Storm's `registerCounter`, `registerTimer`, ...).
    public let metrics: TaskMetrics
    /// The port of the worker the task runs in (Storm's `getThisWorkerPort`); nil in local mode.
    public let thisWorkerPort: Int?

    public init(
        topologyId: String, thisTaskId: Int32, thisComponentId: String, taskToComponent: [Int32: String],
        conf: StormConfig,
        topology: StormTopology = StormTopology(spouts: [:], bolts: [:], stateSpouts: [:]),
        metrics: TaskMetrics = .unexposed(), thisWorkerPort: Int? = nil
    ) {
        self.topologyId = topologyId
        self.thisTaskId = thisTaskId
        self.thisComponentId = thisComponentId
        self.taskToComponent = taskToComponent
        self.conf = conf
        self.topology = topology
        self.metrics = metrics
        self.thisWorkerPort = thisWorkerPort
    }

    /// A component's task ids, sorted.
    public func tasks(of component: String) -> [Int32] {
        taskToComponent.filter { $0.value == component }.map(\.key).sorted()
    }

    /// A component's declarations: its inputs and the streams it emits on.
    public func common(of component: String) -> ComponentCommon? {
        topology.spouts[component]?.common ?? topology.bolts[component]?.common
            ?? topology.stateSpouts[component]?.common
    }

    /// The streams this component declares.
    public var thisStreams: [String: StreamInfo] { common(of: thisComponentId)?.streams ?? [:] }

    /// What this component subscribes to, and how.
    public var thisSources: [GlobalStreamId: Grouping] { common(of: thisComponentId)?.inputs ?? [:] }

    /// Who subscribes to this component's streams: stream -> subscribing component -> grouping.
    public var thisTargets: [String: [String: Grouping]] {
        var targets: [String: [String: Grouping]] = [:]
        for component in topology.components {
            for (source, grouping) in component.common.inputs where source.componentId == thisComponentId {
                targets[source.streamId, default: [:]][component.id] = grouping
            }
        }
        return targets
    }
}

/// Where a component's errors go: the log and the topology's errors (`storm get-errors`).
public protocol ErrorReporter: AnyObject {
    func reportError(_ error: any Error)
    /// Reports an error this task cannot go on from: the worker records it and stops, and its supervisor
    /// starts it again (as Storm's worker dies).
    func reportFatal(_ error: any Error)
}

extension ErrorReporter {
    public func reportFatal(_ error: any Error) { reportError(error) }
}

/// How a spout emits. `messageId` makes the tuple tracked (acked or failed back to the spout).
public protocol SpoutOutputCollector: ErrorReporter {
    /// Emits to the stream's subscribers; returns the task ids the tuple went to.
    @discardableResult
    func emit(_ values: TupleValues, stream: String, messageId: Value?) -> [Int32]
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, messageId: Value?)
}

/// How a bolt emits, and acks or fails what it received.
public protocol OutputCollector: ErrorReporter {
    @discardableResult
    func emit(_ values: TupleValues, stream: String, anchors: [Tuple]) -> [Int32]
    /// Emits anchored to one tuple (the usual case: no array of anchors to build for every tuple).
    @discardableResult
    func emit(_ values: TupleValues, stream: String, anchor: Tuple) -> [Int32]
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, anchors: [Tuple])
    func ack(_ tuple: Tuple)
    func fail(_ tuple: Tuple)
}

extension SpoutOutputCollector {
    @discardableResult
    public func emit(_ values: TupleValues, stream: String = defaultStream, messageId: Value? = nil) -> [Int32] {
        emit(values, stream: stream, messageId: messageId)
    }
}

extension OutputCollector {
    @discardableResult
    public func emit(_ values: TupleValues, stream: String = defaultStream, anchors: [Tuple] = []) -> [Int32] {
        emit(values, stream: stream, anchors: anchors)
    }

    /// For collectors that only implement the many-anchors form.
    @discardableResult
    public func emit(_ values: TupleValues, stream: String, anchor: Tuple) -> [Int32] {
        emit(values, stream: stream, anchors: [anchor])
    }

    @discardableResult
    public func emit(_ values: TupleValues, anchor: Tuple) -> [Int32] {
        emit(values, stream: defaultStream, anchor: anchor)
    }
}

/// A spout or a bolt. A component instance runs one task; it is used from one thread at a time.
public protocol Component: AnyObject {
    func declareOutputFields(_ declarer: inout OutputDeclarer)
}

/// A source of tuples: nextTuple is called in a loop while the topology is active.
public protocol Spout: Component {
    func open(context: TopologyContext, collector: any SpoutOutputCollector) throws
    func nextTuple()
    func ack(_ messageId: Value)
    func fail(_ messageId: Value)
    func activate()
    func deactivate()
    func close()
}

extension Spout {
    public func ack(_ messageId: Value) {}
    public func fail(_ messageId: Value) {}
    public func activate() {}
    public func deactivate() {}
    public func close() {}
}

/// Processes tuples.
public protocol Bolt: Component {
    func prepare(context: TopologyContext, collector: any OutputCollector) throws
    func execute(_ tuple: Tuple)
    func cleanup()
}

extension Bolt {
    public func cleanup() {}
}

/// A bolt with work that arrives from elsewhere too (a subprocess's answers): its executor calls `pump` on every
/// turn of its loop, on the executor's thread, and the bolt calls `wake` (set before prepare) to get a turn soon.
public protocol PumpedBolt: Bolt {
    var wake: (@Sendable () -> Void)? { get set }
    func pump()
}
