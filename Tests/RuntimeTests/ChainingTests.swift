import Components
import Foundation
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing
import Tuples

@testable import Runtime

/// Passes each input on anchored to it and acks it, noting the thread it executed on.
final class ThreadNotingBolt: Components.Bolt {
    static let threads = Locked<[String: Set<String>]>([:])
    var collector: (any OutputCollector)?
    var key = ""
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) {
        self.collector = collector
        key = "\(context.topologyId)/\(context.thisComponentId)"
    }
    func execute(_ tuple: Tuple) {
        // The kernel's name of the thread (at most 15 bytes): what the runtime named its executor's thread.
        let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "unreadable"
        let name = comm.trimmingCharacters(in: .whitespacesAndNewlines)
        Self.threads.withLock { _ = $0[key, default: []].insert(name) }
        collector?.emit(tuple.values, anchor: tuple)
        collector?.ack(tuple)
    }
}

/// topology.executor.chaining: which executors run on another's thread, and that a chained topology computes
/// exactly what an unchained one does.
@Suite struct ChainingTests {
    static let registry: ComponentRegistry = {
        let r = AckingComponents.registered
        r.register("test.ThreadNoting", kind: .bolt) { _ in ThreadNotingBolt() }
        return r
    }()

    static let chainingOn = StormConfig.defaults.merging([ConfigKey.topologyExecutorChaining: true])

    @Test func aBoltFedByOneThreadRunsOnItAndOthersKeepTheirOwn() {
        // 0, a spout, feeds 1, which feeds 2; 3 is fed by 2 and by 4, another spout; 5 only by 3; 6 and 7 feed
        // each other; 8 has an input in another worker; 9 may not chain (an acker, say).
        let inputs: [Set<Int>?] = [[], [0], [1], [2, 4], [], [3], [0, 7], [6], nil, [0]]
        let chainable = [false, true, true, true, false, true, true, true, true, false]
        let chains = ExecutorChains(inputs: inputs, chainable: chainable)
        #expect(chains.host == [0, 0, 0, 3, 4, 3, 6, 7, 8, 9])
        #expect(chains.chained == [1, 2, 5])
        #expect(chains.chained(on: 0) == [1, 2] && chains.chained(on: 3) == [5] && chains.chained(on: 4).isEmpty)
    }

    func layout(_ topology: StormTopology, conf: StormConfig, assigned: Set<Executor>? = nil) throws -> RuntimeLayout {
        try RuntimeLayout(
            topologyId: "t-1-1", topology: topology, conf: conf, registry: Self.registry, assigned: assigned,
            shell: ShellEnvironment(resourcesDirectory: "/tmp", pidDirectory: "/tmp"),
            metrics: TopologyRuntime.localMetricsScope(topologyId: "t-1-1", conf: conf))
    }

    func chainedComponents(_ layout: RuntimeLayout) -> [String] {
        layout.chains.chained.map { layout.executors[$0].componentId }.sorted()
    }

    @Test func theLayoutChainsOnlyWhatTheConfAsksAndWhatNeedsNoThreadOfItsOwn() throws {
        var builder = TopologyBuilder(registry: Self.registry)
        builder.setSpout("sentences", "test.FiniteSentences", args: [.longArg(1)])
        builder.setSpout("more", "test.FiniteSentences", args: [.longArg(1)])
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: 2)
                .shuffleGrouping("sentences"))
        builder.subscribe(builder.setBolt("count", "test.Recording", parallelism: 2).fieldsGrouping("split", ["word"]))
        builder.subscribe(builder.setBolt("ticked", "test.Recording").shuffleGrouping("sentences"))
        builder.subscribe(builder.setBolt("both", "test.Recording").shuffleGrouping("split").shuffleGrouping("more"))
        var topology = try builder.build()
        topology.bolts["ticked"]!.common.jsonConf = #"{"topology.tick.tuple.freq.secs": 1}"#

        #expect(chainedComponents(try layout(topology, conf: .defaults)).isEmpty, "off unless asked")
        let off = StormConfig.defaults.merging([ConfigKey.topologyExecutorChaining: false])
        #expect(chainedComponents(try layout(topology, conf: off)).isEmpty)
        // Not the spouts, the acker, the ticked bolt, nor `both` (fed by two threads).
        let whole = try layout(topology, conf: Self.chainingOn)
        #expect(chainedComponents(whole) == ["count", "count", "split", "split"])

        // One split executor in another worker: count is fed from there too and keeps its thread; the split
        // executor here still chains.
        let all = whole.executors.map { Executor($0.tasks.first!.taskId, $0.tasks.last!.taskId) }
        let remoteSplit = whole.executors.lastIndex { $0.componentId == "split" }!
        let worker = try layout(
            topology, conf: Self.chainingOn, assigned: Set(all.indices.filter { $0 != remoteSplit }.map { all[$0] }))
        #expect(chainedComponents(worker) == ["split"])
    }

    @Test(arguments: [false, true])
    func everyTreeCompletesOnceChainedOrNot(chained: Bool) async throws {
        let progress = GuaranteedProcessingTests.ProgressFile()
        var builder = TopologyBuilder(registry: Self.registry)
        builder.setSpout("numbers", NumberedSpout.className, args: [.longArg(3000), .stringArg(progress.path)])
        builder.subscribe(builder.setBolt("noting", "test.ThreadNoting", parallelism: 2).shuffleGrouping("numbers"))
        builder.subscribe(builder.setBolt("sink", "test.AckingSink", parallelism: 2).fieldsGrouping("noting", ["n"]))
        let runtime = try TopologyRuntime(
            topologyId: Probes.newTopologyId(), topology: try builder.build(),
            conf: chained ? Self.chainingOn : .defaults, registry: Self.registry)
        try runtime.start()
        func acked() -> Int64 {
            runtime.executorCounts().first { $0.component == "numbers" }!.counts.ackedByStream.reduce(0, +)
        }
        _ = await eventually(60) { acked() == 3000 }
        if chained {
            // A tuple from another worker for a chained task has no queue to wait in: it is dropped and counted.
            let task = runtime.layout.executors.first { $0.componentId == "noting" }!.tasks[0].taskId
            let stray = Tuple(values: [.int(-1)], stream: runtime.streams.stream("numbers", "default")!, sourceTask: 1)
            runtime.receive([Delivery(task: task, tuple: stray)])
        }
        runtime.stop()

        #expect(acked() == 3000 && progress.watermark() == 3000)
        let sunk = Probes.received(topology: runtime.topologyId, component: "sink").flatMap { $0.map { $0[0] } }
        #expect(sunk.count == 3000 && Set(sunk) == Set((0..<3000).map { Value.int(Int64($0)) }))
        let counts = runtime.executorCounts()
        #expect(counts.filter { $0.component == "noting" }.map(\.counts.executed).reduce(0, +) == 3000)
        #expect(counts.first { $0.component == "numbers" }!.counts.completeLatency.total == 3000)
        let threads = ThreadNotingBolt.threads.withLock { $0["\(runtime.topologyId)/noting"] ?? [] }
        #expect(threads == [chained ? "numbers-executo" : "noting-executor"])
        #expect(runtime.misroutedCount == (chained ? 1 : 0))
    }
}
