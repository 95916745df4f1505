import Components
import Foundation
import LocalCluster
import Locking
import Runtime
import StormCore
import StormThrift
import TestSupport
import Testing
import Tuples

@Suite struct LocalClusterTests {
    func wordCount(limit: Int64) throws -> StormTopology {
        var builder = TopologyBuilder()
        builder.setSpout("sentences", SentenceSpout.className, parallelism: 1, args: [.longArg(limit)])
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: 2).shuffleGrouping(
                "sentences"))
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.testing.TestWordCounter", parallelism: 2).fieldsGrouping(
                "split", ["word"]))
        return try builder.build()
    }

    @Test func aSubmittedTopologyRunsAndAKillStopsItAfterTheWait() async throws {
        let cluster = try await LocalCluster()
        let id = try await cluster.submitTopology("words", topology: try wordCount(limit: 1000))
        let runtime = try #require(cluster.runtime(id))
        let words = Int64(BuiltInComponents.sentences.joined(separator: " ").split(separator: " ").count) * 200
        #expect(await eventually(30) { runtime.stats["count"]?.executed == words })
        let summary = try await cluster.nimbus.getTopologySummaryByName(name: "words")
        #expect(summary.status == "ACTIVE")

        try await cluster.killTopology("words", waitSecs: 1)
        // Killed: spouts stop at once, the topology is gone after the wait.
        #expect(await eventually(10) { cluster.runtime(id) == nil })
        await cluster.shutdown()
    }

    /// A kill deactivates the spouts at once and removes the topology only when its wait is over.
    @Test func aKillStopsTheSpoutsAtOnceAndRemovesTheTopologyAfterItsWait() async throws {
        let cluster = try await LocalCluster()
        var builder = TopologyBuilder()
        builder.setSpout("words", "org.apache.storm.testing.TestWordSpout", parallelism: 2)
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.testing.TestWordCounter", parallelism: 2).fieldsGrouping(
                "words", ["word"]))
        let id = try await cluster.submitTopology("doomed", topology: try builder.build())
        let runtime = try #require(cluster.runtime(id))
        func emitted() -> Int64 { runtime.stats["words"]?.emitted ?? 0 }
        #expect(await eventually(10) { emitted() > 10 })
        let killed = Date()
        try await cluster.killTopology("doomed", waitSecs: 4)
        // Twenty words a second while active: no new word for a second means the spouts stopped. Rounds start in
        // the first two seconds after the kill, so the last ends about three seconds in, before the wait is over.
        let stopped = try await eventually(2 - Date().timeIntervalSince(killed)) {
            let before = emitted()
            try await Task.sleep(for: .seconds(1))  // checks an absence: no new word for a second
            return emitted() == before
        }
        #expect(stopped, "the spouts kept emitting after the kill")
        let last = emitted()
        // Still there, killed, until the wait is over (checked while there is time left of it); then gone.
        if Date().timeIntervalSince(killed) < 3.5 {
            #expect(cluster.runtime(id) != nil, "removed before its wait was over")
            #expect(try await cluster.nimbus.getTopologySummary(id: id).status == "KILLED")
        }
        #expect(await eventually(30) { cluster.runtime(id) == nil })
        #expect(Date().timeIntervalSince(killed) >= 4, "removed before its wait was over")
        #expect(emitted() == last)
        await cluster.shutdown()
    }

    @Test func deactivateStopsTheSpoutsAndActivateResumesThem() async throws {
        let cluster = try await LocalCluster()
        // Storm's TestWordSpout: ten words a second, so the test leaves the machine to the others.
        var builder = TopologyBuilder()
        builder.setSpout("words", "org.apache.storm.testing.TestWordSpout", parallelism: 2)
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.testing.TestWordCounter", parallelism: 2).fieldsGrouping(
                "words", ["word"]))
        let id = try await cluster.submitTopology("endless", topology: try builder.build())
        let runtime = try #require(cluster.runtime(id))
        func emitted() -> Int64 { runtime.stats["words"]?.emitted ?? 0 }
        #expect(await eventually(10) { emitted() > 10 })
        try await cluster.deactivate("endless")
        // The spouts see the change within a tenth of a second (longer on a loaded machine) and finish the call
        // they are in; while active they emit about twenty words a second, so a quiet second means stopped.
        #expect(await settles(within: 20, quiet: .seconds(1), emitted))
        let paused = emitted()
        try await Task.sleep(for: .seconds(1))  // checks an absence: nothing more is emitted for a second
        #expect(emitted() == paused)
        try await cluster.activate("endless")
        #expect(await eventually(10) { emitted() > paused })
        await cluster.shutdown()
    }

    @Test func aTopologyNimbusRefusesIsAnErrorNamingTheClass() async throws {
        let cluster = try await LocalCluster()
        let topology = StormTopology(
            spouts: [
                "s": SpoutSpec(
                    spoutObject: .javaObject(JavaObject(fullClassName: "com.example.MissingSpout", argsList: [])),
                    common: ComponentCommon(
                        inputs: [:], streams: ["default": StreamInfo(outputFields: ["x"], direct: false)]))
            ], bolts: [:], stateSpouts: [:])
        await #expect {
            try await cluster.submitTopology("broken", topology: topology)
        } throws: { error in
            (error as? InvalidTopologyException)?.msg.contains("com.example.MissingSpout") == true
        }
        var builder = TopologyBuilder()
        builder.setSpout("words", "org.apache.storm.testing.TestWordSpout")
        builder.subscribe(
            builder.setBolt("sink", "org.apache.storm.perf.bolt.DevNullBolt").customGrouping(
                "words", "com.example.Partitioner"))
        let grouped = try builder.build()
        await #expect {
            try await cluster.submitTopology("grouped", topology: grouped)
        } throws: { error in
            (error as? InvalidTopologyException)?.msg.contains("custom grouping com.example.Partitioner") == true
        }
        await cluster.shutdown()
    }
}

