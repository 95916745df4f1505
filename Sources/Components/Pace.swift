import Foundation

/// Holds a task's share of a component's rate: `admit()` says whether one more tuple may leave now. Counted from
/// the start, so a late call catches up instead of losing the rate.
struct Pace {
    private let perSecond: Double
    private let started: Double
    private var admitted: Int64 = 0

    /// `perSecond` for the whole component (0: no limit), split evenly between its tasks.
    init(perSecond: Double, context: TopologyContext) {
        self.perSecond = perSecond / Double(max(context.tasks(of: context.thisComponentId).count, 1))
        started = Self.now()
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    mutating func admit() -> Bool {
        guard perSecond > 0 else { return true }
        guard Double(admitted) < (Self.now() - started) * perSecond else { return false }
        admitted += 1
        return true
    }
}
