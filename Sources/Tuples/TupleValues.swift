/// A tuple's values. Most tuples carry one or two (a word; a word and its count): those are kept inline, so a
/// tuple emitted, routed, delivered and dropped costs no heap allocation of its own, nor a free on the thread
/// that executed it (tuples are made on one executor's thread and freed on another's). Longer tuples keep an
/// array.
///
/// Written as an array literal where a tuple is emitted: `collector.emit([.string(word), .int(1)])`.
public struct TupleValues: RandomAccessCollection, Hashable, Sendable, ExpressibleByArrayLiteral,
    CustomStringConvertible
{
    @usableFromInline
    enum Storage: Hashable, Sendable {
        case none
        case one(Value)
        case two(Value, Value)
        case many([Value])
    }

    @usableFromInline
    let storage: Storage

    @inlinable
    public init() { storage = .none }

    /// Inlined where a literal is written, so the literal's array is made on the stack and only its values are
    /// kept.
    @inlinable @inline(__always)
    public init(arrayLiteral elements: Value...) { self.init(elements) }

    @inlinable @inline(__always)
    public init(_ values: [Value]) {
        switch values.count {
        case 0: storage = .none
        case 1: storage = .one(values[0])
        case 2: storage = .two(values[0], values[1])
        default: storage = .many(values)
        }
    }

    @inlinable
    public init<S: Sequence>(_ values: S) where S.Element == Value { self.init(Array(values)) }

    @inlinable
    public init(_ value: Value) { storage = .one(value) }

    @inlinable
    public init(_ first: Value, _ second: Value) { storage = .two(first, second) }

    public var startIndex: Int { 0 }

    @inlinable
    public var endIndex: Int {
        switch storage {
        case .none: 0
        case .one: 1
        case .two: 2
        case .many(let values): values.count
        }
    }

    @inlinable
    public subscript(position: Int) -> Value {
        switch storage {
        case .one(let value) where position == 0: return value
        case .two(let first, _) where position == 0: return first
        case .two(_, let second) where position == 1: return second
        case .many(let values): return values[position]
        default: preconditionFailure("index \(position) out of range for a tuple of \(count) values")
        }
    }

    /// Calls `body` with each value in order: a switch once per tuple, where iterating as a collection switches
    /// (and copies the value out) once per element.
    @inlinable
    public func forEachValue(_ body: (Value) throws -> Void) rethrows {
        switch storage {
        case .none: break
        case .one(let value): try body(value)
        case .two(let first, let second):
            try body(first)
            try body(second)
        case .many(let values): for value in values { try body(value) }
        }
    }

    /// The values as an array (a copy for short tuples): for APIs that take `[Value]`.
    public var array: [Value] {
        switch storage {
        case .none: []
        case .one(let value): [value]
        case .two(let first, let second): [first, second]
        case .many(let values): values
        }
    }

    public var description: String { array.description }

    public static func == (a: TupleValues, b: [Value]) -> Bool { a.elementsEqual(b) }
    public static func == (a: [Value], b: TupleValues) -> Bool { b.elementsEqual(a) }
}
