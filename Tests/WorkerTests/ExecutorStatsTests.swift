import Components
import Foundation
import StormCore
import StormThrift
import TestSupport
import Testing
import Tuples

@testable import Runtime
@testable import Worker

/// Emits the numbers below `count` on its default stream and again on a stream nobody subscribes to; tracked
/// (with message ids) when asked.
final class NumbersSpout: Spout {
    let count: Int
    let tracked: Bool
    var collector: (any SpoutOutputCollector)?
    var next = 0

    init(count: Int, tracked: Bool) {
        self.count = count
        self.tracked = tracked
    }
    func declareOutputFields(_ declarer: inout OutputDeclarer) {
        declarer.declare(["n"])
        declarer.declare(["n"], stream: "unheard")
    }
    func open(context: TopologyContext, collector: any SpoutOutputCollector) { self.collector = collector }
    func nextTuple() {
        guard next < count else { return }
        collector?.emit([.int(Int64(next))], messageId: tracked ? .int(Int64(next)) : nil)
        collector?.emit([.int(Int64(next))], stream: "unheard", messageId: nil)
        next += 1
    }
}

/// Sleeps a millisecond on each tuple, then acks it; or, acking late, sleeps, then acks the tuple before it.
final class SleepyBolt: Components.Bolt {
    let acksLate: Bool
    var collector: (any OutputCollector)?
    var held: Tuple?

    init(acksLate: Bool) { self.acksLate = acksLate }
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        usleep(1000)
        guard acksLate else { return collector!.ack(tuple) }
        if let held { collector?.ack(held) }
        held = tuple
    }
}

enum StatsComponents {
    static let registered: ComponentRegistry = {
        let r = ComponentRegistry.shared
        r.register("stats.Numbers", kind: .spout) { args in
            guard case .longArg(let n)? = args.first, case .boolArg(let tracked)? = args.last else {
                throw RuntimeError(description: "stats.Numbers takes a count and whether it tracks")
            }
            return NumbersSpout(count: Int(n), tracked: tracked)
        }
        r.register("stats.Sleepy", kind: .bolt) { _ in SleepyBolt(acksLate: false) }
        r.register("stats.SleepyAckingLate", kind: .bolt) { _ in SleepyBolt(acksLate: true) }
        return r
    }()
}

/// What `getTopologyInfo` shows of each executor: Storm's windows, transferred copies, sampled latencies.
@Suite struct ExecutorStatsTests {
    static let second: UInt64 = 1_000_000_000

    /// The runtime's executors of `component` as a heartbeat renders them, with a fresh set of windows.
    func stats(_ runtime: TopologyRuntime, _ component: String) -> [ExecutorStats] {
        var windows = StatsWindows()
        let all = ExecutorStatsRendering.executorStats(runtime, windows: &windows, now: 1)
        let tasks = runtime.executorCounts().filter { $0.component == component }.map(\.executor.start)
        return all.filter { tasks.contains($0.key.taskStart) }.map(\.value)
    }

    func executed(_ runtime: TopologyRuntime, _ component: String) -> Int64 { runtime.stats[component]?.executed ?? 0 }

    func spoutAcked(_ runtime: TopologyRuntime, _ component: String) -> Int64 {
        runtime.executorCounts().filter { $0.component == component }.reduce(0) {
            $0 + $1.counts.ackedByStream.reduce(0, +)
        }
    }

    func asBolt(_ stats: ExecutorStats) -> BoltStats? {
        if case .bolt(let b) = stats.specific { b } else { nil }
    }

    func asSpout(_ stats: ExecutorStats) -> SpoutStats? {
        if case .spout(let s) = stats.specific { s } else { nil }
    }