/// DRPC's middle in Swift: `[args, return-info]` in, `[args reversed, return-info]` out.
final class ReverseBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["result", "return-info"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        collector?.emit([.string(String(tuple[0].stringValue!.reversed())), tuple[1]], anchor: tuple)
        collector?.ack(tuple)
    }
}

@Suite struct LocalDRPCTests {
    @Test func aLocalDRPCAnswersThroughATopologyOfStormsDRPCComponents() async throws {
        let registry = ComponentRegistry.shared
        registry.register("test.Reverse", kind: .bolt) { _ in ReverseBolt() }
        var builder = TopologyBuilder(registry: registry)
        builder.setSpout("requests", DRPCSpout.className, args: [.stringArg("reverse")])
        builder.subscribe(builder.setBolt("reverse", "test.Reverse", parallelism: 2).shuffleGrouping("requests"))
        builder.subscribe(builder.setBolt("return", ReturnResults.className).shuffleGrouping("reverse"))
        let cluster = try await LocalCluster()
        let drpc = try LocalDRPC(timeoutSeconds: 30)
        _ = try await cluster.submitTopology("reverse", conf: drpc.topologyConf, topology: try builder.build())
        #expect(try await drpc.execute("reverse", "hello") == "olleh")
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<20 { group.addTask { (i, try await drpc.execute("reverse", "call \(i)")) } }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers == Dictionary(uniqueKeysWithValues: (0..<20).map { ($0, String("call \($0)".reversed())) }))
        await cluster.shutdown()
        await drpc.shutdown()
    }

    /// Storm's reach shape: split (three tasks) -> distinct per request (two, grouped by [request, word]) -> count
    /// per request (two, grouped by request), each coordinated: every caller gets the number of distinct words in its
    /// args, once, even when a request has no tuple at all; a failed tuple fails its caller at once.
    @Test func aLinearDRPCChainAnswersEachRequestOnce() async throws {
        ComponentRegistry.shared.register("test.SplitArgs", kind: .bolt) { _ in SplitArgsBolt() }
        var builder = LinearDRPCTopologyBuilder(function: "distinct")
        builder.addBolt("test.SplitArgs", parallelism: 3)
        builder.addBolt(DistinctPerRequest.className, parallelism: 2, grouping: .fields(["request", "word"]))
        builder.addBolt(CountPerRequest.className, parallelism: 2, grouping: .fields(["request"]))
        let cluster = try await LocalCluster()
        let drpc = try LocalDRPC(timeoutSeconds: 30)
        let id = try await cluster.submitTopology(
            "distinct", conf: drpc.topologyConf.merging([ConfigKey.topologyMessageTimeoutSecs: 10]) { $1 },
            topology: try builder.createTopology())
        #expect(try await drpc.execute("distinct", "a b a c b") == "3")
        #expect(try await drpc.execute("distinct", "") == "0")
        let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<50 {
                // i + 1 distinct words, most of them twice.
                let words = (0...i).flatMap { ["w\($0)", "w\($0 / 2)"] }.joined(separator: " ")
                group.addTask { (i, try await drpc.execute("distinct", words)) }
            }
            return try await group.reduce(into: [Int: String]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers == Dictionary(uniqueKeysWithValues: (0..<50).map { ($0, "\($0 + 1)") }))
        let started = ContinuousClock.now
        await #expect {
            try await drpc.execute("distinct", "a fail b")
        } throws: {
            ($0 as? DRPCExecutionException)?.type == .failedRequest
        }
        #expect(ContinuousClock.now - started < .seconds(5), "the failed request waited for its timeout")
        // ReturnResults answered each request once: JoinResult paired no request twice.
        let runtime = try #require(cluster.runtime(id))
        #expect(await eventually(10) { runtime.stats["bolt4"]?.executed == 52 })
        #expect(runtime.stats["bolt3"]?.emitted == 52)
        await cluster.shutdown()
        await drpc.shutdown()
    }
}

