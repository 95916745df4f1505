import Foundation
import Logging
import StormCore
import StormThrift
import Testing
import Tuples

@testable import Components

/// Records what a component emits, as the runtime's collectors will receive it.
final class RecordingCollector: OutputCollector, SpoutOutputCollector {
    var emitted: [(stream: String, values: [Value], anchors: Int)] = []
    var direct: [(task: Int32, stream: String, values: [Value], anchors: Int)] = []
    var acked = 0
    var failed = 0
    var errors: [String] = []
    /// The tasks an emit reaches, as a router would pick them.
    var route: (TupleValues) -> [Int32] = { _ in [] }

    func emit(_ values: TupleValues, stream: String, anchors: [Tuple]) -> [Int32] {
        emitted.append((stream, values.array, anchors.count))
        return route(values)
    }
    func emit(_ values: TupleValues, stream: String, messageId: Value?) -> [Int32] {
        emitted.append((stream, values.array, 0))
        return []
    }
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, anchors: [Tuple]) {
        direct.append((task, stream, values.array, anchors.count))
    }
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, messageId: Value?) {}
    func ack(_ tuple: Tuple) { acked += 1 }
    func fail(_ tuple: Tuple) { failed += 1 }
    func reportError(_ error: any Error) { errors.append("\(error)") }
}

