import Testing
import Tuples

@testable import Runtime

/// The acker's arithmetic on trees built the way bolts build them.
extension AnchorBook {
    /// The pairs `settle` sends, as an array.
    mutating func settle(_ input: TreeIds) -> [(root: UInt64, value: UInt64)] {
        var out: [(root: UInt64, value: UInt64)] = []
        settle(input) { out.append(($0, $1)) }
        return out
    }
}

@Suite struct AckingTests {
    let second: UInt64 = 1_000_000_000

    /// The spout emits one tuple to `count` targets: the acker's init value and the tuples' ids.
    func spoutEmit(root: UInt64, to count: Int, edges: inout EdgeIds) -> (UInt64, [TreeIds]) {
        var value: UInt64 = 0
        var out: [TreeIds] = []
        for _ in 0..<count {
            let edge = edges.next()
            value ^= edge
            out.append(TreeIds(root: root, edge: edge))
        }
        return (value, out)
    }

    @Test func aDiamondCompletesOnlyWhenItsLastTupleIsAcked() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook()
        var edges = EdgeIds(seed: 7)
        let root: UInt64 = 42
        let (value, spoutTuples) = spoutEmit(root: root, to: 1, edges: &edges)
        #expect(tracker.initialize(root: root, value: value, spoutTask: 3, now: 0) == nil)
        // A splits into B and C; D joins them (anchored to both).
        let a = spoutTuples[0]
        let b = book.anchor(to: [a], edges: &edges)
        let c = book.anchor(to: [a], edges: &edges)
        for (root, value) in book.settle(a) { #expect(tracker.ack(root: root, value: value, now: 1) == nil) }
        let d = book.anchor(to: [b, c], edges: &edges)
        #expect(d.count == 1, "a join within one tree stays one root")
        for (root, value) in book.settle(b) { #expect(tracker.ack(root: root, value: value, now: 2) == nil) }
        for (root, value) in book.settle(c) { #expect(tracker.ack(root: root, value: value, now: 3) == nil) }
        #expect(tracker.pendingCount == 1)
        let last = book.settle(d)
        #expect(last.count == 1)
        #expect(
            tracker.ack(root: last[0].root, value: last[0].value, now: 10)
                == .complete(root: root, spoutTask: 3, latencyNanos: 10))
        #expect(tracker.pendingCount == 0)
        #expect(book.count == 0, "the bolt forgets what it anchored once the inputs are acked")
    }

    @Test func acksInAnyOrderCompleteTheTree() {
        // Emitting to B and C while the input A is pending, then acking C, A, B: only the last ack completes.
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook()
        var edges = EdgeIds(seed: 8)
        let (value, spoutTuples) = spoutEmit(root: 5, to: 2, edges: &edges)
        _ = tracker.initialize(root: 5, value: value, spoutTask: 1, now: 0)
        let (a, other) = (spoutTuples[0], spoutTuples[1])
        let b = book.anchor(to: [a], edges: &edges)
        let c = book.anchor(to: [other], edges: &edges)  // interleaved inputs: the book's second slot
        let b2 = book.anchor(to: [a], edges: &edges)
        var outcomes: [AckTracker.Outcome] = []
        for tuple in [c, other, b2, a, b] {
            for (root, v) in book.settle(tuple) {
                if let o = tracker.ack(root: root, value: v, now: 4) { outcomes.append(o) }
            }
        }
        #expect(outcomes == [.complete(root: 5, spoutTask: 1, latencyNanos: 4)])
    }

    @Test func aTupleAnchoredToTwoTreesBelongsToBoth() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook()
        var edges = EdgeIds(seed: 11)
        let (v1, t1) = spoutEmit(root: 1, to: 1, edges: &edges)
        let (v2, t2) = spoutEmit(root: 2, to: 1, edges: &edges)
        _ = tracker.initialize(root: 1, value: v1, spoutTask: 5, now: 0)
        _ = tracker.initialize(root: 2, value: v2, spoutTask: 5, now: 0)
        let joined = book.anchor(to: [t1[0], t2[0]], edges: &edges)
        var roots: [UInt64] = []
        joined.forEach { root, _ in roots.append(root) }
        #expect(roots == [1, 2])
        for input in [t1[0], t2[0]] {
            for (root, value) in book.settle(input) { #expect(tracker.ack(root: root, value: value, now: 1) == nil) }
        }
        let outcomes = book.settle(joined).compactMap { tracker.ack(root: $0.root, value: $0.value, now: 2) }
        #expect(
            outcomes == [
                .complete(root: 1, spoutTask: 5, latencyNanos: 2), .complete(root: 2, spoutTask: 5, latencyNanos: 2),
            ])
    }