/// `[request, args]` -> `[request, word]` per word; args with the word "fail" fail.
final class SplitArgsBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["request", "word"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        let words = tuple[1].stringValue!.split(separator: " ")
        if words.contains("fail") {
            collector?.fail(tuple)
            return
        }
        for word in words { collector?.emit([tuple[0], .string(String(word))], anchor: tuple) }
        collector?.ack(tuple)
    }
}

/// Keeps the `db.password` its tasks were prepared with.
final class ConfReadingBolt: Components.Bolt {
    static let seen = Locked<[String]>([])
    func declareOutputFields(_ declarer: inout OutputDeclarer) {}
    func prepare(context: TopologyContext, collector: any OutputCollector) {
        Self.seen.withLock { $0.append(context.conf["db.password"]?.stringValue ?? "none") }
    }
    func execute(_ tuple: Tuple) {}
}

@Suite struct LocalClusterSecretsTests {
    @Test func componentsGetTheSecretsNimbusMasksInItsAnswers() async throws {
        let registry = ComponentRegistry.shared
        registry.register("test.ConfReading", kind: .bolt) { _ in ConfReadingBolt() }
        var builder = TopologyBuilder(registry: registry)
        builder.setSpout("sentences", SentenceSpout.className, args: [.longArg(1)])
        builder.subscribe(builder.setBolt("reader", "test.ConfReading").shuffleGrouping("sentences"))
        let cluster = try await LocalCluster()
        let id = try await cluster.submitTopology(
            "secretive", conf: ["db.password": "hunter2"], topology: try builder.build())
        #expect(await eventually(10) { ConfReadingBolt.seen.withLock { $0 } == ["hunter2"] })
        let answered = try JSON.decodeObject(try await cluster.nimbus.getTopologyConf(id: id))
        #expect(answered["db.password"] == .string(SecretKeys.mask))
        await cluster.shutdown()
    }
}
