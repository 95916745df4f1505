/// An executor: a contiguous range of task ids of one component.
public struct Executor: Hashable, Comparable, Sendable {
    public let start: Int32
    public let end: Int32

    public init(_ start: Int32, _ end: Int32) {
        self.start = start
        self.end = end
    }

    public var key: [Int64] { [Int64(start), Int64(end)] }
    public static func < (a: Executor, b: Executor) -> Bool { (a.start, a.end) < (b.start, b.end) }
}

/// How a topology's tasks and executors are numbered, as Storm numbers them; nimbus schedules by it and workers
/// run by it, so both must agree.
public enum TaskLayout {
    /// Task ids per component: numbered from 1 across components in id order, as Storm numbers them.
    public static func taskRanges(_ tasks: [String: Int32]) -> [String: ClosedRange<Int32>] {
        var out: [String: ClosedRange<Int32>] = [:]
        var next: Int32 = 1
        for (component, count) in tasks.sorted(by: { $0.key < $1.key }) where count > 0 {
            out[component] = next...(next + count - 1)
            next += count
        }
        return out
    }

    /// A component's tasks split into `executors` contiguous ranges, the first ones one task larger when the
    /// split is uneven (Storm's partitionFixed). More executors than tasks get one task each.
    public static func executors(tasks: ClosedRange<Int32>, executors: Int32) -> [Executor] {
        let count = Int32(tasks.count)
        let n = max(1, min(executors, count))
        let base = count / n
        let extra = count % n
        var out: [Executor] = []
        var start = tasks.lowerBound
        for i in 0..<n {
            let size = base + (i < extra ? 1 : 0)
            out.append(Executor(start, start + size - 1))
            start += size
        }
        return out
    }

    /// Every executor of a topology, with its component.
    public static func executors(tasks: [String: Int32], executorCounts: [String: Int32]) -> [Executor: String] {
        var out: [Executor: String] = [:]
        for (component, range) in taskRanges(tasks) {
            for e in executors(tasks: range, executors: executorCounts[component] ?? Int32(range.count)) {
                out[e] = component
            }
        }
        return out
    }

}
