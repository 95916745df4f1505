import Components
import Foundation
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing
import Transport
import Tuples

@testable import Runtime

/// Emits each input twice, anchored to it, then acks it: a tree of three tuples per message.
final class FanoutBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        collector?.emit(tuple.values, anchor: tuple)
        collector?.emit(tuple.values, anchors: [tuple])
        collector?.ack(tuple)
    }
}

/// The first time it sees a number ending in 3 it fails it; ending in 7, it passes it on anchored but never acks
/// it (the tree times out, and the sink sees that number twice). Everything else it passes on and acks.
final class FlakyBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    var seen = Set<Int64>()
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        let n = tuple[0].intValue!
        let first = seen.insert(n).inserted
        if first && n % 10 == 3 { return collector!.fail(tuple) }
        collector?.emit(tuple.values, anchor: tuple)
        if first && n % 10 == 7 { return }
        collector?.ack(tuple)
    }
}

/// Holds each input until the next one arrives, then emits one tuple anchored to both (their sum) and acks both.
final class PairingBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    var held: Tuple?
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        guard let first = held else { return held = tuple }
        held = nil
        collector?.emit([.int(first[0].intValue! + tuple[0].intValue!)], anchors: [first, tuple])
        collector?.ack(first)
        collector?.ack(tuple)
    }
}

/// Records the tuples it gets (in `Probes`) and acks them.
final class AckingSink: Components.Bolt {
    var collector: (any OutputCollector)?
    var context: TopologyContext?
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) {
        self.collector = collector
        self.context = context
        Probes.prepared(context)
    }
    func execute(_ tuple: Tuple) {
        Probes.received(tuple, by: context!)
        collector?.ack(tuple)
    }
}

enum AckingComponents {
    static let registered: ComponentRegistry = {
        let r = TestComponents.registered
        r.register("test.Fanout", kind: .bolt) { _ in FanoutBolt() }
        r.register("test.Flaky", kind: .bolt) { _ in FlakyBolt() }
        r.register("test.Pairing", kind: .bolt) { _ in PairingBolt() }
        r.register("test.AckingSink", kind: .bolt) { _ in AckingSink() }
        return r
    }()
}

/// Ackers, anchoring, replay, timeouts and max spout pending, in one process and across two.
@Suite struct GuaranteedProcessingTests {
    /// Runs until `done` holds (or `seconds` pass), calling `watch` on each round it does not, then stops. The
    /// caller's expectations say what went wrong if `done` never held.
    func run(
        _ topology: StormTopology, conf extra: [String: ConfigValue] = [:], for seconds: Double = 60,
        watch: (TopologyRuntime) -> Void = { _ in }, until done: (TopologyRuntime) -> Bool
    ) async throws -> TopologyRuntime {
        let runtime = try TopologyRuntime(
            topologyId: Probes.newTopologyId(), topology: topology, conf: StormConfig.defaults.merging(extra),
            registry: AckingComponents.registered)
        try runtime.start()
        _ = await eventually(seconds) {
            if done(runtime) { return true }
            watch(runtime)
            return false
        }
        runtime.stop()
        return runtime
    }

    func spoutCounts(_ runtime: TopologyRuntime) -> ExecutorCounts {
        runtime.executorCounts().first { $0.component == "numbers" }!.counts
    }

    /// Trees the spout has heard are complete.
    func acked(_ runtime: TopologyRuntime) -> Int64 {
        runtime.executorCounts().filter { $0.component == "numbers" }.map { $0.counts.ackedByStream.reduce(0, +) }
            .reduce(0, +)
    }

    /// The numbers the sink got.
    func sunk(_ runtime: TopologyRuntime) -> [Int64] {
        Probes.received(topology: runtime.topologyId, component: "sink").flatMap { $0.map { $0[0].intValue! } }
    }

