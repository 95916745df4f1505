import StormThrift

/// The stats windows workers report ExecutorStats in, by Storm's names for them.
enum StatsWindow {
    static let allTime = ":all-time"
    /// Capacity is always measured over this window, whichever window a page asks for.
    static let tenMinutes = "600"
    static let tenMinutesSecs: Int32 = 600

    /// The window a page asked for: an empty one means all time, as in Storm's UI.
    static func resolve(_ window: String) -> String { window.isEmpty ? allTime : window }
}

/// Storm's rule for the system's own components and streams (ackers, metrics, ticks, heartbeats).
enum SystemIds {
    static func isSystem(_ id: String) -> Bool { id.hasPrefix("__") }
}

/// One executor where its assignment puts it, with the stats its worker last reported for it (if any).
struct PlacedExecutor: Sendable {
    var info: ExecutorInfo
    var component: String
    /// The supervisor running it.
    var node: String
    var host: String
    var port: Int32
    /// Seconds since the assignment placed it there.
    var assignedSecs: Int32
    var stats: ExecutorStats?
    /// Seconds its worker had been up at its last heartbeat: the span the counts cover, as Storm measures it.
    var workerUptimeSecs: Int32?

    var numTasks: Int32 { info.taskEnd - info.taskStart + 1 }
    var statsUptimeSecs: Int32 { workerUptimeSecs ?? assignedSecs }

    var summary: ExecutorSummary {
        ExecutorSummary(
            executorInfo: info, componentId: component, host: host, port: port, uptimeSecs: assignedSecs, stats: stats)
    }
}

/// Counts of one window summed over executors or streams, with latencies kept as totals (average times count)
/// until the end, so that the averages come out weighted as Storm weighs them: execute and process latencies by
/// the tuples executed, complete latency by the trees acked.
struct StatsTally: Sendable, Equatable {
    var executors: Int32?
    var tasks: Int32?
    var emitted: Int64 = 0
    var transferred: Int64 = 0
    var acked: Int64 = 0
    var failed: Int64 = 0
    var executed: Int64 = 0
    var executeLatencyTotal: Double = 0
    var processLatencyTotal: Double = 0
    var completeLatencyTotal: Double = 0
    /// The busiest executor's capacity (bolts).
    var capacity: Double?

    static func + (a: StatsTally, b: StatsTally) -> StatsTally {
        func sum<T: AdditiveArithmetic>(_ x: T?, _ y: T?) -> T? {
            x == nil && y == nil ? nil : (x ?? .zero) + (y ?? .zero)
        }
        var out = StatsTally()
        out.executors = sum(a.executors, b.executors)
        out.tasks = sum(a.tasks, b.tasks)
        out.emitted = a.emitted + b.emitted
        out.transferred = a.transferred + b.transferred
        out.acked = a.acked + b.acked
        out.failed = a.failed + b.failed
        out.executed = a.executed + b.executed
        out.executeLatencyTotal = a.executeLatencyTotal + b.executeLatencyTotal
        out.processLatencyTotal = a.processLatencyTotal + b.processLatencyTotal
        out.completeLatencyTotal = a.completeLatencyTotal + b.completeLatencyTotal
        out.capacity = [a.capacity, b.capacity].compactMap { $0 }.max()
        return out
    }

    var executeLatencyMs: Double { executed > 0 ? executeLatencyTotal / Double(executed) : 0 }
    var processLatencyMs: Double { executed > 0 ? processLatencyTotal / Double(executed) : 0 }
    var completeLatencyMs: Double { acked > 0 ? completeLatencyTotal / Double(acked) : 0 }

    func aggregate(_ type: ComponentType, lastError: ErrorInfo? = nil) -> ComponentAggregateStats {
        let common = CommonAggregateStats(
            numExecutors: executors, numTasks: tasks, emitted: emitted, transferred: transferred, acked: acked,
            failed: failed)
        let specific: SpecificAggregateStats =
            switch type {
            case .spout: .spout(SpoutAggregateStats(completeLatencyMs: completeLatencyMs))
            case .bolt:
                .bolt(
                    BoltAggregateStats(
                        executeLatencyMs: executeLatencyMs, processLatencyMs: processLatencyMs, executed: executed,
                        capacity: capacity))
            }
        return ComponentAggregateStats(type: type, commonStats: common, specificStats: specific, lastError: lastError)
    }
}

