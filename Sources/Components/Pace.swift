import Foundation

/// Holds a task's share of a component's rate: `admit()` says whether one more tuple may leave now. Counted from
/// the start, so a late call catches up instead of losing the rate, but by at most `catchUpSeconds` of tuples: a
/// task that cannot keep up then runs at what it can do, rather than unthrottled behind an ever-growing debt.
struct Pace {
    /// How far behind the schedule a task may catch up.
    static let catchUpSeconds = 0.1

    private let perSecond: Double
    private let started: Double
    private var admitted: Int64 = 0

    /// `perSecond` for the whole component (0: no limit), split evenly between its tasks.
    init(perSecond: Double, context: TopologyContext) {
        self.init(perTask: perSecond / Double(max(context.tasks(of: context.thisComponentId).count, 1)))
    }

    init(perTask: Double) {
        perSecond = perTask
        started = Self.now()
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    mutating func admit() -> Bool {
        guard perSecond > 0 else { return true }
        let due = (Self.now() - started) * perSecond
        guard Double(admitted) < due else { return false }
        let floor = due - max(perSecond * Self.catchUpSeconds, 1)
        if Double(admitted) < floor { admitted = Int64(floor) }
        admitted += 1
        return true
    }
}