    /// Where the numbered spout's task `task` records how far every number is acked; removed when the test ends.
    final class ProgressFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)").path
        /// Every number of the task below this one is acked (recorded when the spout closes).
        func watermark(task: Int = 0) -> Int64? {
            (try? String(contentsOfFile: "\(path).\(task)", encoding: .utf8)).flatMap {
                Int64($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        deinit { for task in 0..<2 { try? FileManager.default.removeItem(atPath: "\(path).\(task)") } }
    }

    func numbers(
        _ count: Int64, progress: ProgressFile, then bolts: [(String, String)], args: [String: [JavaObjectArg]] = [:]
    ) throws -> StormTopology {
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(count), .stringArg(progress.path)])
        var previous = "numbers"
        for (id, className) in bolts {
            builder.subscribe(
                builder.setBolt(id, className, parallelism: 2, args: args[id] ?? []).shuffleGrouping(previous))
            previous = id
        }
        return try builder.build()
    }

    @Test func everyTreeCompletesAndTheSpoutHearsOfEach() async throws {
        let progress = ProgressFile()
        let topology = try numbers(
            2000, progress: progress, then: [("fanout", "test.Fanout"), ("sink", "test.AckingSink")])
        let runtime = try await run(topology) { acked($0) == 2000 }
        #expect(progress.watermark() == 2000)
        let counts = spoutCounts(runtime)
        let stream = Int(runtime.streams.stream("numbers", "default")!.id)
        #expect(counts.ackedByStream[stream] == 2000)
        #expect(counts.completeLatency.total == 2000 && counts.completeLatency.meanMillis > 0)
        #expect(counts.pendingTrees == 0 && counts.timedOut == 0 && counts.failedByBolts == 0)
        #expect(sunk(runtime).count == 4000)
    }

    /// A bolt acking two tuples of one tree back to back sends its acker one message: the acker hears about
    /// three messages a tree (the spout's init, the fanout's ack, the sink's merged ack), not four.
    @Test func consecutiveAcksOfOneTreeReachTheAckerAsOneMessage() async throws {
        let progress = ProgressFile()
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(2000), .stringArg(progress.path)])
        builder.subscribe(builder.setBolt("fanout", "test.Fanout").shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("sink", "test.AckingSink").globalGrouping("fanout"))
        let runtime = try await run(try builder.build()) { acked($0) == 2000 }
        #expect(acked(runtime) == 2000)
        #expect(sunk(runtime).count == 4000)
        let ackerMessages = runtime.executorCounts().filter { $0.component == TopologyPlan.ackerComponent }
            .map(\.counts.executed).reduce(0, +)
        // A pair split by a batch boundary is acked in two messages: a few, never most.
        #expect(ackerMessages >= 6000 && ackerMessages < 7000, "acker messages: \(ackerMessages)")
    }

    @Test func failedAndTimedOutTreesAreReplayedUntilAcked() async throws {
        let progress = ProgressFile()
        let topology = try numbers(
            200, progress: progress, then: [("flaky", "test.Flaky"), ("sink", "test.AckingSink")])
        // One flaky task, so "the first time" is per number.
        var one = topology
        one.bolts["flaky"]!.common.parallelismHint = 1
        let runtime = try await run(one, conf: [ConfigKey.topologyMessageTimeoutSecs: 1]) { acked($0) == 200 }
        #expect(progress.watermark() == 200)
        let counts = spoutCounts(runtime)
        #expect(counts.failedByBolts == 20, "numbers ending in 3 are failed once")
        #expect(counts.timedOut == 20, "numbers ending in 7 are never acked the first time")
        #expect(counts.failedByStream.reduce(0, +) == 40)
        let received = sunk(runtime)
        // At least once: the numbers ending in 7 reached the sink both times.
        #expect(Set(received) == Set(0..<200))
        #expect(received.count == 220)
    }

    @Test func withoutMessageTimeoutsAnUnackedTreeWaits() async throws {
        let progress = ProgressFile()
        let topology = try numbers(
            20, progress: progress, then: [("flaky", "test.Flaky"), ("sink", "test.AckingSink")])
        var one = topology
        one.bolts["flaky"]!.common.parallelismHint = 1
        // Three times the message timeout with nothing to wait for: checks an absence (no tree times out).
        let runtime = try await run(
            one, conf: [ConfigKey.topologyMessageTimeoutSecs: 1, ConfigKey.topologyEnableMessageTimeouts: false], for: 3
        ) { _ in false }
        // Everything but 7 and 17: acked up to 7, and 18 in all.
        #expect(progress.watermark() == 7 && acked(runtime) == 18)
        let counts = spoutCounts(runtime)
        #expect(counts.pendingTrees == 2 && counts.timedOut == 0 && counts.failedByBolts == 2)
    }

    @Test func maxSpoutPendingCapsTheTreesInFlight() async throws {
        let progress = ProgressFile()
        let topology = try numbers(
            300, progress: progress, then: [("slow", SlowBolt.className), ("sink", "test.AckingSink")],
            args: ["slow": [.longArg(1000)]])
        let runtime = try await run(topology, conf: [ConfigKey.topologyMaxSpoutPending: 5]) { acked($0) == 300 }
        #expect(acked(runtime) == 300 && progress.watermark() == 300)
        #expect(spoutCounts(runtime).mostPendingTrees == 5, "the spout waited at the cap, and never went past it")
    }

    @Test func aTupleAnchoredToTwoInputsCompletesBothTrees() async throws {
        let progress = ProgressFile()
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(100), .stringArg(progress.path)])
        builder.subscribe(builder.setBolt("pair", "test.Pairing").shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("sink", "test.AckingSink").shuffleGrouping("pair"))
        let runtime = try await run(try builder.build()) { acked($0) == 100 }
        #expect(progress.watermark() == 100)
        let sums = sunk(runtime)
        #expect(sums.count == 50 && sums.reduce(0, +) == (0..<100).reduce(0, +))
    }

    @Test func withoutAckersASpoutsMessagesAreDoneWhenEmitted() async throws {
        let progress = ProgressFile()
        let topology = try numbers(100, progress: progress, then: [("flaky", "test.Flaky")])
        let runtime = try await run(topology, conf: [ConfigKey.topologyAckerExecutors: 0]) {
            $0.stats["numbers"]?.emitted == 100
        }
        // Acked as emitted, so the progress file (written as the spout closes) says all 100 are done.
        #expect(progress.watermark() == 100)
        #expect(
            spoutCounts(runtime).failedByStream.reduce(0, +) == 0,
            "nothing is tracked, so the bolt's fails reach nobody")
        #expect(runtime.stats["numbers"]?.emitted == 100, "nothing failed, so nothing was emitted again")
        #expect(runtime.executorCounts().allSatisfy { $0.component != TopologyPlan.ackerComponent })
    }

    @Test func treesCompleteAcrossTwoWorkers() async throws {
        let progress = ProgressFile()
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout(
            "numbers", NumberedSpout.className, parallelism: 2, args: [.longArg(1000), .stringArg(progress.path)])
        builder.subscribe(builder.setBolt("fanout", "test.Fanout", parallelism: 2).shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("sink", "test.AckingSink", parallelism: 2).shuffleGrouping("fanout"))
        let conf = StormConfig.defaults.merging([ConfigKey.topologyWorkers: 2])
        let topology = try builder.build()
        let plan = TopologyPlan(topology: topology, conf: conf)
        #expect(plan.executors[TopologyPlan.ackerComponent] == 2)
        let layout = TaskLayout.executors(tasks: plan.tasks, executorCounts: plan.executors)
        let a = Set(layout.keys.sorted().enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        let toB = LoopbackTransfer()
        let toA = LoopbackTransfer()
        let id = Probes.newTopologyId()
        let first = try TopologyRuntime(
            topologyId: id, topology: topology, conf: conf, registry: AckingComponents.registered, executors: a,
            transfer: toB)
        let second = try TopologyRuntime(
            topologyId: id, topology: topology, conf: conf, registry: AckingComponents.registered,
            executors: Set(layout.keys).subtracting(a), transfer: toA)
        toB.target.withLock { $0 = second }
        toA.target.withLock { $0 = first }
        try second.start()
        try first.start()
        _ = await eventually(60) { acked(first) + acked(second) >= 1000 }
        first.stop()
        second.stop()
        // Task 0 emits the even numbers, task 1 the odd: each acked every one of its 500.
        #expect(progress.watermark(task: 0) == 1000 && progress.watermark(task: 1) == 1001)
        let perTask = (first.executorCounts() + second.executorCounts()).filter { $0.component == "numbers" }
        #expect(perTask.map { $0.counts.ackedByStream.reduce(0, +) } == [500, 500], "each spout task emits its half")
        #expect(toB.bytes.withLock { $0 } > 0 && toA.bytes.withLock { $0 } > 0)
    }

    @Test func treeIdsCrossTheWire() async throws {
        let runtime = try TopologyRuntime(
            topologyId: "t", topology: try numbers(1, progress: ProgressFile(), then: [("sink", "test.AckingSink")]),
            conf: .defaults, registry: AckingComponents.registered)
        let stream = runtime.streams.stream("numbers", "default")!
        var joined = TreeIds(root: 11, edge: 12)
        joined.add(root: 13, edge: 14)
        let batch = [TreeIds.none, TreeIds(root: .max, edge: 1), joined].map {
            Delivery(task: 2, tuple: Tuple(values: [.int(1)], stream: stream, sourceTask: 1, ids: $0))
        }
        var bytes: [UInt8] = []
        TupleBatchCodec.encode(batch, into: &bytes)
        let back = try bytes.withUnsafeBytes { try TupleBatchCodec(streams: runtime.streams).decode($0) }
        #expect(back.map(\.tuple.ids) == batch.map(\.tuple.ids))
        // A batch cut inside a tree id is refused with where.
        let cut = Array(bytes[..<(bytes.count - 12)])
        #expect(throws: ValueCodec.DecodingError.self) {
            _ = try cut.withUnsafeBytes { try TupleBatchCodec(streams: runtime.streams).decode($0) }
        }
        #expect(
            runtime.streams.stream("numbers", SystemTopology.ackInitStream) != nil,
            "acking streams are numbered on every worker")
    }
}