/// One executor's ExecutorStats read the way Storm's StatsUtil reads them for the UI pages.
struct ExecutorStatsView {
    let stats: ExecutorStats
    let includeSys: Bool

    var type: ComponentType {
        if case .spout = stats.specific { return .spout }
        return .bolt
    }

    /// Every window the executor reports any count in.
    var windows: Set<String> {
        var out = Set(stats.emitted.keys).union(stats.transferred.keys)
        switch stats.specific {
        case .spout(let s):
            out.formUnion(s.acked.keys)
            out.formUnion(s.failed.keys)
        case .bolt(let b):
            out.formUnion(b.acked.keys)
            out.formUnion(b.failed.keys)
            out.formUnion(b.executed.keys)
        }
        return out
    }

    /// Output streams' counts; system streams hidden unless asked for.
    func emitted(_ window: String) -> [String: Int64] { visible(stats.emitted[window] ?? [:]) }
    func transferred(_ window: String) -> [String: Int64] { visible(stats.transferred[window] ?? [:]) }

    private func visible(_ byStream: [String: Int64]) -> [String: Int64] {
        includeSys ? byStream : byStream.filter { !SystemIds.isSystem($0.key) }
    }

    /// The executor's whole contribution to one window.
    func tally(_ window: String) -> StatsTally {
        var t = StatsTally()
        t.emitted = emitted(window).values.reduce(0, +)
        t.transferred = transferred(window).values.reduce(0, +)
        switch stats.specific {
        case .spout(let s):
            for stream in spoutStreams(s, window) { t = t + spoutStream(s, stream, window) }
        case .bolt(let b):
            for input in boltInputs(b, window) { t = t + boltInput(b, input, window) }
        }
        return t
    }

    /// A spout's counts on one of its streams; its emitted and transferred are left to the caller.
    func spoutStream(_ s: SpoutStats, _ stream: String, _ window: String) -> StatsTally {
        var t = StatsTally()
        t.acked = s.acked[window]?[stream] ?? 0
        t.failed = s.failed[window]?[stream] ?? 0
        t.completeLatencyTotal = (s.completeMsAvg[window]?[stream] ?? 0) * Double(t.acked)
        return t
    }

    /// A bolt's counts on one of its input streams.
    func boltInput(_ b: BoltStats, _ input: GlobalStreamId, _ window: String) -> StatsTally {
        var t = StatsTally()
        t.acked = b.acked[window]?[input] ?? 0
        t.failed = b.failed[window]?[input] ?? 0
        t.executed = b.executed[window]?[input] ?? 0
        t.executeLatencyTotal = (b.executeMsAvg[window]?[input] ?? 0) * Double(t.executed)
        t.processLatencyTotal = (b.processMsAvg[window]?[input] ?? 0) * Double(t.executed)
        return t
    }

    func spoutStreams(_ s: SpoutStats, _ window: String) -> Set<String> {
        Set(s.acked[window]?.keys ?? [:].keys).union(s.failed[window]?.keys ?? [:].keys)
            .union(s.completeMsAvg[window]?.keys ?? [:].keys)
    }

    func boltInputs(_ b: BoltStats, _ window: String) -> Set<GlobalStreamId> {
        var out = Set(b.acked[window]?.keys ?? [:].keys)
        for map in [b.failed[window], b.executed[window]] { out.formUnion(map?.keys ?? [:].keys) }
        for map in [b.executeMsAvg[window], b.processMsAvg[window]] { out.formUnion(map?.keys ?? [:].keys) }
        return out
    }

    /// Storm's capacity: the share of the last ten minutes (or of the worker's uptime, if shorter) the executor
    /// spent executing, from its "600" window whatever window is asked for; nil for a spout.
    func capacity(uptimeSecs: Int32) -> Double? {
        guard case .bolt(let b) = stats.specific else { return nil }
        guard uptimeSecs > 0 else { return 0 }
        let window = StatsWindow.tenMinutes
        let inputs = Set(b.executed[window]?.keys ?? [:].keys).union(b.executeMsAvg[window]?.keys ?? [:].keys)
        let busyMs = inputs.reduce(0.0) { sum, input in
            sum + (b.executeMsAvg[window]?[input] ?? 0) * Double(b.executed[window]?[input] ?? 0)
        }
        return busyMs / (Double(min(uptimeSecs, StatsWindow.tenMinutesSecs)) * 1000)
    }
}

