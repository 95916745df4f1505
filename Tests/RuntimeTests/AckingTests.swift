import Testing

@testable import Runtime

/// The acker's arithmetic on trees built the way bolts build them.
@Suite struct AckingTests {
    final class Key {}

    /// A tuple of a test tree: its key (its identity while pending) and its message ids.
    struct Node {
        let key = Key()
        let ids: MessageIds
        var id: ObjectIdentifier { ObjectIdentifier(key) }
    }

    let second: UInt64 = 1_000_000_000

    /// The spout emits one tuple to `count` targets: the acker's init value and the tuples.
    func spoutEmit(root: UInt64, to count: Int, book: inout AnchorBook) -> (UInt64, [Node]) {
        var value: UInt64 = 0
        var out: [Node] = []
        for _ in 0..<count {
            let edge = book.newEdge()
            value ^= edge
            out.append(Node(ids: MessageIds([root: edge])))
        }
        return (value, out)
    }

    @Test func aDiamondCompletesOnlyWhenItsLastTupleIsAcked() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook(seed: 7)
        let root: UInt64 = 42
        let (value, spoutTuples) = spoutEmit(root: root, to: 1, book: &book)
        #expect(tracker.initialize(root: root, value: value, spoutTask: 3, now: 0) == nil)
        // A splits into B and C; D joins them (anchored to both).
        let a = spoutTuples[0]
        let b = Node(ids: book.anchor(to: [(a.id, a.ids)]))
        let c = Node(ids: book.anchor(to: [(a.id, a.ids)]))
        for (root, value) in book.settle(key: a.id, ids: a.ids) { #expect(tracker.ack(root: root, value: value, now: 1) == nil) }
        let d = Node(ids: book.anchor(to: [(b.id, b.ids), (c.id, c.ids)]))
        for (root, value) in book.settle(key: b.id, ids: b.ids) { #expect(tracker.ack(root: root, value: value, now: 2) == nil) }
        for (root, value) in book.settle(key: c.id, ids: c.ids) { #expect(tracker.ack(root: root, value: value, now: 3) == nil) }
        #expect(tracker.pendingCount == 1)
        let last = book.settle(key: d.id, ids: d.ids)
        #expect(last.count == 1)
        #expect(tracker.ack(root: last[0].root, value: last[0].value, now: 10) == .complete(root: root, spoutTask: 3, latencyNanos: 10))
        #expect(tracker.pendingCount == 0)
    }

    @Test func aTupleAnchoredToTwoTreesBelongsToBoth() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook(seed: 11)
        let (v1, t1) = spoutEmit(root: 1, to: 1, book: &book)
        let (v2, t2) = spoutEmit(root: 2, to: 1, book: &book)
        _ = tracker.initialize(root: 1, value: v1, spoutTask: 5, now: 0)
        _ = tracker.initialize(root: 2, value: v2, spoutTask: 5, now: 0)
        let joined = Node(ids: book.anchor(to: [(t1[0].id, t1[0].ids), (t2[0].id, t2[0].ids)]))
        #expect(Set(joined.ids.edges.keys) == [1, 2])
        for input in [t1[0], t2[0]] {
            for (root, value) in book.settle(key: input.id, ids: input.ids) { #expect(tracker.ack(root: root, value: value, now: 1) == nil) }
        }
        let outcomes = book.settle(key: joined.id, ids: joined.ids).compactMap { tracker.ack(root: $0.root, value: $0.value, now: 2) }
        #expect(Set(outcomes.map { "\($0)" }) == ["complete(root: 1, spoutTask: 5, latencyNanos: 2)", "complete(root: 2, spoutTask: 5, latencyNanos: 2)"])
    }

    @Test func anAckOvertakingTheInitWaitsForIt() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook(seed: 3)
        let (value, tuples) = spoutEmit(root: 9, to: 2, book: &book)
        for tuple in tuples {
            for (root, v) in book.settle(key: tuple.id, ids: tuple.ids) { #expect(tracker.ack(root: root, value: v, now: 1) == nil) }
        }
        // The value is already zero, but the spout's task is unknown until its init arrives.
        #expect(tracker.initialize(root: 9, value: value, spoutTask: 4, now: 2) == .complete(root: 9, spoutTask: 4, latencyNanos: 1))
    }

    @Test func anExplicitFailFailsTheTreeAtOnceAndTimeoutsFailTheRest() {
        var tracker = AckTracker(timeoutNanos: 30 * second)
        var book = AnchorBook(seed: 5)
        let (v1, _) = spoutEmit(root: 1, to: 3, book: &book)
        let (v2, _) = spoutEmit(root: 2, to: 1, book: &book)
        _ = tracker.initialize(root: 1, value: v1, spoutTask: 6, now: 0)
        _ = tracker.initialize(root: 2, value: v2, spoutTask: 6, now: 5 * second)
        #expect(tracker.fail(root: 1, now: second) == .failed(root: 1, spoutTask: 6, reason: .failed))
        #expect(tracker.expire(now: 30 * second).isEmpty)
        #expect(tracker.expire(now: 36 * second) == [.failed(root: 2, spoutTask: 6, reason: .timedOut)])
        #expect(tracker.pendingCount == 0)
    }
}
