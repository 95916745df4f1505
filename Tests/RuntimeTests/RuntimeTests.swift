import Components
import Foundation
import Groupings
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing
import Transport
import Tuples

@testable import Runtime

/// Emits each of Storm's five sentences `rounds` times, then nothing.
final class FiniteSentenceSpout: Spout {
    let rounds: Int
    var collector: (any SpoutOutputCollector)?
    var sent = 0

    init(rounds: Int) { self.rounds = rounds }
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["sentence"]) }
    func open(context: TopologyContext, collector: any SpoutOutputCollector) { self.collector = collector }
    func nextTuple() {
        guard sent < rounds * 5 else { return }
        collector?.emit([.string(BuiltInComponents.sentences[sent % 5])])
        sent += 1
    }
}

/// Records every tuple its task receives, in `Probes`.
final class RecordingBolt: Components.Bolt {
    var context: TopologyContext?
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) {
        self.context = context
        Probes.prepared(context)
    }
    func execute(_ tuple: Tuple) { Probes.received(tuple, by: context!) }
}

/// Sends each of its tuples straight to task `target` (or to task 999, which is nobody's).
final class DirectSpout: Spout {
    var collector: (any SpoutOutputCollector)?
    var context: TopologyContext?
    var sent = 0
    func declareOutputFields(_ declarer: inout OutputDeclarer) {
        declarer.declare(["n"], stream: "direct", direct: true)
    }
    func open(context: TopologyContext, collector: any SpoutOutputCollector) {
        self.collector = collector
        self.context = context
    }
    func nextTuple() {
        guard sent < 100, let context else { return }
        let sinks = context.tasks(of: "sink")
        collector?.emitDirect(
            task: sent % 10 == 9 ? 999 : sinks.last!, [.int(Int64(sent))], stream: "direct", messageId: nil)
        sent += 1
    }
}

/// Reports an error for every tuple, and a fatal one for its third.
final class ComplainingBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    var seen = 0
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        seen += 1
        if seen == 3 {
            collector?.reportFatal(RuntimeError(description: "cannot go on"))
        } else {
            collector?.reportError(RuntimeError(description: "tuple \(seen)"))
        }
    }
}

/// A custom grouping: every tuple to the subscriber's highest task.
final class LastTaskOnly: CustomStreamGrouping {
    var last: Int32 = 0
    func prepare(targetTasks: [Int32]) { last = targetTasks.max()! }
    func chooseTasks(sourceTask: Int32, values: [Value]) -> [Int32] { [last] }
}

enum TestComponents {
    static let registered: ComponentRegistry = {
        let r = ComponentRegistry.shared
        r.register("test.FiniteSentences", kind: .spout) { args in
            if case .longArg(let n)? = args.first { return FiniteSentenceSpout(rounds: Int(n)) }
            return FiniteSentenceSpout(rounds: 1)
        }
        r.register("test.Recording", kind: .bolt) { _ in RecordingBolt() }
        r.register("test.Direct", kind: .spout) { _ in DirectSpout() }
        r.register("test.Complaining", kind: .bolt) { _ in ComplainingBolt() }
        r.registerGrouping("test.LastTaskOnly") { _ in LastTaskOnly() }
        return r
    }()
}

@Suite struct RuntimeTests {
    let conf = StormConfig.defaults

    /// Runs until `done` holds (or `seconds` pass), then stops, which lets the bolts finish what was emitted.
    /// The caller's expectations say what went wrong if `done` never held.
    func run(
        _ topology: StormTopology, until done: (TopologyRuntime) -> Bool, for seconds: Double
    ) async throws -> TopologyRuntime {
        let runtime = try TopologyRuntime(
            topologyId: Probes.newTopologyId(), topology: topology, conf: conf, registry: TestComponents.registered)
        try runtime.start()
        _ = await eventually(seconds) { done(runtime) }
        runtime.stop()
        return runtime
    }