@Suite struct ComponentsTests {
    @Test func aShellComponentWithoutMultilangIsAClearError() throws {
        // A registry nobody gave the multilang factory: a program built without the Multilang module.
        let registry = ComponentRegistry()
        let spec = ShellComponentSpec(
            componentId: "split", kind: .bolt, command: ["python3", "split.py"], streams: [:],
            environment: ShellEnvironment(resourcesDirectory: "/tmp", pidDirectory: "/tmp"),
            logger: Logger(label: "test"))
        #expect {
            try registry.makeShellComponent(spec)
        } throws: {
            "\($0)" == "shell component 'split' cannot run: this program has no multilang support"
        }
    }

    let context = TopologyContext(
        topologyId: "t-1-1", thisTaskId: 3, thisComponentId: "c", taskToComponent: [3: "c"], conf: StormConfig.defaults)

    func tuple(_ values: TupleValues) -> Tuple {
        Tuple(values: values, fields: Fields(["v"]), sourceComponent: "up", sourceStream: "default", sourceTask: 1)
    }

    /// Storm's ReturnResults connects wherever a tuple's return-info says; ours answers only drpc.servers.
    @Test func returnResultsRefusesReturnInfoNamingAnyOtherServer() throws {
        let conf = StormConfig.defaults.merging([
            ConfigKey.drpcServers: ["drpc1.example"], ConfigKey.drpcInvocationsPort: 3773,
        ])
        let context = TopologyContext(
            topologyId: "t-1-1", thisTaskId: 3, thisComponentId: "return", taskToComponent: [3: "return"], conf: conf)
        let bolt = ReturnResults()
        let collector = RecordingCollector()
        try bolt.prepare(context: context, collector: collector)
        for info in [
            #"{"id": "1", "host": "evil.example", "port": 3773}"#, #"{"id": "1", "host": "drpc1.example", "port": 22}"#,
            "not a return-info",
        ] {
            bolt.execute(
                Tuple(
                    values: ["result", .string(info)], fields: Fields(["result", "return-info"]),
                    sourceComponent: "up", sourceStream: "default", sourceTask: 1))
        }
        #expect(collector.failed == 3 && collector.acked == 0)
        #expect(
            collector.errors == [
                "ReturnResults: return-info names evil.example:3773, not a DRPC server of drpc.servers on drpc.invocations.port 3773",
                "ReturnResults: return-info names drpc1.example:22, not a DRPC server of drpc.servers on drpc.invocations.port 3773",
                #"ReturnResults: the tuple's second value is not a return-info ({"id", "host", "port"})"#,
            ])
        #expect {
            try ReturnResults().prepare(context: self.context, collector: collector)
        } throws: {
            "\($0)" == "ReturnResults: drpc.servers names no DRPC server"
        }
        #expect {
            try DRPCSpout(function: "f").open(context: self.context, collector: collector)
        } throws: {
            "\($0)" == "DRPCSpout 'f': drpc.servers names no DRPC server"
        }
        #expect {
            try ComponentRegistry.shared.entry(DRPCSpout.className)!.make([])
        } throws: {
            "\($0)" == "org.apache.storm.drpc.DRPCSpout takes one argument, the function's name"
        }
    }

    @Test func builtInsCarryStormsClassNamesAndFields() throws {
        let registry = ComponentRegistry.shared
        #expect(
            try registry.declaredStreams("org.apache.storm.testing.TestWordSpout")["default"]?.outputFields == ["word"])
        #expect(
            try registry.declaredStreams("org.apache.storm.testing.TestWordCounter")["default"]?.outputFields == [
                "word", "count",
            ])
        #expect(try registry.declaredStreams("org.apache.storm.flux.wrappers.bolts.LogInfoBolt").isEmpty)
        #expect(registry.entry("org.apache.storm.starter.spout.RandomSentenceSpout")?.kind == .spout)
        #expect(registry.entry("org.apache.storm.perf.bolt.DevNullBolt")?.kind == .bolt)
    }

    @Test func unknownAndMisusedClassesAreNamed() {
        let registry = ComponentRegistry.shared
        do {
            try registry.check(JavaObject(fullClassName: "com.acme.MyBolt", argsList: []), as: .bolt, component: "mine")
            Issue.record("an unknown class passed")
        } catch {
            #expect(
                error.description.hasPrefix(
                    "component 'mine' names class com.acme.MyBolt, which this cluster does not have"))
            #expect(error.description.contains("org.apache.storm.testing.TestWordSpout"))
        }
        #expect(throws: ComponentRegistry.Failure.self) {
            try registry.check(
                JavaObject(fullClassName: "org.apache.storm.testing.TestWordSpout", argsList: []), as: .bolt,
                component: "b")
        }
    }

    @Test func builderMakesATopologyNimbusAccepts() throws {
        var builder = TopologyBuilder()
        builder.setSpout("sentences", SentenceSpout.className, parallelism: 2)
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: 4).shuffleGrouping(
                "sentences"))
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.perf.bolt.CountBolt", parallelism: 2).fieldsGrouping(
                "split", ["word"]))
        let topology = try builder.build()
        try TopologyValidator.validate(topology)
        #expect(
            topology.bolts["count"]?.common.inputs == [
                GlobalStreamId(componentId: "split", streamId: "default"): .fields(["word"])
            ])
        #expect(topology.spouts["sentences"]?.common.streams["default"]?.outputFields == ["sentence"])
        var bad = TopologyBuilder()
        bad.setSpout("s", "com.acme.Nope")
        #expect(throws: ComponentRegistry.Failure.self) { try bad.build() }
    }

    @Test func splitAndCountDoWhatTheySay() throws {
        let collector = RecordingCollector()
        let split = SplitSentenceBolt()
        split.prepare(context: context, collector: collector)
        split.execute(tuple(["the cow jumped over the moon"]))
        #expect(collector.emitted.map(\.values) == [["the"], ["cow"], ["jumped"], ["over"], ["the"], ["moon"]])
        #expect(collector.emitted.allSatisfy { $0.anchors == 1 })
        #expect(collector.acked == 1)
        collector.emitted = []
        split.execute(tuple(["  two  spaces ü "]))
        #expect(collector.emitted.map(\.values) == [["two"], ["spaces"], ["ü"]])

        let counts = RecordingCollector()
        let count = WordCountBolt()
        count.prepare(context: context, collector: counts)
        for word in ["a", "b", "a"] { count.execute(tuple([.string(word)])) }
        #expect(counts.emitted.map(\.values) == [["a", 1], ["b", 1], ["a", 2]])
        #expect(count.counts["a"] == 2 && count.counts["b"] == 1 && count.counts["c"] == nil)
        #expect(count.counts.count == 2)
    }

    @Test func sentenceSpoutCyclesStormsSentences() throws {
        let collector = RecordingCollector()
        let spout = SentenceSpout()
        spout.open(context: context, collector: collector)
        for _ in 0..<10 { spout.nextTuple() }
        let sentences = collector.emitted.map { $0.values[0].stringValue! }
        #expect(Set(sentences) == Set(BuiltInComponents.sentences))
        #expect(sentences.count == 10)
    }

    @Test func identityBoltPassesTuplesOnWithTheFieldsItIsGiven() throws {
        let registry = ComponentRegistry.shared
        #expect(
            try registry.declaredStreams(IdentityBolt.className, args: [.stringArg("id"), .stringArg("result")])
                == [defaultStream: StreamInfo(outputFields: ["id", "result"], direct: false)])
        #expect {
            try registry.check(
                JavaObject(fullClassName: IdentityBolt.className, argsList: [.longArg(1)]), as: .bolt, component: "i")
        } throws: {
            "\($0)".hasSuffix("takes its output fields, one string argument each")
        }
        let bolt = IdentityBolt(fields: ["a", "b"])
        let collector = RecordingCollector()
        bolt.prepare(context: context, collector: collector)
        bolt.execute(tuple([1, "x"]))
        #expect(collector.emitted.map(\.values) == [[1, "x"]])
        #expect(collector.emitted.first?.anchors == 1)
        #expect(collector.acked == 1)
    }
}

@Suite struct PaceTests {
    /// A paced task that fell behind (a stall of a second at 2,000 a second) catches up by 0.1 s of tuples, not
    /// by the whole second: it must not run unthrottled behind its debt.
    @Test func catchingUpIsCapped() async throws {
        var pace = Pace(perTask: 2000)
        try await Task.sleep(for: .seconds(1))  // the stall itself: time passing is the case under test
        var burst = 0
        while pace.admit() { burst += 1 }
        #expect(burst >= 150 && burst <= 260, "admitted \(burst) at once after a 1 s stall")
        // And then it keeps its rate: about 2,000 over the next half second.
        let started = Date()
        var paced = 0
        while Date().timeIntervalSince(started) < 0.5 { if pace.admit() { paced += 1 } }
        #expect(paced >= 900 && paced <= 1100, "admitted \(paced) in 0.5 s")
    }

}
