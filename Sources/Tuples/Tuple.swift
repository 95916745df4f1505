/// A stream's field names, shared by every tuple of the stream (one lookup table, not one per tuple).
public final class Fields: Sendable, Equatable, CustomStringConvertible {
    public let names: [String]
    private let positions: [String: Int]

    public init(_ names: [String]) {
        self.names = names
        positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public func index(of name: String) -> Int? { positions[name] }
    public var count: Int { names.count }
    public var description: String { names.description }
    public static func == (a: Fields, b: Fields) -> Bool { a === b || a.names == b.names }
}

/// One stream of one component: who emits it, its name and fields, and its number in the topology's stream
/// table (how the wire names it). Every tuple of the stream shares this one object, so a tuple carries a single
/// reference instead of two strings and a field table.
public final class TupleStream: Sendable {
    public let component: String
    public let stream: String
    public let fields: Fields
    /// The stream's index in its topology's stream table; -1 for a stream outside any table (tests).
    public let id: Int32

    public init(component: String, stream: String, fields: Fields, id: Int32 = -1) {
        self.component = component
        self.stream = stream
        self.fields = fields
        self.id = id
    }
}

/// A tuple as a bolt receives it: values named by its stream's fields, and where it came from.
public struct Tuple: Sendable {
    public let values: [Value]
    public let stream: TupleStream
    public let sourceTask: Int32

    public init(values: [Value], stream: TupleStream, sourceTask: Int32) {
        self.values = values
        self.stream = stream
        self.sourceTask = sourceTask
    }

    public init(values: [Value], fields: Fields, sourceComponent: String, sourceStream: String, sourceTask: Int32) {
        self.init(
            values: values, stream: TupleStream(component: sourceComponent, stream: sourceStream, fields: fields),
            sourceTask: sourceTask)
    }

    public var fields: Fields { stream.fields }
    public var sourceComponent: String { stream.component }
    public var sourceStream: String { stream.stream }

    public subscript(field: String) -> Value? { fields.index(of: field).map { values[$0] } }
    public subscript(index: Int) -> Value { values[index] }

    /// True for the tick tuples the system sends on `topology.tick.tuple.freq.secs`.
    public var isTick: Bool { sourceComponent == "__system" && sourceStream == "__tick" }
}