    @Test func wordCountIsExactAndEachWordHasOneHome() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", parallelism: 2, args: [.longArg(1000)])
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: 3).shuffleGrouping(
                "sentences"))
        builder.subscribe(builder.setBolt("count", "test.Recording", parallelism: 4).fieldsGrouping("split", ["word"]))
        let runtime = try await run(try builder.build(), until: { $0.stats["sentences"]?.emitted == 10_000 }, for: 60)
        var expected: [Value: Int64] = [:]
        for sentence in BuiltInComponents.sentences {
            for word in sentence.split(separator: " ") { expected[.string(String(word)), default: 0] += 2 * 1000 }
        }
        var total: [Value: Int64] = [:]
        var homes: [Value: Int] = [:]
        let received = Probes.received(topology: runtime.topologyId, component: "count")
        for task in received {
            for word in Set(task.map { $0[0] }) { homes[word, default: 0] += 1 }
            for tuple in task { total[tuple[0], default: 0] += 1 }
        }
        #expect(total == expected)
        #expect(homes.values.allSatisfy { $0 == 1 }, "a word was counted by two tasks")
        #expect(received.count == 4 && received.filter { !$0.isEmpty }.count > 1)
        let stats = runtime.stats
        #expect(stats["sentences"]?.emitted == 10_000)
        #expect(stats["split"]?.executed == 10_000)
        #expect(stats["count"]?.executed == expected.values.reduce(0, +))
    }

    @Test func allAndGlobalGroupings() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(20)])
        builder.subscribe(builder.setBolt("everyone", "test.Recording", parallelism: 3).allGrouping("sentences"))
        builder.subscribe(builder.setBolt("lowest", "test.Recording", parallelism: 3).globalGrouping("sentences"))
        let runtime = try await run(try builder.build(), until: { $0.stats["sentences"]?.emitted == 100 }, for: 60)
        let everyone = Probes.received(topology: runtime.topologyId, component: "everyone").map(\.count)
        let lowest = Probes.received(topology: runtime.topologyId, component: "lowest").map(\.count)
        #expect(everyone == [100, 100, 100])
        // Global means the lowest task id.
        #expect(lowest == [100, 0, 0])
    }

    @Test func directGroupingReachesOnlyTheNamedTask() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("source", "test.Direct")
        builder.subscribe(
            builder.setBolt("sink", "test.Recording", parallelism: 3).directGrouping("source", stream: "direct"))
        let runtime = try await run(try builder.build(), until: { $0.stats["source"]?.emitted == 100 }, for: 60)
        let counts = Probes.received(topology: runtime.topologyId, component: "sink").map(\.count)
        // 90 to the last sink task; the 10 addressed to task 999 are refused (and logged), not delivered.
        #expect(counts == [0, 0, 90])
    }

    @Test func aRegisteredCustomGroupingChoosesTheTasks() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(10)])
        builder.subscribe(
            builder.setBolt("sink", "test.Recording", parallelism: 3).customGrouping("sentences", "test.LastTaskOnly"))
        let runtime = try await run(try builder.build(), until: { $0.stats["sink"]?.executed == 50 }, for: 30)
        #expect(Probes.received(topology: runtime.topologyId, component: "sink").map(\.count) == [0, 0, 50])
    }

    @Test func numberedMessagesThroughASlowBoltAreRecordedOnce() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(500)])
        builder.subscribe(
            builder.setBolt("slow", SlowBolt.className, parallelism: 2, args: [.longArg(20)]).shuffleGrouping("numbers")
        )
        builder.subscribe(
            builder.setBolt("sink", RecordingSink.className, parallelism: 2, args: [.stringArg(file)]).shuffleGrouping(
                "slow"))
        // Until every tree is acked: the sink executing the last tuple is not yet its ack reaching the spout.
        func acked(_ runtime: TopologyRuntime) -> Int64 {
            runtime.executorCounts().first { $0.component == "numbers" }!.counts.ackedByStream.reduce(0, +)
        }
        let runtime = try await run(try builder.build(), until: { acked($0) == 500 }, for: 30)
        let seen = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map { Int($0)! }
        #expect(seen.sorted() == Array(0..<500))
        // With the default acker (one per worker), every message's tree completes: slow and sink ack.
        #expect(acked(runtime) == 500)
    }

    @Test func boltsThatAskForTicksGetThem() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(1)])
        builder.subscribe(builder.setBolt("ticked", "test.Recording", parallelism: 2).shuffleGrouping("sentences"))
        var topology = try builder.build()
        topology.bolts["ticked"]!.common.jsonConf = #"{"topology.tick.tuple.freq.secs": 1}"#
        let runtime = try TopologyRuntime(
            topologyId: Probes.newTopologyId(), topology: topology, conf: conf, registry: TestComponents.registered)
        let started = Date()
        try runtime.start()
        func received() -> [[Tuple]] { Probes.received(topology: runtime.topologyId, component: "ticked") }
        func ticks() -> [Int] { received().map { $0.filter(\.isTick).count } }
        // Every task gets two ticks, however busy the machine; and never more than one a second.
        _ = await eventually(30) { ticks().allSatisfy { $0 >= 2 } }
        runtime.stop()
        let elapsed = Date().timeIntervalSince(started)
        #expect(ticks().allSatisfy { $0 >= 2 && Double($0) <= elapsed + 0.5 }, "\(ticks()) in \(elapsed) s")
        let tick = received().first?.first(where: \.isTick)
        #expect(tick?.values == [.int(1)] && tick?.sourceTask == -1)
    }

    @Test func deactivateStopsEmissionAndActivateResumes() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", SentenceSpout.className)
        builder.subscribe(
            builder.setBolt("sink", "org.apache.storm.perf.bolt.DevNullBolt").shuffleGrouping("sentences"))
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: try builder.build(), conf: conf, registry: TestComponents.registered)
        try runtime.start()
        defer { runtime.stop() }
        func emitted() -> Int64 { runtime.stats["sentences"]!.emitted }
        #expect(await eventually(10) { emitted() > 0 })
        runtime.deactivate()
        // Once the spout has seen the change, nothing more is emitted. Active, it emits hundreds of thousands a
        // second: half a second without one means it stopped, even on a busy machine.
        #expect(await settles(within: 20, quiet: .milliseconds(500), emitted))
        let paused = emitted()
        try await Task.sleep(for: .seconds(1))  // checks an absence: nothing more is emitted for a second
        #expect(emitted() == paused)
        runtime.activate()
        #expect(await eventually(10) { emitted() > paused })
    }

    @Test func hooksGivenAtConstructionHearTheExecutorThreads() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(1)])
        builder.subscribe(builder.setBolt("grumpy", "test.Complaining").shuffleGrouping("sentences"))
        let errors = Locked<[String]>([])
        let fatals = Locked<[String]>([])
        let hooks = RuntimeHooks(
            errorSink: { component, _, message in errors.withLock { $0.append("\(component): \(message)") } },
            onFatal: { component, _, message in fatals.withLock { $0.append("\(component): \(message)") } })
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: try builder.build(), conf: conf, registry: TestComponents.registered,
            hooks: hooks)
        try runtime.start()
        _ = await eventually(20) { runtime.stats["grumpy"]?.executed == 5 }
        runtime.stop()
        // A fatal error is an error too: recorded first, then the owner decides (a worker exits).
        #expect(
            errors.withLock { $0 } == [
                "grumpy: tuple 1", "grumpy: tuple 2", "grumpy: cannot go on", "grumpy: tuple 4", "grumpy: tuple 5",
            ])
        #expect(fatals.withLock { $0 } == ["grumpy: cannot go on"])
    }

    @Test func componentsSeeTheTopologyAsSubmittedWithoutTheAckersItRunsWith() throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences")
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt").shuffleGrouping("sentences"))
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.perf.bolt.CountBolt").fieldsGrouping("split", ["word"]))
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: try builder.build(), conf: conf, registry: TestComponents.registered)
        #expect(runtime.hasAckers)
        let context = runtime.executors.first { $0.componentId == "split" }!.tasks[0].context
        #expect(Array(context.thisStreams.keys) == ["default"])
        #expect(
            context.thisSources == [
                GlobalStreamId(componentId: "sentences", streamId: "default"): .shuffle(NullStruct())
            ])
        #expect(context.thisTargets == ["default": ["count": .fields(["word"])]])
        let spout = runtime.executors.first { $0.componentId == "sentences" }!.tasks[0].context
        #expect(spout.thisSources.isEmpty, "a spout's acker inputs are the runtime's, not the user's")
    }

    @Test func commandlessShellAndUnknownComponentsAreClearErrors() throws {
        let streams = ["default": StreamInfo(outputFields: ["x"], direct: false)]
        let shell = StormTopology(
            spouts: [
                "s": SpoutSpec(
                    spoutObject: .shell(ShellComponent(executionCommand: "", script: "")),
                    common: ComponentCommon(inputs: [:], streams: streams))
            ],
            bolts: [:], stateSpouts: [:])
        #expect(throws: RuntimeError(description: "shell component 's' has no command")) {
            try TopologyRuntime(topologyId: "t", topology: shell, conf: conf)
        }
        let unknown = StormTopology(
            spouts: [
                "s": SpoutSpec(
                    spoutObject: .javaObject(JavaObject(fullClassName: "com.example.Nope", argsList: [])),
                    common: ComponentCommon(inputs: [:], streams: streams))
            ],
            bolts: [:], stateSpouts: [:])
        #expect(
            throws: RuntimeError(
                description: "component 's' names class com.example.Nope, which this program does not have")
        ) {
            try TopologyRuntime(topologyId: "t", topology: unknown, conf: conf)
        }
    }
}