    @Test func transferredCountsTheCopiesSentNotTheTuplesEmitted() async throws {
        var builder = TopologyBuilder(registry: StatsComponents.registered)
        builder.setSpout("numbers", "stats.Numbers", args: [.longArg(100), .boolArg(false)])
        builder.subscribe(
            builder.setBolt("everyone", "org.apache.storm.perf.bolt.DevNullBolt", parallelism: 3).allGrouping(
                "numbers"))
        builder.subscribe(
            builder.setBolt("one", "org.apache.storm.perf.bolt.DevNullBolt", parallelism: 2).fieldsGrouping(
                "numbers", ["n"]))
        let runtime = try TopologyRuntime(
            topologyId: "stats-1-1", topology: try builder.build(), conf: .defaults,
            registry: StatsComponents.registered)
        try runtime.start()
        _ = await eventually { executed(runtime, "everyone") == 300 && executed(runtime, "one") == 100 }
        runtime.stop()

        let numbers = try #require(stats(runtime, "numbers").first)
        for window in ["600", "10800", "86400", ":all-time"] {
            #expect(numbers.emitted[window]?["default"] == 100, "window \(window)")
            #expect(numbers.emitted[window]?["unheard"] == 100, "window \(window)")
            // Each tuple went to all three tasks of one bolt and one of two of the other; on "unheard" to none.
            #expect(numbers.transferred[window]?["default"] == 400, "window \(window)")
            #expect(numbers.transferred[window]?["unheard"] == nil, "window \(window)")
        }
        let input = GlobalStreamId(componentId: "numbers", streamId: "default")
        let everyone = stats(runtime, "everyone").compactMap { asBolt($0)?.executed[":all-time"]?[input] }
        #expect(everyone == [100, 100, 100])
        let one = stats(runtime, "one").compactMap { asBolt($0)?.executed[":all-time"]?[input] }
        #expect(one.reduce(0, +) == 100)
        // What does not emit has no emitted maps at all: nothing empty goes to ZooKeeper.
        #expect(stats(runtime, "everyone").allSatisfy { $0.emitted.isEmpty && $0.transferred.isEmpty })
    }

    @Test func latenciesAreSampledAndCountsStayExact() async throws {
        var builder = TopologyBuilder(registry: StatsComponents.registered)
        builder.setSpout("numbers", "stats.Numbers", args: [.longArg(400), .boolArg(true)])
        builder.subscribe(builder.setBolt("sleepy", "stats.Sleepy").shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("late", "stats.SleepyAckingLate").shuffleGrouping("numbers"))
        // Storm's default rate, 0.05: one tuple in 20 is timed.
        let runtime = try TopologyRuntime(
            topologyId: "stats-2-1", topology: try builder.build(), conf: .defaults,
            registry: StatsComponents.registered)
        try runtime.start()
        // The late bolt never acks its last tuple: that tree stays pending.
        _ = await eventually(60) { spoutAcked(runtime, "numbers") == 399 }
        runtime.stop()

        let input = GlobalStreamId(componentId: "numbers", streamId: "default")
        let sleepy = try #require(stats(runtime, "sleepy").first.flatMap(asBolt))
        #expect(sleepy.executed[":all-time"]?[input] == 400)
        #expect(sleepy.acked[":all-time"]?[input] == 400)
        let execute = try #require(sleepy.executeMsAvg[":all-time"]?[input])
        let process = try #require(sleepy.processMsAvg[":all-time"]?[input])
        #expect(execute >= 0.8 && execute <= 20, "a 1 ms sleep took \(execute) ms on average")
        // Acked in execute, after the sleep: from the start of execute to the ack.
        #expect(process >= 0.8 && process <= 20, "process latency \(process) ms")
        #expect(sleepy.executeMsAvg["600"]?[input] == execute)

        let late = try #require(stats(runtime, "late").first.flatMap(asBolt))
        #expect(late.executed[":all-time"]?[input] == 400)
        #expect(late.acked[":all-time"]?[input] == 399)
        let lateExecute = try #require(late.executeMsAvg[":all-time"]?[input])
        let lateProcess = try #require(late.processMsAvg[":all-time"]?[input])
        // Each tuple is acked after the next one's sleep: its process latency holds two sleeps, its execute one.
        #expect(lateProcess >= lateExecute + 0.5, "process \(lateProcess) ms, execute \(lateExecute) ms")

        let numbers = try #require(stats(runtime, "numbers").first)
        #expect(numbers.rate == 20)
        let trees = try #require(asSpout(numbers))
        #expect(trees.acked[":all-time"]?["default"] == 399)
        let complete = try #require(trees.completeMsAvg[":all-time"]?["default"])
        // A tree is complete once both bolts acked: after the late bolt's next sleep at least.
        #expect(complete >= 1.6 && complete < 5000, "complete latency \(complete) ms")
    }

