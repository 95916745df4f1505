/// A Flux topology's components and streams in the order its files define them, for printing: the maps of a
/// StormTopology have no order, and shell components no longer carry the class name the file gave.
public struct FluxOutline: Equatable, Sendable {
    public struct Component: Equatable, Sendable {
        public let id: String
        public let parallelism: Int32
        public let className: String
    }

    public struct Stream: Equatable, Sendable {
        public let from: String
        public let to: String
        /// The grouping's type as Flux names it (SHUFFLE, FIELDS, ...).
        public let grouping: String
        public let streamId: String
    }

    public var spouts: [Component] = []
    public var bolts: [Component] = []
    public var streams: [Stream] = []

    /// Adds a component, or replaces one of that id where it stood (an override keeps the place of what it
    /// overrides).
    mutating func put(_ component: Component, spout: Bool) {
        spouts.removeAll { $0.id == component.id && !spout }
        bolts.removeAll { $0.id == component.id && spout }
        if spout { Self.upsert(component, into: &spouts) } else { Self.upsert(component, into: &bolts) }
    }

    /// Adds a stream, or replaces the one between the same components on the same stream id (as the topology's
    /// inputs do).
    mutating func put(_ stream: Stream) {
        if let i = streams.firstIndex(where: {
            ($0.from, $0.to, $0.streamId) == (stream.from, stream.to, stream.streamId)
        }) {
            streams[i] = stream
        } else {
            streams.append(stream)
        }
    }

    private static func upsert(_ component: Component, into list: inout [Component]) {
        if let i = list.firstIndex(where: { $0.id == component.id }) {
            list[i] = component
        } else {
            list.append(component)
        }
    }

    /// The block Flux prints before it runs or submits a topology (and alone on a dry run), in Flux's layout;
    /// a stream on a named stream also says which.
    public func details(name: String) -> [String] {
        var lines = [
            "---------- TOPOLOGY DETAILS ----------", "Topology Name: \(name)",
            "--------------- SPOUTS ---------------",
        ]
        lines += spouts.map { "\($0.id) [\($0.parallelism)] (\($0.className))" }
        lines.append("---------------- BOLTS ---------------")
        lines += bolts.map { "\($0.id) [\($0.parallelism)] (\($0.className))" }
        lines.append("--------------- STREAMS ---------------")
        lines += streams.map { s in
            "\(s.from) --\(s.grouping)--> \(s.to)" + (s.streamId == "default" ? "" : " (stream \(s.streamId))")
        }
        lines += ["--------------- WORKER HOOKS ---------------", "--------------------------------------"]
        return lines
    }
}