/// The numbered spout's progress file: what it resumes from, and what it refuses.
@Suite struct NumberedSpoutProgressTests {
    final class Discard: SpoutOutputCollector {
        func emit(_ values: TupleValues, stream: String, messageId: Value?) -> [Int32] { [] }
        func emitDirect(task: Int32, _ values: TupleValues, stream: String, messageId: Value?) {}
        func reportError(_ error: any Error) {}
    }

    /// The context of task `task` of a two-task "numbers" component.
    func context(task: Int32) -> TopologyContext {
        TopologyContext(
            topologyId: "t", thisTaskId: task, thisComponentId: "numbers",
            taskToComponent: [1: "numbers", 2: "numbers"], conf: .defaults)
    }

    @Test func aTaskResumesFromItsRecordedProgressAndRefusesAnythingElse() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("progress-\(UUID().uuidString)").path
        defer { for i in 0..<2 { try? FileManager.default.removeItem(atPath: "\(path).\(i)") } }
        try "7\n".write(toFile: "\(path).1", atomically: true, encoding: .utf8)
        let second = NumberedSpout(count: 100, statePath: path)
        try second.open(context: context(task: 2), collector: Discard())
        #expect(second.watermark == 7, "task 2 of 2 owns the odd numbers and resumes at 7")
        for (text, why) in [("abc", "not a number"), ("6", "an even number is not task 2's")] {
            try text.write(toFile: "\(path).1", atomically: true, encoding: .utf8)
            #expect(throws: ComponentRegistry.Failure.self, "\(why)") {
                try NumberedSpout(count: 100, statePath: path).open(context: context(task: 2), collector: Discard())
            }
        }
        do {
            try NumberedSpout(count: 100, statePath: path).open(context: context(task: 2), collector: Discard())
        } catch {
            #expect("\(error)".contains("\(path).1") && "\(error)".contains("task 1 of 2"), "\(error)")
        }
    }

    @Test func badArgumentsSayWhatItTakes() {
        for args: [JavaObjectArg] in [
            [.stringArg("ten")], [.longArg(10), .longArg(3)], [.longArg(10), .stringArg("f"), .longArg(-1)],
        ] {
            #expect {
                _ = try ComponentRegistry.shared.entry(NumberedSpout.className)!.make(args)
            } throws: { "\($0)".contains("takes how many messages") }
        }
    }
}