    @Test func everyTupleIsTimedAtRateOneAndNoneAtZero() async throws {
        for (rate, period) in [(1.0, 1), (0.0, 0)] {
            var builder = TopologyBuilder(registry: StatsComponents.registered)
            builder.setSpout("numbers", "stats.Numbers", args: [.longArg(50), .boolArg(false)])
            builder.subscribe(builder.setBolt("sleepy", "stats.Sleepy").shuffleGrouping("numbers"))
            let runtime = try TopologyRuntime(
                topologyId: "stats-3-1", topology: try builder.build(),
                conf: StormConfig.defaults.merging([ConfigKey.topologyStatsSampleRate: .double(rate)]),
                registry: StatsComponents.registered)
            try runtime.start()
            _ = await eventually { executed(runtime, "sleepy") == 50 }
            runtime.stop()
            let counts = try #require(runtime.executorCounts().first { $0.component == "sleepy" }?.counts)
            #expect(runtime.latencySamplePeriod == period)
            #expect(counts.executedByStream.reduce(0, +) == 50)
            #expect(counts.executeSamplesByStream.reduce(0, +) == (period == 1 ? 50 : 0))
            #expect(counts.processSamplesByStream.reduce(0, +) == (period == 1 ? 50 : 0))
        }
    }

    /// An executor's counts with `emitted` tuples on stream 0 and `executed` on stream 1 so far.
    func totals(emitted: Int64, executed: Int64 = 0) -> StreamTotals {
        var counts = ExecutorCounts()
        counts.emittedByStream = [emitted, 0]
        counts.executedByStream = [0, executed]
        return StreamTotals(counts)
    }

    @Test func countsLeaveEachStormWindowOnceItHasPassedAndStayInTheLongerOnes() {
        var windows = StatsWindows()
        let executor = Executor(1, 1)
        // name -> the emitted count the window holds, per heartbeat (every 3 s, as task.heartbeat.frequency.secs).
        func emitted(at seconds: UInt64, total: Int64) -> [String: Int64] {
            let out = windows.update(executor, totals: totals(emitted: total), now: seconds * Self.second)
            return Dictionary(uniqueKeysWithValues: out.map { ($0.window, $0.totals.counts(.emitted)[0] ?? 0) })
        }
        // 10 tuples in the first minute, then 5 more at 2 h, then nothing.
        var seen: [UInt64: [String: Int64]] = [:]
        for t in stride(from: UInt64(0), through: 26 * 3600, by: 3) {
            let total: Int64 = t < 60 ? Int64(t / 6) : t < 7200 ? 10 : 15
            seen[t] = emitted(at: t, total: total)
        }
        #expect(seen[300] == ["600": 10, "10800": 10, "86400": 10, ":all-time": 10])
        // Ten minutes on, the first minute's tuples are out of the 10-minute window only.
        #expect(seen[702] == ["600": 0, "10800": 10, "86400": 10, ":all-time": 10])
        #expect(seen[7500] == ["600": 5, "10800": 15, "86400": 15, ":all-time": 15])
        #expect(seen[7800] == ["600": 0, "10800": 15, "86400": 15, ":all-time": 15])
        // Past three hours, the first tuples leave the 3-hour window; the 2 h ones stay.
        #expect(seen[11400] == ["600": 0, "10800": 5, "86400": 15, ":all-time": 15])
        #expect(seen[20001] == ["600": 0, "10800": 0, "86400": 15, ":all-time": 15])
        // Past a day, only all time holds them.
        #expect(seen[88002] == ["600": 0, "10800": 0, "86400": 5, ":all-time": 15])
        #expect(seen[26 * 3600] == ["600": 0, "10800": 0, "86400": 0, ":all-time": 15])
        // A day of heartbeats keeps a bounded number of snapshots: 21 per window at most.
        #expect(windows.snapshotCount <= 3 * 21)
    }

