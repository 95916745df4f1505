import StormCore
import Testing

@testable import Nimbus

@Suite struct EvenSchedulerTests {
    static func slots(_ node: String, _ ports: ClosedRange<Int64> = 6700...6703) -> Set<WorkerSlot> {
        Set(ports.map { WorkerSlot(node: node, port: $0) })
    }

    static let executors: Set<Executor> = Set(
        TaskLayout.executors(
            tasks: ["spout": 2, "split": 8, "count": 4, "__acker": 2],
            executorCounts: ["spout": 2, "split": 4, "count": 4, "__acker": 2]
        ).keys)

    @Test func tasksAndExecutorsAreNumberedAsStormDoes() {
        #expect(TaskLayout.taskRanges(["b": 2, "a": 3, "__acker": 1]) == ["__acker": 1...1, "a": 2...4, "b": 5...6])
        #expect(TaskLayout.executors(tasks: 1...10, executors: 3) == [Executor(1, 4), Executor(5, 7), Executor(8, 10)])
        #expect(TaskLayout.executors(tasks: 5...6, executors: 4) == [Executor(5, 5), Executor(6, 6)])
        #expect(Self.executors.count == 12)
    }

    @Test func aFreshTopologySpreadsEvenlyAcrossSupervisors() {
        let outcome = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: [:], alive: [],
            free: Self.slots("a").union(Self.slots("b")))
        #expect(outcome.workers == 4)
        #expect(outcome.status == "Fully Scheduled")
        let used = Set(outcome.placement.values)
        #expect(used.filter { $0.node == "a" }.count == 2 && used.filter { $0.node == "b" }.count == 2)
        let perSlot = Dictionary(grouping: outcome.placement.keys, by: { outcome.placement[$0]! }).mapValues(\.count)
        #expect(perSlot.values.max()! - perSlot.values.min()! <= 1)
        #expect(Set(outcome.placement.keys) == Self.executors)
    }

    @Test func onlyFreeSlotsAreUsed() {
        let free = Self.slots("a", 6702...6703).union(Self.slots("b", 6703...6703))
        let outcome = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 3, current: [:], alive: [], free: free)
        #expect(Set(outcome.placement.values).isSubset(of: free))
        #expect(outcome.workers == 3)
    }

    @Test func aTopologyThatDoesNotFitRunsOnWhatThereIsAndGrowsLater() {
        let small = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: [:], alive: [], free: Self.slots("a", 6700...6701))
        #expect(small.workers == 2)
        #expect(Set(small.placement.keys) == Self.executors)
        #expect(small.status == "Running with fewer workers than requested: 2 of 4 (not enough free slots)")
        let none = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: [:], alive: [], free: [])
        #expect(none.placement.isEmpty && none.status == "Not scheduled: no free slots")
        // Slots free up: the topology spreads to the workers it asked for, keeping its old slots.
        let grown = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: small.placement,
            alive: Set(small.placement.values),
            free: Self.slots("b"))
        #expect(grown.workers == 4 && grown.status == "Fully Scheduled")
        #expect(Set(small.placement.values).isSubset(of: Set(grown.placement.values)))
    }

    @Test func executorsOfADeadSupervisorMoveAndTheRestStay() {
        let first = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: [:], alive: [],
            free: Self.slots("a").union(Self.slots("b")))
        let aliveSlots = Set(first.placement.values.filter { $0.node == "a" })
        let freeOnA = Self.slots("a").subtracting(aliveSlots)
        let after = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: first.placement, alive: aliveSlots, free: freeOnA)
        #expect(Set(after.placement.values).allSatisfy { $0.node == "a" })
        #expect(after.workers == 4)
        for (e, slot) in first.placement where slot.node == "a" { #expect(after.placement[e] == slot) }
        #expect(Set(after.placement.keys) == Self.executors)
        // With no free slot at all, the orphans join the live slots.
        let packed = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 4, current: first.placement, alive: aliveSlots, free: [])
        #expect(Set(packed.placement.values) == aliveSlots)
        #expect(Set(packed.placement.keys) == Self.executors)
    }

    @Test func anUnchangedTopologyStaysPut() {
        let first = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 2, current: [:], alive: [],
            free: Self.slots("a").union(Self.slots("b")))
        let again = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 2, current: first.placement,
            alive: Set(first.placement.values),
            free: Self.slots("a").union(Self.slots("b")).subtracting(first.placement.values))
        #expect(again == first)
    }
}

extension EvenSchedulerTests {
    @Test func withNowhereToGoExecutorsStayPut() {
        let first = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 2, current: [:], alive: [], free: Self.slots("a"))
        let stranded = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 2, current: first.placement, alive: [], free: [])
        #expect(stranded.placement == first.placement)
        #expect(stranded.status == "Not scheduled: no free slots")
    }
}

extension EvenSchedulerTests {
    /// A rebalance drops the old assignment and the scheduler spreads the new executor set afresh.
    @Test func rebalanceSpreadsTheNewExecutorsOverTheNewWorkerCount() {
        let all = Self.slots("a").union(Self.slots("b"))
        let before = EvenScheduler.schedule(
            executors: Self.executors, requestedWorkers: 2, current: [:], alive: [], free: all)
        let rebalanced = Set(
            TaskLayout.executors(
                tasks: ["spout": 2, "split": 8, "count": 4, "__acker": 2],
                executorCounts: ["spout": 1, "split": 2, "count": 4, "__acker": 2]
            ).keys)
        let after = EvenScheduler.schedule(
            executors: rebalanced, requestedWorkers: 3, current: [:], alive: [], free: all)
        #expect(before.workers == 2 && after.workers == 3)
        #expect(Set(after.placement.keys) == rebalanced && rebalanced.count == 9)
        #expect(Set(after.placement.values.map(\.node)) == ["a", "b"])
        let perSlot = Dictionary(grouping: after.placement.keys, by: { after.placement[$0]! }).mapValues(\.count)
        #expect(perSlot.values.sorted() == [3, 3, 3])
    }
}