/// Carries tuples between two runtimes of one process the way workers do: encoded, then decoded on the far side.
final class LoopbackTransfer: TupleTransfer, Sendable {
    let target = Locked<TopologyRuntime?>(nil)
    let bytes = Locked(0)

    func transfer(_ batch: [Delivery]) {
        guard let runtime = target.withLock({ $0 }) else { return }
        var frame: [UInt8] = []
        TupleBatchCodec.encode(batch, into: &frame)
        bytes.withLock { $0 += frame.count }
        let decoded = frame.withUnsafeBytes { try! TupleBatchCodec(streams: runtime.streams).decode($0) }
        runtime.receive(decoded)
    }
}

@Suite struct WorkerSplitTests {
    /// Two runtimes, as two workers: `first` gets the executors `inFirst` picks, the other the rest.
    func split(
        _ topology: StormTopology, conf: StormConfig = .defaults, inFirst: (Executor, String) -> Bool
    ) throws -> (TopologyRuntime, TopologyRuntime, LoopbackTransfer, LoopbackTransfer) {
        let plan = TopologyPlan(topology: topology, conf: conf)
        let layout = TaskLayout.executors(tasks: plan.tasks, executorCounts: plan.executors)
        // In task order, so a picker that alternates splits every component the same way each run.
        let a = Set(layout.keys.sorted().filter { inFirst($0, layout[$0]!) })
        let b = Set(layout.keys).subtracting(a)
        let toB = LoopbackTransfer()
        let toA = LoopbackTransfer()
        let id = Probes.newTopologyId()
        let first = try TopologyRuntime(
            topologyId: id, topology: topology, conf: conf, registry: TestComponents.registered, executors: a,
            transfer: toB)
        let second = try TopologyRuntime(
            topologyId: id, topology: topology, conf: conf, registry: TestComponents.registered, executors: b,
            transfer: toA)
        toB.target.withLock { $0 = second }
        toA.target.withLock { $0 = first }
        return (first, second, toB, toA)
    }

