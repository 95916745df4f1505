import StormThrift
import Tuples

/// A topology's streams, numbered by component id then stream id. Every worker builds the same table from the
/// same topology, so the wire names a stream by its number.
public struct StreamTable: Sendable {
    public let all: [TupleStream]
    private let byComponent: [String: [String: TupleStream]]

    /// `topology` as it runs (`SystemTopology.build`): its acking streams are numbered with the others.
    public init(_ topology: StormTopology) {
        var list: [TupleStream] = []
        var index: [String: [String: TupleStream]] = [:]
        for component in topology.components.sorted(by: { $0.id < $1.id }) {
            for (stream, info) in component.common.streams.sorted(by: { $0.key < $1.key }) {
                let s = TupleStream(
                    component: component.id, stream: stream, fields: Fields(info.outputFields), id: Int32(list.count))
                list.append(s)
                index[component.id, default: [:]][stream] = s
            }
        }
        all = list
        byComponent = index
    }

    public func stream(_ component: String, _ stream: String) -> TupleStream? { byComponent[component]?[stream] }
    public func streams(of component: String) -> [String: TupleStream] { byComponent[component] ?? [:] }
}