    @Test func anAckOvertakingTheInitWaitsForIt() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook()
        var edges = EdgeIds(seed: 3)
        let (value, tuples) = spoutEmit(root: 9, to: 2, edges: &edges)
        for tuple in tuples {
            for (root, v) in book.settle(tuple) { #expect(tracker.ack(root: root, value: v, now: 1) == nil) }
        }
        // The value is already zero, but the spout's task is unknown until its init arrives.
        #expect(
            tracker.initialize(root: 9, value: value, spoutTask: 4, now: 2)
                == .complete(root: 9, spoutTask: 4, latencyNanos: 1))
    }

    @Test func anExplicitFailFailsTheTreeAtOnceAndTimeoutsForgetTheRest() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var edges = EdgeIds(seed: 5)
        let (v1, _) = spoutEmit(root: 1, to: 3, edges: &edges)
        let (v2, _) = spoutEmit(root: 2, to: 1, edges: &edges)
        _ = tracker.initialize(root: 1, value: v1, spoutTask: 6, now: 0)
        _ = tracker.initialize(root: 2, value: v2, spoutTask: 6, now: 5 * second)
        #expect(tracker.fail(root: 1, now: second) == .failed(root: 1, spoutTask: 6))
        #expect(tracker.expire(now: 30 * second) == 0)
        #expect(tracker.expire(now: 36 * second) == 1)
        #expect(tracker.pendingCount == 0)
    }

    @Test func treeIdsMergeRootsAndKeepEdgesApart() {
        var ids = TreeIds()
        #expect(!ids.isTracked && ids.count == 0)
        ids.add(root: 7, edge: 1)
        ids.add(root: 8, edge: 2)
        ids.add(root: 7, edge: 4)
        ids.add(root: 8, edge: 8)
        var pairs: [String] = []
        ids.withEdge(99).forEach { pairs.append("\($0)=\($1)") }
        #expect(ids.count == 2 && ids.root == 7 && ids.edge == 5)
        #expect(pairs == ["7=99", "8=99"])
    }

    @Test func theHistogramGivesMeanAndTailWithinABucket() {
        var h = LatencyHistogram()
        // 990 samples at 1 ms, 9 at 50 ms, 1 at 2 s.
        for _ in 0..<990 { h.record(nanos: 1_000_000) }
        for _ in 0..<9 { h.record(nanos: 50_000_000) }
        h.record(nanos: 2_000_000_000)
        #expect(h.total == 1000)
        #expect(abs(h.meanMillis - (990 + 450 + 2000) / 1000.0) < 1e-9)
        #expect(abs(h.quantileMillis(0.5) - 1) < 0.04)
        #expect(abs(h.quantileMillis(0.99) - 1) < 0.04)
        #expect(abs(h.quantileMillis(0.995) - 50) / 50 < 0.04)
        #expect(abs(h.quantileMillis(1) - 2000) / 2000 < 0.04)
        var merged = LatencyHistogram()
        merged.merge(h)
        merged.merge(h)
        #expect(merged.total == 2000 && merged.quantileMillis(0.99) == h.quantileMillis(0.99))
    }

    /// A quantile is within half a bucket of the truth: 3.1%. (A bucket's lower edge read 1087 us as 1024.)
    @Test func aQuantileIsWithinHalfABucket() {
        for micros: UInt64 in [3, 15, 17, 100, 1023, 1024, 1087, 50_000, 65_535, 1_999_999] {
            var h = LatencyHistogram()
            h.record(nanos: micros * 1000)
            let read = h.quantileMillis(0.99) * 1000
            #expect(abs(read - Double(micros)) <= max(Double(micros) * 0.0313, 0.5), "\(micros) us read as \(read) us")
        }
    }

    @Test func treeFailuresAreLoggedAtOnceAfterAQuietSpellThenAtMostOncePerInterval() {
        let second: UInt64 = 1_000_000_000
        var upkeep = TreeUpkeep(summaryInterval: 10 * second, now: 100 * second)
        #expect(upkeep.failureSummary(now: 101 * second) == nil, "nothing failed: nothing to say")
        upkeep.timedOut = 3
        #expect(
            upkeep.failureSummary(now: 102 * second)
                == "3 tuple trees failed in the last 12 s: 3 timed out, 0 failed by a bolt")
        upkeep.failed = 1
        #expect(upkeep.failureSummary(now: 105 * second) == nil, "within the interval: kept for the next line")
        upkeep.timedOut = 2
        #expect(
            upkeep.failureSummary(now: 112 * second)
                == "3 tuple trees failed in the last 10 s: 2 timed out, 1 failed by a bolt")
    }
}
