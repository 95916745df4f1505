import Components
import StormThrift
import Tuples

/// The `context` of the multilang handshake, in the shape Storm's TopologyContext gives its children: adapters
/// (pystorm builds its tuple types from `source->stream->fields`) read these keys by name. Described from the
/// topology as submitted, as Storm's user context is: no acker streams or system components.
enum ShellContext {
    static func json(_ context: TopologyContext) -> Value {
        var taskToComponent: [String: Value] = [:]
        for (task, component) in context.taskToComponent { taskToComponent[String(task)] = .string(component) }
        let streams = context.thisStreams
        var outputFields: [String: Value] = [:]
        for (stream, info) in streams { outputFields[stream] = strings(info.outputFields) }
        var targets: [String: Value] = [:]
        for (stream, subscribers) in context.thisTargets {
            targets[stream] = .map(subscribers.mapValues(grouping))
        }
        var sourceGroupings: [String: [String: Value]] = [:]
        var sourceFields: [String: Value] = [:]
        for (source, subscription) in context.thisSources {
            sourceGroupings[source.componentId, default: [:]][source.streamId] = grouping(subscription)
            // Every stream of a source, not only the subscribed ones, as Storm lists them.
            if let declared = context.common(of: source.componentId)?.streams {
                sourceFields[source.componentId] = .map(declared.mapValues { strings($0.outputFields) })
            }
        }
        return .map([
            "task->component": .map(taskToComponent),
            "taskid": .int(Int64(context.thisTaskId)),
            "componentid": .string(context.thisComponentId),
            "streams": strings(streams.keys.sorted()),
            "stream->outputfields": .map(outputFields),
            "stream->target->grouping": .map(targets),
            "source->stream->grouping": .map(sourceGroupings.mapValues { .map($0) }),
            "source->stream->fields": .map(sourceFields),
        ])
    }

    /// A grouping as Storm describes it to children: the name of the Thrift union's set field as its Java enum
    /// constant prints (`SHUFFLE`, `FIELDS`, `LOCAL_OR_SHUFFLE`, ...), and for a fields grouping its fields (an
    /// empty list for a global grouping, which is a fields grouping on no fields).
    static func grouping(_ grouping: Grouping) -> Value {
        switch grouping {
        case .fields(let fields): .map(["type": "FIELDS", "fields": strings(fields)])
        case .shuffle: .map(["type": "SHUFFLE"])
        case .all: .map(["type": "ALL"])
        case .none: .map(["type": "NONE"])
        case .direct: .map(["type": "DIRECT"])
        case .customObject: .map(["type": "CUSTOM_OBJECT"])
        case .customSerialized: .map(["type": "CUSTOM_SERIALIZED"])
        case .localOrShuffle: .map(["type": "LOCAL_OR_SHUFFLE"])
        }
    }

    private static func strings(_ list: [String]) -> Value { .list(list.map { .string($0) }) }
}