    @Test func aWindowCoversBetweenItsLengthLessABucketAndItsLength() {
        var windows = StatsWindows(windows: [.init(name: "10", lengthSeconds: 10, bucketSeconds: 2)])
        let executor = Executor(4, 5)
        func window(at seconds: UInt64, total: Int64) -> Int64 {
            windows.update(executor, totals: totals(emitted: total), now: seconds * Self.second)[0].totals.counts(
                .emitted)[0] ?? 0
        }
        // One tuple a second, heartbeats every second: the window holds the last 9 or 10 seconds' tuples.
        for t in UInt64(0)...40 {
            let inWindow = window(at: t, total: Int64(t))
            #expect(t <= 10 ? inWindow == Int64(t) : (9...10).contains(inWindow), "at \(t) s: \(inWindow)")
        }
        // Silence: the window empties within its length.
        #expect(window(at: 50, total: 40) == 0)
    }

    @Test func windowsDifferenceEveryCounterAndRenderLatenciesAsMeans() throws {
        let streams = [
            TupleStream(component: "split", stream: "default", fields: Fields(["word"]), id: 0),
            TupleStream(component: "sentences", stream: "default", fields: Fields(["sentence"]), id: 1),
        ]
        var counts = ExecutorCounts()
        counts.emittedByStream = [30, 0]
        counts.transferredByStream = [60, 0]
        counts.executedByStream = [0, 10]
        counts.ackedByStream = [0, 9]
        counts.failedByStream = [0, 1]
        counts.executeNanosByStream = [0, 3_000_000]
        counts.executeSamplesByStream = [0, 2]
        counts.processNanosByStream = [0, 4_000_000]
        counts.processSamplesByStream = [0, 1]
        var windows = StatsWindows(windows: [.init(name: "60", lengthSeconds: 60, bucketSeconds: 5)])
        _ = windows.update(Executor(2, 2), totals: .zero, now: 0)
        _ = windows.update(Executor(2, 2), totals: StreamTotals(counts), now: 5 * Self.second)
        counts.emittedByStream = [33, 0]
        counts.transferredByStream = [66, 0]
        counts.executedByStream = [0, 11]
        counts.executeNanosByStream = [0, 9_000_000]
        counts.executeSamplesByStream = [0, 3]
        let now = windows.update(Executor(2, 2), totals: StreamTotals(counts), now: 64 * Self.second)
        let stats = ExecutorStatsRendering.executorStats(now, isSpout: false, streams: streams, samplePeriod: 20)
        let input = GlobalStreamId(componentId: "sentences", streamId: "default")
        #expect(stats.emitted == ["60": ["default": 3], ":all-time": ["default": 33]])
        #expect(stats.transferred == ["60": ["default": 6], ":all-time": ["default": 66]])
        #expect(stats.rate == 20)
        let bolt = try #require(asBolt(stats))
        #expect(bolt.executed == ["60": [input: 1], ":all-time": [input: 11]])
        // Nothing acked, failed or acked-and-timed in the last minute: no entry, not a zero.
        #expect(bolt.acked == [":all-time": [input: 9]])
        #expect(bolt.failed == [":all-time": [input: 1]])
        #expect(bolt.executeMsAvg == ["60": [input: 6.0], ":all-time": [input: 3.0]])
        #expect(bolt.processMsAvg == [":all-time": [input: 4.0]])
    }
}
