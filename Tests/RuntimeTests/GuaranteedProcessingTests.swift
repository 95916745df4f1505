import Components
import Foundation
import Locking
import StormCore
import StormThrift
import Testing
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

/// Records the numbers it gets and acks them.
final class AckingSink: Components.Bolt {
    var collector: (any OutputCollector)?
    var received: [Int64] = []
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        received.append(tuple[0].intValue!)
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
    /// Async, sleeping with Task.sleep: a test that blocks a thread of the shared pool for seconds starves the
    /// timeouts of tests running beside it.
    func run(
        _ topology: StormTopology, conf extra: [String: ConfigValue] = [:], for seconds: Double = 60,
        watch: (TopologyRuntime) -> Void = { _ in }, until done: (TopologyRuntime) -> Bool
    ) async throws -> TopologyRuntime {
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: topology, conf: StormConfig.defaults.merging(extra), registry: AckingComponents.registered)
        try runtime.start()
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && !done(runtime) {
            watch(runtime)
            try await Task.sleep(for: .milliseconds(5))
        }
        runtime.stop()
        return runtime
    }

    func spout(_ runtime: TopologyRuntime) -> NumberedSpout { runtime.instances(of: "numbers").first as! NumberedSpout }

    func spoutCounts(_ runtime: TopologyRuntime) -> ExecutorCounts {
        runtime.executorCounts().first { $0.component == "numbers" }!.counts
    }

    func numbers(_ count: Int64, then bolts: [(String, String)], args: [String: [JavaObjectArg]] = [:]) throws -> StormTopology {
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(count)])
        var previous = "numbers"
        for (id, className) in bolts {
            builder.subscribe(builder.setBolt(id, className, parallelism: 2, args: args[id] ?? []).shuffleGrouping(previous))
            previous = id
        }
        return try builder.build()
    }

    @Test func everyTreeCompletesAndTheSpoutHearsOfEach() async throws {
        let topology = try numbers(2000, then: [("fanout", "test.Fanout"), ("sink", "test.AckingSink")])
        let runtime = try await run(topology) { spout($0).acked.count == 2000 }
        #expect(spout(runtime).acked == Set(0..<2000))
        #expect(spout(runtime).failures == 0)
        let counts = spoutCounts(runtime)
        let stream = Int(runtime.streams.stream("numbers", "default")!.id)
        #expect(counts.ackedByStream[stream] == 2000)
        #expect(counts.completeLatency.total == 2000 && counts.completeLatency.meanMillis > 0)
        #expect(counts.pendingTrees == 0 && counts.timedOut == 0 && counts.failedByBolts == 0)
        let sunk = runtime.instances(of: "sink").flatMap { ($0 as! AckingSink).received }
        #expect(sunk.count == 4000)
    }

    @Test func failedAndTimedOutTreesAreReplayedUntilAcked() async throws {
        let topology = try numbers(200, then: [("flaky", "test.Flaky"), ("sink", "test.AckingSink")])
        // One flaky task, so "the first time" is per number.
        var one = topology
        one.bolts["flaky"]!.common.parallelismHint = 1
        let runtime = try await run(one, conf: [ConfigKey.topologyMessageTimeoutSecs: 1]) { spout($0).acked.count == 200 }
        #expect(spout(runtime).acked == Set(0..<200))
        let counts = spoutCounts(runtime)
        #expect(counts.failedByBolts == 20, "numbers ending in 3 are failed once")
        #expect(counts.timedOut == 20, "numbers ending in 7 are never acked the first time")
        #expect(spout(runtime).failures == 40)
        let sunk = runtime.instances(of: "sink").flatMap { ($0 as! AckingSink).received }
        // At least once: the numbers ending in 7 reached the sink both times.
        #expect(Set(sunk) == Set(0..<200))
        #expect(sunk.count == 220)
    }

    @Test func withoutMessageTimeoutsAnUnackedTreeWaits() async throws {
        let topology = try numbers(20, then: [("flaky", "test.Flaky"), ("sink", "test.AckingSink")])
        var one = topology
        one.bolts["flaky"]!.common.parallelismHint = 1
        let runtime = try await run(
            one, conf: [ConfigKey.topologyMessageTimeoutSecs: 1, ConfigKey.topologyEnableMessageTimeouts: false], for: 3
        ) { _ in false }
        #expect(spout(runtime).acked == Set(0..<20).subtracting([7, 17]))
        let counts = spoutCounts(runtime)
        #expect(counts.pendingTrees == 2 && counts.timedOut == 0 && counts.failedByBolts == 2)
    }

    @Test func maxSpoutPendingCapsTheTreesInFlight() async throws {
        let topology = try numbers(300, then: [("slow", SlowBolt.className), ("sink", "test.AckingSink")], args: ["slow": [.longArg(1000)]])
        let runtime = try await run(topology, conf: [ConfigKey.topologyMaxSpoutPending: 5]) { spout($0).acked.count == 300 }
        #expect(spout(runtime).acked.count == 300)
        #expect(spoutCounts(runtime).mostPendingTrees == 5, "the spout waited at the cap, and never went past it")
    }

    @Test func aTupleAnchoredToTwoInputsCompletesBothTrees() async throws {
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(100)])
        builder.subscribe(builder.setBolt("pair", "test.Pairing").shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("sink", "test.AckingSink").shuffleGrouping("pair"))
        let runtime = try await run(try builder.build()) { spout($0).acked.count == 100 }
        #expect(spout(runtime).acked == Set(0..<100))
        let sums = runtime.instances(of: "sink").flatMap { ($0 as! AckingSink).received }
        #expect(sums.count == 50 && sums.reduce(0, +) == (0..<100).reduce(0, +))
    }

    @Test func withoutAckersASpoutsMessagesAreDoneWhenEmitted() async throws {
        let topology = try numbers(100, then: [("flaky", "test.Flaky")])
        let runtime = try await run(topology, conf: [ConfigKey.topologyAckerExecutors: 0]) { spout($0).acked.count == 100 }
        #expect(spout(runtime).acked == Set(0..<100))
        #expect(spout(runtime).failures == 0, "nothing is tracked, so the bolt's fails reach nobody")
        #expect(runtime.executorCounts().allSatisfy { $0.component != TopologyPlan.ackerComponent })
    }

    @Test func treesCompleteAcrossTwoWorkers() async throws {
        var builder = TopologyBuilder(registry: AckingComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, parallelism: 2, args: [.longArg(1000)])
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
        let first = try TopologyRuntime(
            topologyId: "t-1-1", topology: topology, conf: conf, registry: AckingComponents.registered, executors: a, transfer: toB)
        let second = try TopologyRuntime(
            topologyId: "t-1-1", topology: topology, conf: conf, registry: AckingComponents.registered,
            executors: Set(layout.keys).subtracting(a), transfer: toA)
        toB.target.withLock { $0 = second }
        toA.target.withLock { $0 = first }
        try second.start()
        try first.start()
        let spouts = { (first.instances(of: "numbers") + second.instances(of: "numbers")).map { $0 as! NumberedSpout } }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && spouts().map(\.acked.count).reduce(0, +) < 1000 { try await Task.sleep(for: .milliseconds(10)) }
        first.stop()
        second.stop()
        #expect(spouts().map(\.acked).reduce(into: Set<Int64>()) { $0.formUnion($1) } == Set(0..<1000))
        #expect(spouts().allSatisfy { $0.acked.count == 500 }, "each spout task emits its half")
        #expect(toB.bytes.withLock { $0 } > 0 && toA.bytes.withLock { $0 } > 0)
    }

    @Test func treeIdsCrossTheWire() async throws {
        let runtime = try TopologyRuntime(
            topologyId: "t", topology: try numbers(1, then: [("sink", "test.AckingSink")]), conf: .defaults, registry: AckingComponents.registered)
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
        #expect(throws: ValueCodec.DecodingError.self) { _ = try cut.withUnsafeBytes { try TupleBatchCodec(streams: runtime.streams).decode($0) } }
        #expect(runtime.streams.stream("numbers", SystemTopology.ackInitStream) != nil, "acking streams are numbered on every worker")
    }
}

/// The numbered spout's progress file: what it resumes from, and what it refuses.
@Suite struct NumberedSpoutProgressTests {
    final class Discard: SpoutOutputCollector {
        func emit(_ values: [Value], stream: String, messageId: Value?) -> [Int32] { [] }
        func emitDirect(task: Int32, _ values: [Value], stream: String, messageId: Value?) {}
        func reportError(_ error: any Error) {}
    }

    /// The context of task `task` of a two-task "numbers" component.
    func context(task: Int32) -> TopologyContext {
        TopologyContext(topologyId: "t", thisTaskId: task, thisComponentId: "numbers", taskToComponent: [1: "numbers", 2: "numbers"], conf: .defaults)
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
        for args: [JavaObjectArg] in [[.stringArg("ten")], [.longArg(10), .longArg(3)], [.longArg(10), .stringArg("f"), .longArg(-1)]] {
            #expect {
                _ = try ComponentRegistry.shared.entry(NumberedSpout.className)!.make(args)
            } throws: { "\($0)".contains("takes how many messages") }
        }
    }
}
