import StormThrift
import Tuples

/// A grouping a Swift component provides: Storm's CustomStreamGrouping.
public protocol CustomStreamGrouping: AnyObject {
    /// Called once with the subscribing component's task ids (sorted).
    func prepare(targetTasks: [Int32])
    /// The tasks a tuple from `sourceTask` goes to; each must be one of the target tasks.
    func chooseTasks(sourceTask: Int32, values: [Value]) -> [Int32]
}

public struct RoutingError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Where a tuple goes.
public enum Targets: Equatable {
    case one(Int32)
    /// Every task of the subscriber (the router's `tasks`), without building a list per tuple.
    case all
    case many([Int32])
}

/// Chooses the target tasks of one subscription (a stream and the component subscribed to it) for each tuple,
/// as Storm's groupings do. One router per emitting executor: it keeps its own rotation and needs no lock.
/// A `switch` over the kind rather than a protocol: the choice is made per tuple.
public struct Router {
    // No payloads: a switch over a payload enum retains what it binds, once per tuple.
    @usableFromInline
    enum Kind {
        case rotate  // shuffle, none, local_or_shuffle: the tasks of `order` in turn
        case fields  // hash of the values at `fieldIndices`
        case all
        case global  // the lowest task
        case direct  // the emitter names a task of `valid`
        case custom  // `customGrouping` chooses among `valid`
    }

    /// The subscriber's tasks, sorted.
    public let tasks: [Int32]
    let subscriber: String
    @usableFromInline
    let kind: Kind
    var order: [Int32] = []
    var position = 0
    var fieldIndices: [Int] = []
    var valid: Set<Int32> = []
    var customGrouping: (any CustomStreamGrouping)? = nil

    /// - Parameters:
    ///   - sourceFields: the output fields of the subscribed stream (for fields groupings).
    ///   - localTasks: the subscriber's tasks in the emitting worker (for local_or_shuffle).
    ///   - custom: makes the grouping a `custom_object` names.
    public init(
        grouping: Grouping, subscriber: String, tasks: [Int32], sourceFields: [String], localTasks: Set<Int32> = [],
        seed: UInt64 = UInt64.random(in: 0...UInt64.max),
        custom: (JavaObject) throws -> any CustomStreamGrouping = {
            throw RoutingError(description: "no custom grouping \($0.fullClassName)")
        }
    ) throws {
        self.tasks = tasks.sorted()
        self.subscriber = subscriber
        guard !self.tasks.isEmpty else {
            throw RoutingError(description: "component '\(subscriber)' has no tasks to route to")
        }
        switch grouping {
        case .shuffle, .none:
            kind = .rotate
            order = self.tasks
        case .localOrShuffle:
            let local = self.tasks.filter(localTasks.contains)
            kind = .rotate
            order = local.isEmpty ? self.tasks : local
        case .fields(let fields) where fields.isEmpty:
            kind = .global
        case .fields(let fields):
            kind = .fields
            fieldIndices = try fields.map { field in
                guard let i = sourceFields.firstIndex(of: field) else {
                    throw RoutingError(
                        description:
                            "fields grouping of '\(subscriber)' names '\(field)', not a field of \(sourceFields)")
                }
                return i
            }
        case .all:
            kind = .all
        case .direct:
            kind = .direct
            valid = Set(self.tasks)
        case .customObject(let object):
            let grouping = try custom(object)
            grouping.prepare(targetTasks: self.tasks)
            kind = .custom
            customGrouping = grouping
            valid = Set(self.tasks)
        case .customSerialized:
            throw RoutingError(
                description: "component '\(subscriber)' uses a serialized Java grouping, which cannot run here")
        }
        // Shuffled once, then taken in turn, as Storm's shuffle grouping does: exactly even counts, and emitters
        // with different seeds do not all start on the same task.
        var random = SplitMix64(seed: seed)
        order.shuffle(using: &random)
    }

    /// The targets of a tuple. Direct groupings take their task from the emitter: use `direct(_:)` instead.
    public mutating func route(_ values: TupleValues, from sourceTask: Int32) throws(RoutingError) -> Targets {
        switch kind {
        case .rotate:
            let task = order[position]
            position = position + 1 == order.count ? 0 : position + 1
            return .one(task)
        case .fields:
            for i in fieldIndices where i >= values.count {
                throw RoutingError(
                    description:
                        "tuple for '\(subscriber)' has \(values.count) values; the fields grouping needs value \(i + 1)"
                )
            }
            // One task takes every tuple: nothing to hash.
            if tasks.count == 1 { return .one(tasks[0]) }
            var hasher = StableHasher()
            for i in fieldIndices { hasher.combine(values[i]) }
            return .one(tasks[Int(hasher.value % UInt64(tasks.count))])
        case .all:
            return .all
        case .global:
            return .one(tasks[0])
        case .direct:
            throw RoutingError(
                description: "'\(subscriber)' subscribes with a direct grouping: emit with emitDirect and a task id")
        case .custom:
            let chosen = customGrouping!.chooseTasks(sourceTask: sourceTask, values: values.array)
            for task in chosen where !valid.contains(task) {
                throw RoutingError(
                    description:
                        "custom grouping of '\(subscriber)' chose task \(task), which is not one of its tasks \(tasks)")
            }
            return chosen.count == 1 ? .one(chosen[0]) : .many(chosen)
        }
    }

    /// Checks an emitDirect target: it must be a task of a subscriber that groups directly.
    public func direct(_ task: Int32) throws(RoutingError) -> Targets {
        guard kind == .direct else {
            throw RoutingError(description: "'\(subscriber)' does not subscribe with a direct grouping")
        }
        guard valid.contains(task) else {
            throw RoutingError(
                description: "emitDirect to task \(task), which is not a task of '\(subscriber)' (its tasks: \(tasks))")
        }
        return .one(task)
    }

    /// Inlinable: the collector asks it for every emitted tuple.
    @inlinable
    public var isDirect: Bool { kind == .direct }
}

/// A small, fast generator with an explicit seed, so tests can reproduce a shuffle.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

}
