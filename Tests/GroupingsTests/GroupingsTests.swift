import StormThrift
import Testing
import Tuples

@testable import Groupings

@Suite struct GroupingsTests {
    static let tasks: [Int32] = [4, 5, 6, 7]

    func counts(_ router: inout Router, _ n: Int, values: (Int) -> TupleValues = { _ in ["x"] }) throws -> [Int32: Int]
    {
        var out: [Int32: Int] = [:]
        for i in 0..<n {
            switch try router.route(values(i), from: 1) {
            case .one(let t): out[t, default: 0] += 1
            case .many(let ts): for t in ts { out[t, default: 0] += 1 }
            case .all: for t in router.tasks { out[t, default: 0] += 1 }
            }
        }
        return out
    }

    @Test func shuffleIsExactlyEvenAndEmittersStartApart() throws {
        var router = try Router(
            grouping: .shuffle(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: ["w"], seed: 1)
        #expect(try counts(&router, 4000) == [4: 1000, 5: 1000, 6: 1000, 7: 1000])
        var orders: Set<[Int32]> = []
        for seed in 0..<20 {
            var r = try Router(
                grouping: .shuffle(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [],
                seed: UInt64(seed))
            var round: [Int32] = []
            for _ in 0..<4 { if case .one(let t) = try r.route([], from: 1) { round.append(t) } }
            #expect(Set(round) == Set(Self.tasks))
            orders.insert(round)
        }
        #expect(orders.count > 5)
    }

    @Test func noneBehavesAsShuffle() throws {
        var router = try Router(grouping: .none(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [])
        #expect(try counts(&router, 400) == [4: 100, 5: 100, 6: 100, 7: 100])
    }

    @Test func fieldsSendEqualValuesToOneTaskAndSpreadDistinctOnes() throws {
        var router = try Router(
            grouping: .fields(["word"]), subscriber: "count", tasks: Self.tasks, sourceFields: ["n", "word"])
        var home: [String: Int32] = [:]
        for i in 0..<10_000 {
            let word = "w\(i % 500)"
            guard case .one(let t) = try router.route([.int(Int64(i)), .string(word)], from: 1) else {
                Issue.record("fields grouping chose several tasks")
                return
            }
            if let seen = home[word] { #expect(seen == t) }
            home[word] = t
        }
        let perTask = Dictionary(grouping: home.values, by: { $0 }).mapValues(\.count)
        #expect(perTask.count == 4)
        #expect(perTask.values.allSatisfy { $0 > 80 && $0 < 170 }, "500 words over 4 tasks: \(perTask)")
        // Another router (another worker, another run) agrees.
        var other = try Router(
            grouping: .fields(["word"]), subscriber: "count", tasks: Self.tasks.reversed(),
            sourceFields: ["n", "word"], seed: 99)
        for (word, task) in home.prefix(50) { #expect(try other.route([0, .string(word)], from: 9) == .one(task)) }
        #expect(throws: RoutingError.self) {
            try Router(grouping: .fields(["nope"]), subscriber: "count", tasks: Self.tasks, sourceFields: ["word"])
        }
        #expect(throws: RoutingError.self) { try router.route([1], from: 1) }
    }

    /// With one task there is nothing to hash, but a tuple too short for the grouping is refused all the same.
    @Test func fieldsWithOneTaskSendEverythingThereAndStillCheckTheTuple() throws {
        var router = try Router(
            grouping: .fields(["word", "n"]), subscriber: "count", tasks: [7], sourceFields: ["n", "word"])
        for word in ["a", "b", "c"] { #expect(try router.route([1, .string(word)], from: 1) == .one(7)) }
        #expect(
            throws: RoutingError(
                description: "tuple for 'count' has 1 values; the fields grouping needs value 2")
        ) { try router.route([1], from: 1) }
    }

    @Test func allGlobalAndEmptyFields() throws {
        var all = try Router(grouping: .all(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [])
        #expect(try counts(&all, 10) == [4: 10, 5: 10, 6: 10, 7: 10])
        var global = try Router(grouping: .all(NullStruct()), subscriber: "b", tasks: [9, 3, 5], sourceFields: [])
        global = try Router(grouping: .fields([]), subscriber: "b", tasks: [9, 3, 5], sourceFields: ["w"])
        #expect(try counts(&global, 10) == [3: 10])
    }

    @Test func directChecksTheTask() throws {
        let router = try Router(grouping: .direct(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [])
        #expect(try router.direct(6) == .one(6))
        #expect(
            throws: RoutingError(
                description: "emitDirect to task 9, which is not a task of 'b' (its tasks: [4, 5, 6, 7])")
        ) {
            try router.direct(9)
        }
        var mutable = router
        #expect(throws: RoutingError.self) { try mutable.route(["x"], from: 1) }
        let shuffled = try Router(
            grouping: .shuffle(NullStruct()), subscriber: "c", tasks: Self.tasks, sourceFields: [])
        #expect(throws: RoutingError.self) { try shuffled.direct(4) }
    }

    @Test func localOrShufflePrefersTheWorkersOwnTasks() throws {
        var local = try Router(
            grouping: .localOrShuffle(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [],
            localTasks: [5, 7, 99])
        #expect(try counts(&local, 100) == [5: 50, 7: 50])
        var remote = try Router(
            grouping: .localOrShuffle(NullStruct()), subscriber: "b", tasks: Self.tasks, sourceFields: [],
            localTasks: [])
        #expect(try counts(&remote, 100) == [4: 25, 5: 25, 6: 25, 7: 25])
    }

    final class EvenOdd: CustomStreamGrouping {
        var tasks: [Int32] = []
        func prepare(targetTasks: [Int32]) { tasks = targetTasks }
        func chooseTasks(sourceTask: Int32, values: [Value]) -> [Int32] {
            guard case .int(let n) = values[0] else { return [] }
            return n < 0 ? [1000] : [tasks[Int(n % 2)]]
        }
    }

    @Test func customGroupingsAreAskedAndChecked() throws {
        var router = try Router(
            grouping: .customObject(JavaObject(fullClassName: "EvenOdd", argsList: [])), subscriber: "b",
            tasks: Self.tasks,
            sourceFields: ["n"], custom: { _ in EvenOdd() })
        #expect(try counts(&router, 10, values: { [.int(Int64($0))] }) == [4: 5, 5: 5])
        #expect(throws: RoutingError.self) { try router.route([-1], from: 1) }
        #expect(throws: RoutingError.self) {
            try Router(
                grouping: .customObject(JavaObject(fullClassName: "Nope", argsList: [])), subscriber: "b",
                tasks: Self.tasks, sourceFields: [])
        }
    }
}