/// The aggregates of a topology's page: per component for one window, and the topology's totals for every window.
struct TopologyAggregate: Sendable {
    var spouts: [String: StatsTally] = [:]
    var bolts: [String: StatsTally] = [:]
    var stats = TopologyStats(
        windowToEmitted: [:], windowToTransferred: [:], windowToCompleteLatenciesMs: [:], windowToAcked: [:],
        windowToFailed: [:])

    /// Executors without stats, and system components unless asked for, count in nothing (as in Storm). Acked,
    /// failed and complete latency of the topology are its spouts' (its trees'); emitted and transferred are every
    /// shown component's.
    init(_ executors: [PlacedExecutor], window: String, includeSys: Bool) {
        var completeTotals: [String: Double] = [:]
        for executor in executors {
            guard let reported = executor.stats, includeSys || !SystemIds.isSystem(executor.component) else { continue }
            let view = ExecutorStatsView(stats: reported, includeSys: includeSys)
            var tally = view.tally(window)
            tally.executors = 1
            tally.tasks = executor.numTasks
            tally.capacity = view.capacity(uptimeSecs: executor.statsUptimeSecs)
            switch view.type {
            case .spout: spouts[executor.component] = (spouts[executor.component] ?? StatsTally()) + tally
            case .bolt: bolts[executor.component] = (bolts[executor.component] ?? StatsTally()) + tally
            }
            for w in view.windows {
                let t = view.tally(w)
                stats.windowToEmitted?[w, default: 0] += t.emitted
                stats.windowToTransferred?[w, default: 0] += t.transferred
                if view.type == .spout {
                    stats.windowToAcked?[w, default: 0] += t.acked
                    stats.windowToFailed?[w, default: 0] += t.failed
                    completeTotals[w, default: 0] += t.completeLatencyTotal
                }
            }
        }
        for (w, total) in completeTotals {
            if let acked = stats.windowToAcked?[w], acked > 0 {
                stats.windowToCompleteLatenciesMs?[w] = total / Double(acked)
            }
        }
    }
}

/// The aggregates of one component's page.
struct ComponentAggregate: Sendable {
    var type: ComponentType
    var total = StatsTally()
    var windows: [String: StatsTally] = [:]
    var inputs: [GlobalStreamId: StatsTally] = [:]
    var outputs: [String: StatsTally] = [:]
    var executors: [(executor: PlacedExecutor, tally: StatsTally)] = []

    /// `executors`: the component's; those without stats count in nothing, as in Storm.
    init(type: ComponentType, _ executors: [PlacedExecutor], window: String, includeSys: Bool) {
        self.type = type
        for executor in executors.sorted(by: { $0.info.taskStart < $1.info.taskStart }) {
            guard let stats = executor.stats else { continue }
            let view = ExecutorStatsView(stats: stats, includeSys: includeSys)
            total.executors = (total.executors ?? 0) + 1
            total.tasks = (total.tasks ?? 0) + executor.numTasks
            // Capacity comes from the ten-minute window whatever the window: each window shows the busiest
            // executor's, as the topology page does.
            let capacity = view.capacity(uptimeSecs: executor.statsUptimeSecs)
            for w in view.windows {
                var tally = view.tally(w)
                tally.capacity = capacity
                windows[w] = (windows[w] ?? StatsTally()) + tally
            }
            var own = view.tally(window)
            own.executors = 1
            own.tasks = executor.numTasks
            own.capacity = capacity
            self.executors.append((executor, own))
            addStreams(view, window)
        }
    }

    private mutating func addStreams(_ view: ExecutorStatsView, _ window: String) {
        for (stream, n) in view.emitted(window) { outputs[stream, default: StatsTally()].emitted += n }
        for (stream, n) in view.transferred(window) { outputs[stream, default: StatsTally()].transferred += n }
        switch view.stats.specific {
        case .spout(let s):
            for stream in view.spoutStreams(s, window) {
                outputs[stream] = (outputs[stream] ?? StatsTally()) + view.spoutStream(s, stream, window)
            }
        case .bolt(let b):
            for input in view.boltInputs(b, window) {
                inputs[input] = (inputs[input] ?? StatsTally()) + view.boltInput(b, input, window)
            }
        }
    }
}
