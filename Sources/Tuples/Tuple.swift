import Synchronization

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
///
/// A stream is never freed: tuples refer to it without counting references. Counting them made every tuple
/// write the stream's reference count, one cache line shared by every thread that emits or executes the
/// stream's tuples, and that traffic was the largest single cost of a word count. A topology has a handful of
/// streams; make them once (as `StreamTable` does), not per tuple.
public final class TupleStream: Sendable {
    /// Keeps the fields below off the cache line of the object's reference count (at offset 8), which any code
    /// holding a strong reference writes: threads reading a stream's id for every tuple then do not share a line
    /// with a thread retaining it.
    private let padding: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    public let component: String
    public let stream: String
    public let fields: Fields
    /// The stream's index in its topology's stream table; -1 for a stream outside any table (tests).
    public let id: Int32
    /// A stream the system uses (acking, ticks): named with a leading "__", not counted as the component's output.
    public let isSystem: Bool

    public init(component: String, stream: String, fields: Fields, id: Int32 = -1) {
        self.component = component
        self.stream = stream
        self.fields = fields
        self.id = id
        isSystem = stream.hasPrefix("__")
        _ = Unmanaged.passRetained(self)
    }

    /// The one stream for these names and fields outside any table, made on first use: for tuples built by
    /// hand (tests, tools), which must not make a new stream each.
    static func interned(component: String, stream: String, fields: Fields) -> TupleStream {
        let key = InternKey(component: component, stream: stream, fields: fields.names)
        return internedStreams.withLock { table in
            if let known = table[key] { return known }
            let made = TupleStream(component: component, stream: stream, fields: fields)
            table[key] = made
            return made
        }
    }

    private struct InternKey: Hashable {
        let component: String
        let stream: String
        let fields: [String]
    }

    private static let internedStreams = Mutex<[InternKey: TupleStream]>([:])
}

/// Where a tuple sits in the spout tuple trees it belongs to (guaranteed processing): for each root (the id the
/// spout's tuple got), this tuple's edge id, a random 64-bit number the ackers XOR. Most tracked tuples belong to
/// one tree, kept inline; a tuple anchored to several trees keeps the others in an array.
public struct TreeIds: Sendable, Equatable {
    /// An untracked tuple: root 0 (roots and edges are never 0).
    /// Computed, not stored: a stored static is read through an accessor call for every untracked tuple.
    @inlinable
    public static var none: TreeIds { TreeIds() }

    public private(set) var root: UInt64 = 0
    public private(set) var edge: UInt64 = 0
    /// The (root, edge) pairs after the first, flattened.
    @usableFromInline
    var others: [UInt64]?

    @inlinable
    public init() {}

    public init(root: UInt64, edge: UInt64) {
        self.root = root
        self.edge = edge
    }

    public var isTracked: Bool { root != 0 }
    public var count: Int { root == 0 ? 0 : 1 + (others?.count ?? 0) / 2 }

    /// XORs `edge` into the tuple's value for `root`, adding the root when the tuple was not in its tree yet.
    public mutating func add(root r: UInt64, edge e: UInt64) {
        if root == 0 {
            root = r
            edge = e
        } else if root == r {
            edge ^= e
        } else {
            var list = others ?? []
            var i = 0
            while i < list.count {
                if list[i] == r {
                    list[i + 1] ^= e
                    others = list
                    return
                }
                i += 2
            }
            list.append(r)
            list.append(e)
            others = list
        }
    }

    /// Calls `body` with each (root, edge) pair.
    @inline(__always)
    public func forEach(_ body: (_ root: UInt64, _ edge: UInt64) -> Void) {
        guard root != 0 else { return }
        body(root, edge)
        if let others {
            var i = 0
            while i < others.count {
                body(others[i], others[i + 1])
                i += 2
            }
        }
    }

    /// The same trees, every root with the edge `e`: a tuple emitted anchored to one tuple.
    public func withEdge(_ e: UInt64) -> TreeIds {
        var out = TreeIds(root: root, edge: e)
        if let others {
            var list = others
            var i = 1
            while i < list.count {
                list[i] = e
                i += 2
            }
            out.others = list
        }
        return out
    }
}

/// A tuple as a bolt receives it: values named by its stream's fields, and where it came from.
public struct Tuple: Sendable {
    public let values: TupleValues
    /// Not counted: streams are never freed (see `TupleStream`).
    public unowned(unsafe) let stream: TupleStream
    public let sourceTask: Int32
    /// When the executor started executing this tuple, if it was sampled for latency stats (Storm's process
    /// latency runs from there to the tuple's ack): microseconds of its monotonic clock, modulo 2^32 (wrapping
    /// after 71 minutes); 0 when not sampled. Beside `sourceTask`, in what would be padding, so it costs a
    /// tuple no bytes. Never leaves the worker.
    package private(set) var processSampleStart: UInt32 = 0
    /// The spout tuple trees this tuple belongs to; `.none` when it is not tracked.
    public let ids: TreeIds

    public init(values: TupleValues, stream: TupleStream, sourceTask: Int32, ids: TreeIds = .none) {
        self.values = values
        self.stream = stream
        self.sourceTask = sourceTask
        self.ids = ids
    }

    /// This tuple, sampled for latency at `micros` (see `processSampleStart`; 0 is taken as 1).
    package func sampled(atMicros micros: UInt32) -> Tuple {
        var out = self
        out.processSampleStart = max(micros, 1)
        return out
    }

    public init(values: TupleValues, fields: Fields, sourceComponent: String, sourceStream: String, sourceTask: Int32) {
        self.init(
            values: values,
            stream: TupleStream.interned(component: sourceComponent, stream: sourceStream, fields: fields),
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