    @Test func aWordCountSplitOverTwoWorkersIsExact() async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", parallelism: 2, args: [.longArg(500)])
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: 2).shuffleGrouping(
                "sentences"))
        builder.subscribe(builder.setBolt("count", "test.Recording", parallelism: 4).fieldsGrouping("split", ["word"]))
        // Alternate executors between the workers, so every hop can cross.
        var toggle = false
        let (a, b, toB, toA) = try split(try builder.build()) { _, _ in
            toggle.toggle()
            return toggle
        }
        try b.start()
        try a.start()
        let words = Int64(BuiltInComponents.sentences.joined(separator: " ").split(separator: " ").count) * 2 * 500
        _ = await eventually(60) { (a.stats["count"]?.executed ?? 0) + (b.stats["count"]?.executed ?? 0) == words }
        a.stop()
        b.stop()
        var total: [Value: Int64] = [:]
        var homes: [Value: Int] = [:]
        for task in Probes.received(topology: a.topologyId, component: "count") {
            for word in Set(task.map { $0[0] }) { homes[word, default: 0] += 1 }
            for tuple in task { total[tuple[0], default: 0] += 1 }
        }
        #expect(total.values.reduce(0, +) == words)
        // Each task sends each sentence 500 times; "the" is twice in one sentence and once in two others.
        let the: Int64 = 2 * 500 * (2 + 1 + 1)
        #expect(total[.string("the"), default: 0] == the)
        #expect(homes.values.allSatisfy { $0 == 1 }, "a word was counted in two places")
        #expect(toB.bytes.withLock { $0 } > 0 && toA.bytes.withLock { $0 } > 0)
        #expect(a.misroutedCount == 0 && b.misroutedCount == 0)
    }

    /// Chained too: the sink tasks beside the spout then run on its thread, the others on their own.
    @Test(arguments: [false, true])
    func localOrShuffleKeepsTuplesInTheirWorker(chained: Bool) async throws {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(40)])
        builder.subscribe(builder.setBolt("sink", "test.Recording", parallelism: 4).localOrShuffleGrouping("sentences"))
        let topology = try builder.build()
        // The spout and sink's first two tasks in one worker, the other two sink tasks in the other.
        var sinks = 0
        let conf = StormConfig.defaults.merging([ConfigKey.topologyExecutorChaining: .bool(chained)])
        let (a, b, toB, _) = try split(topology, conf: conf) { _, component in
            guard component == "sink" else { return component == "sentences" }
            sinks += 1
            return sinks <= 2
        }
        try b.start()
        try a.start()
        _ = await eventually(30) { (a.stats["sink"]?.executed ?? 0) == 200 }
        a.stop()
        b.stop()
        #expect(a.stats["sink"]?.executed == 200)
        #expect(b.stats["sink"]?.executed ?? 0 == 0)
        #expect(
            Probes.received(topology: a.topologyId, component: "sink", tasks: a.localTasks).map(\.count) == [100, 100])
        #expect(toB.bytes.withLock { $0 } == 0)
        #expect(a.layout.chains.chained.count == (chained ? 2 : 0) && b.layout.chains.chained.isEmpty)
    }
}

