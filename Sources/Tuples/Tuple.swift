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

/// A tuple as a bolt receives it: values named by its stream's fields, and where it came from.
public struct Tuple: Sendable {
    public let values: [Value]
    public let fields: Fields
    public let sourceComponent: String
    public let sourceStream: String
    public let sourceTask: Int32

    public init(values: [Value], fields: Fields, sourceComponent: String, sourceStream: String, sourceTask: Int32) {
        self.values = values
        self.fields = fields
        self.sourceComponent = sourceComponent
        self.sourceStream = sourceStream
        self.sourceTask = sourceTask
    }

    public subscript(field: String) -> Value? { fields.index(of: field).map { values[$0] } }
    public subscript(index: Int) -> Value { values[index] }

    /// True for the tick tuples the system sends on `topology.tick.tuple.freq.secs`.
    public var isTick: Bool { sourceComponent == "__system" && sourceStream == "__tick" }
}
