import Components
import StormCore
import StormThrift
import Yams

extension Parser {
    /// A topology from a `linearDRPC` section, as Storm's LinearDRPCTopologyBuilder makes it: the function's name and
    /// its chain of bolts, each a Flux bolt (an `id` is optional, Storm's `bolt<index>` otherwise) with a `grouping`
    /// saying how it reads the one before it. The section makes the whole topology: the file has no spouts, bolts or
    /// streams of its own.
    func linearDRPC(_ node: Node, name: String, defs: Definitions) throws(FluxTopology.Failure) -> FluxTopology {
        guard defs.spouts.isEmpty && defs.bolts.isEmpty && defs.streams.isEmpty else {
            throw fail(node, "linearDRPC makes the whole topology: a file with it defines no spouts, bolts or streams")
        }
        let section = try mapping(node, "linearDRPC")
        for key in section.keys.compactMap(\.string) where key != "function" && key != "bolts" {
            throw fail(section[key], "linearDRPC takes function and bolts, not '\(key)'")
        }
        guard let function = try string(section, "function", in: "linearDRPC") else { throw fail(node, "no function") }
        guard let list = section["bolts"], let items = list.sequence, !items.isEmpty else {
            throw fail(section["bolts"] ?? node, "linearDRPC needs bolts: a list of at least one bolt")
        }
        var bolts: [LinearDRPCBolt] = []
        var classNames: [String] = []
        var previousStreams = [
            defaultStream: StreamInfo(outputFields: ["request", "args"], direct: false)
        ]
        var previous = LinearDRPCTopology.prepareId
        for (index, item) in items.enumerated() {
            let m = try mapping(item, "a bolt of linearDRPC")
            let id = try string(m, "id", in: "bolt \(index) of linearDRPC", required: false)
            let label = id ?? "bolt\(index)"
            guard let className = try string(m, "className", in: "bolt '\(label)'") else { continue }
            let (object, streams) = try component(
                m, id: label, className: className, kind: .bolt, list: "linearDRPC bolts")
            var inputs: [LinearDRPCBolt.Input] = []
            if let groupingNode = m["grouping"] {
                let (grouping, _, streamId) = try grouping(groupingNode, from: previous, declared: previousStreams)
                inputs.append(LinearDRPCBolt.Input(stream: streamId, grouping: grouping))
            }
            var conf: [String: ConfigValue] = [:]
            if let tasks = try int(m, "numTasks", in: "bolt '\(label)'") {
                conf[ConfigKey.topologyTasks] = .int(Int64(tasks))
            }
            bolts.append(
                LinearDRPCBolt(
                    id: id, object: object, streams: streams,
                    parallelism: try int(m, "parallelism", in: "bolt '\(label)'") ?? 1, conf: conf, inputs: inputs))
            classNames.append(className)
            previous = label
            previousStreams = streams
        }
        let topology: StormTopology
        do {
            topology = try LinearDRPCTopology.build(function: function, bolts: bolts)
        } catch {
            throw fail(node, error.description)
        }
        return FluxTopology(
            name: name, conf: defs.conf, topology: topology,
            outline: Self.outline(topology, chain: bolts.indices.map { bolts[$0].id ?? "bolt\($0)" }, classNames))
    }

    /// The outline Flux prints: the components in the order the topology runs them.
    private static func outline(_ topology: StormTopology, chain: [String], _ classNames: [String]) -> FluxOutline {
        var outline = FluxOutline()
        let joinId = "bolt\(chain.count)"
        let returnId = "bolt\(chain.count + 1)"
        outline.put(
            FluxOutline.Component(id: LinearDRPCTopology.spoutId, parallelism: 1, className: DRPCSpout.className),
            spout: true)
        var order: [(String, String)] = [(LinearDRPCTopology.prepareId, PrepareRequest.className)]
        order += zip(chain, classNames).map { ($0, $1) }
        order += [(joinId, JoinResult.className), (returnId, ReturnResults.className)]
        for (id, className) in order {
            guard let bolt = topology.bolts[id] else { continue }
            outline.put(
                FluxOutline.Component(id: id, parallelism: bolt.common.parallelismHint ?? 1, className: className),
                spout: false)
            for (source, grouping) in bolt.common.inputs.sorted(by: { $0.key.componentId < $1.key.componentId })
            where source.streamId != CoordinationSpec.stream {
                outline.put(
                    FluxOutline.Stream(
                        from: source.componentId, to: id, grouping: grouping.fluxType, streamId: source.streamId))
            }
        }
        return outline
    }
}

extension Grouping {
    /// The grouping's type as Flux names it.
    var fluxType: String {
        switch self {
        case .fields(let fields): fields.isEmpty ? "GLOBAL" : "FIELDS"
        case .shuffle: "SHUFFLE"
        case .all: "ALL"
        case .none: "NONE"
        case .direct: "DIRECT"
        case .localOrShuffle: "LOCAL_OR_SHUFFLE"
        case .customObject, .customSerialized: "CUSTOM"
        }
    }
}