@Suite struct TupleBatchCodecTests {
    let streams: StreamTable = {
        var builder = TopologyBuilder(registry: TestComponents.registered)
        builder.setSpout("sentences", "test.FiniteSentences")
        builder.subscribe(builder.setBolt("sink", "test.Recording").shuffleGrouping("sentences"))
        return StreamTable(try! builder.build())
    }()

    @Test func everyValueKindSurvivesTheWire() throws {
        let stream = streams.stream("sentences", "default")!
        let values: [Value] = [
            .null, .bool(true), .bool(false), .int(-1), .int(Int64.max), .double(2.5), .string("héllo"),
            .binary([0, 255]),
            .list([.int(1), .string("x")]), .map(["k": .list([])]),
        ]
        let batch = values.enumerated().map {
            Delivery(
                task: Int32($0.offset + 1), tuple: Tuple(values: [$0.element, .int(7)], stream: stream, sourceTask: 3))
        }
        var bytes: [UInt8] = []
        TupleBatchCodec.encode(batch, into: &bytes)
        let decoded = try bytes.withUnsafeBytes { try TupleBatchCodec(streams: streams).decode($0) }
        #expect(decoded.map(\.task) == batch.map(\.task))
        #expect(decoded.map(\.tuple.values) == batch.map(\.tuple.values))
        #expect(
            decoded.allSatisfy {
                $0.tuple.stream === stream && $0.tuple.sourceTask == 3 && $0.tuple.sourceComponent == "sentences"
            })
    }

    @Test func malformedBatchesAreRefusedWithTheReason() throws {
        let codec = TupleBatchCodec(streams: streams)
        func decode(_ bytes: [UInt8]) -> String {
            do {
                _ = try bytes.withUnsafeBytes { try codec.decode($0) }
                return "decoded"
            } catch {
                return "\(error)"
            }
        }
        #expect(decode([1, 0]).contains("no count"))
        #expect(decode([200, 0, 0, 0, 1]).contains("claims 200 tuples"))
        // One tuple naming stream 9 of a topology with one stream.
        #expect(decode([1, 0, 0, 0, 1, 1, 9, 0, 0]).contains("unknown stream number 9"))
        var good: [UInt8] = []
        TupleBatchCodec.encode(
            [Delivery(task: 1, tuple: Tuple(values: [.string("abc")], stream: streams.all[0], sourceTask: 2))],
            into: &good)
        #expect(
            decode(Array(good.dropLast())).contains("runs past the end")
                || decode(Array(good.dropLast())).contains("truncated"))
        #expect(decode(good + [0]).contains("bytes left"))
    }
}
