import StormCore
import StormThrift
import Testing
import Tuples

@testable import Components

/// A bolt that emits one `[id, value]` per tuple and acks only when told: as a shell bolt does, whose child answers
/// in its own time.
final class LateAckingBolt: Components.Bolt {
    var collector: (any OutputCollector)?
    var held: [Tuple] = []

    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["request", "value"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) throws { self.collector = collector }
    func execute(_ tuple: Tuple) {
        collector?.emit([tuple.values[0], tuple.values[1]], anchor: tuple)
        held.append(tuple)
    }
    func ackAll() {
        held.forEach { collector?.ack($0) }
        held = []
    }
}

@Suite struct LinearDRPCTests {
    static let distinct = LinearDRPCBolt(
        object: .javaObject(JavaObject(fullClassName: DistinctPerRequest.className, argsList: [])),
        streams: [defaultStream: StreamInfo(outputFields: ["request", "value"], direct: false)], parallelism: 2)
    static let count = LinearDRPCBolt(
        object: .javaObject(JavaObject(fullClassName: CountPerRequest.className, argsList: [])),
        streams: [defaultStream: StreamInfo(outputFields: ["request", "count"], direct: false)], parallelism: 2,
        inputs: [.init(grouping: .fields(["request"]))])

    /// bolt0 (tasks 3, 4) -> bolt1 (task 5) -> bolt2 (tasks 7, 8), as LinearDRPCTopologyBuilder lays them out.
    func chain() throws -> StormTopology {
        var middle = Self.distinct
        middle.inputs = [.init(grouping: .fields(["request", "value"]))]
        return try LinearDRPCTopology.build(function: "f", bolts: [Self.distinct, middle, Self.count])
    }

    func context(_ topology: StormTopology, task: Int32, component: String) -> TopologyContext {
        TopologyContext(
            topologyId: "f-1-1", thisTaskId: task, thisComponentId: component,
            taskToComponent: [
                1: "spout", 2: "prepare-request", 3: "bolt0", 4: "bolt0", 5: "bolt1", 7: "bolt2", 8: "bolt2",
            ],
            conf: StormConfig.defaults, topology: topology)
    }

    func spec(_ topology: StormTopology, _ component: String) throws -> CoordinationSpec {
        try #require(try CoordinationSpec.of(jsonConf: topology.bolts[component]?.common.jsonConf))
    }

    func tuple(_ values: TupleValues, from component: String, stream: String = defaultStream, task: Int32) -> Tuple {
        Tuple(
            values: values, fields: Fields(values.indices.map { "f\($0)" }), sourceComponent: component,
            sourceStream: stream, sourceTask: task)
    }

    @Test func theBuilderLaysOutStormsTopology() throws {
        let topology = try chain()
        #expect(Set(topology.spouts.keys) == ["spout"])
        #expect(Set(topology.bolts.keys) == ["prepare-request", "bolt0", "bolt1", "bolt2", "bolt3", "bolt4"])
        #expect(try spec(topology, "bolt0") == CoordinationSpec())
        #expect(try spec(topology, "bolt1") == CoordinationSpec(sources: ["bolt0": .single]))
        #expect(
            try spec(topology, "bolt2")
                == CoordinationSpec(
                    sources: ["bolt1": .all], idStream: GlobalStreamId(componentId: "prepare-request", streamId: "id")))
        #expect(
            topology.bolts["bolt3"]?.boltObject
                == .javaObject(
                    JavaObject(fullClassName: JoinResult.className, argsList: [.stringArg("prepare-request")])))
        #expect(
            topology.bolts["bolt3"]?.common.inputs
                == [
                    GlobalStreamId(componentId: "bolt2", streamId: "default"): .fields(["request"]),
                    GlobalStreamId(componentId: "prepare-request", streamId: "ret"): .fields(["request"]),
                ])
        #expect(
            topology.bolts["bolt2"]?.common.inputs[
                GlobalStreamId(componentId: "bolt1", streamId: CoordinationSpec.stream)] == .direct(NullStruct()))
        #expect(
            topology.bolts["bolt0"]?.common.inputs == [
                GlobalStreamId(componentId: "prepare-request", streamId: "default"): .none(NullStruct())
            ])
    }

    @Test func theBuilderRefusesWhatCannotAnswerOnce() throws {
        func refusal(_ bolts: [LinearDRPCBolt]) -> String {
            do {
                _ = try LinearDRPCTopology.build(function: "f", bolts: bolts)
                return "built"
            } catch {
                return error.description
            }
        }
        #expect(refusal([]) == "linear DRPC topology 'f' has no bolts")
        var threeFields = Self.distinct
        threeFields.streams[defaultStream] = StreamInfo(outputFields: ["request", "a", "b"], direct: false)
        #expect(
            refusal([threeFields])
                == #"linear DRPC topology 'f': the last bolt's stream must have exactly two fields, the request id and the result; 'bolt0' declares ["request", "a", "b"]"#
        )
        var twoStreams = Self.distinct
        twoStreams.streams["other"] = StreamInfo(outputFields: ["x"], direct: false)
        #expect(
            refusal([twoStreams])
                == #"linear DRPC topology 'f': its last bolt 'bolt0' must declare exactly one stream, [id, result]; it declares ["default", "other"]"#
        )
        var ungrouped = Self.count
        ungrouped.inputs = []
        #expect(
            refusal([Self.distinct, ungrouped])
                == "linear DRPC topology 'f': bolt 'bolt1' says not how it reads 'bolt0' (a shuffle, fields, global, ... grouping)"
        )
        var named = Self.count
        named.id = "spout"
        #expect(
            refusal([Self.distinct, named]).hasPrefix("linear DRPC topology 'f' uses the component id 'spout' twice"))
        var badField = Self.count
        badField.inputs = [.init(grouping: .fields(["nope"]))]
        #expect(refusal([Self.distinct, badField]).contains("by field 'nope', which is not among its fields"))

        var builder = LinearDRPCTopologyBuilder(function: "f")
        builder.addBolt("com.example.Missing")
        #expect(throws: ComponentRegistry.Failure.self) { try builder.createTopology() }
    }

    /// Storm's CoordinatedBolt finishes a request only on a report, and throws if the bolt's own ack would finish
    /// it; a shell bolt acks after it executes, so ours finishes on whichever comes last.
    @Test func aBoltThatAcksLateFinishesOnItsLastAck() throws {
        let topology = try chain()
        let late = LateAckingBolt()
        let bolt = CoordinatedBolt.wrapping(late, spec: try spec(topology, "bolt1"))
        let collector = RecordingCollector()
        var next: Int32 = 7
        collector.route = { _ in
            defer { next = next == 7 ? 8 : 7 }
            return [next]
        }
        try bolt.prepare(context: context(topology, task: 5, component: "bolt1"), collector: collector)
        for word in ["a", "b", "c"] { bolt.execute(tuple([42, .string(word)], from: "bolt0", task: 3)) }
        bolt.execute(tuple([42, 3], from: "bolt0", stream: CoordinationSpec.stream, task: 3))
        #expect(collector.direct.isEmpty, "reported before its tuples were acked")
        #expect(collector.acked == 0, "the report was acked before the request finished")
        late.ackAll()
        #expect(collector.direct.map { [$0.task: $0.values] } == [[7: [42, 2]], [8: [42, 1]]])
        #expect(collector.direct.allSatisfy { $0.stream == CoordinationSpec.stream && $0.anchors == 2 })
        #expect(collector.acked == 4)
        #expect(collector.failed == 0)
    }

    @Test func aFailedTupleFailsTheRequestAndNothingIsReported() throws {
        let topology = try chain()
        let late = LateAckingBolt()
        let bolt = CoordinatedBolt.wrapping(late, spec: try spec(topology, "bolt1"))
        let collector = RecordingCollector()
        try bolt.prepare(context: context(topology, task: 5, component: "bolt1"), collector: collector)
        bolt.execute(tuple([42, "a"], from: "bolt0", task: 3))
        bolt.execute(tuple([42, 1], from: "bolt0", stream: CoordinationSpec.stream, task: 3))
        late.collector?.fail(late.held.removeFirst())
        #expect(collector.direct.isEmpty)
        #expect(collector.failed == 2)
        #expect(collector.acked == 0)
        // A late report or tuple of the failed request is failed: it starts no new request, nothing reports.
        bolt.execute(tuple([42, 0], from: "bolt0", stream: CoordinationSpec.stream, task: 4))
        bolt.execute(tuple([42, "b"], from: "bolt0", task: 4))
        #expect(collector.failed == 4)
        #expect(late.held.isEmpty)
        #expect(collector.direct.isEmpty)
    }

    /// The last bolt finishes a request where its id went, once every task before it has reported: a task of it
    /// that saw no tuple of the request still counts zero there, and the other task finishes nothing.
    @Test func theLastBoltFinishesWhereTheIdWentAfterEveryReport() throws {
        let topology = try chain()
        let spec = try spec(topology, "bolt2")
        let collector = RecordingCollector()
        let counting = CoordinatedBolt.wrapping(CountPerRequest(), spec: spec)
        try counting.prepare(context: context(topology, task: 7, component: "bolt2"), collector: collector)
        counting.execute(tuple([9, "x"], from: "bolt1", task: 5))
        counting.execute(tuple([9, "y"], from: "bolt1", task: 5))
        counting.execute(tuple([9, 2], from: "bolt1", stream: CoordinationSpec.stream, task: 5))
        #expect(collector.emitted.isEmpty, "finished before its id arrived")
        counting.execute(tuple([9], from: "prepare-request", stream: "id", task: 2))
        #expect(collector.emitted.map(\.values) == [[9, 2]])
        #expect(collector.direct.isEmpty, "the last bolt reports to nobody")

        let other = RecordingCollector()
        let idle = CoordinatedBolt.wrapping(CountPerRequest(), spec: spec)
        try idle.prepare(context: context(topology, task: 8, component: "bolt2"), collector: other)
        idle.execute(tuple([9, 0], from: "bolt1", stream: CoordinationSpec.stream, task: 5))
        #expect(other.emitted.isEmpty)
        #expect(other.acked == 1)

        // A bolt that finishes nothing acks ids and never sees them.
        let shellLike = LateAckingBolt()
        let passing = CoordinatedBolt.wrapping(shellLike, spec: spec)
        let third = RecordingCollector()
        try passing.prepare(context: context(topology, task: 8, component: "bolt2"), collector: third)
        passing.execute(tuple([9], from: "prepare-request", stream: "id", task: 2))
        #expect(shellLike.held.isEmpty)
        #expect(third.acked == 1)
    }

    @Test func joinResultAnswersEachRequestOnce() throws {
        let join = JoinResult(returnComponent: "prepare-request")
        let collector = RecordingCollector()
        try join.prepare(context: context(try chain(), task: 9, component: "bolt3"), collector: collector)
        join.execute(tuple([1, "result one"], from: "bolt2", task: 7))
        join.execute(tuple([2, "info two"], from: "prepare-request", stream: "ret", task: 2))
        #expect(collector.emitted.isEmpty)
        join.execute(tuple([1, "info one"], from: "prepare-request", stream: "ret", task: 2))
        join.execute(tuple([2, 22], from: "bolt2", task: 8))
        #expect(collector.emitted.map(\.values) == [["result one", "info one"], ["22", "info two"]])
        #expect(collector.emitted.allSatisfy { $0.anchors == 2 })
        #expect(collector.acked == 4)
        join.execute(tuple([2, "again"], from: "bolt2", task: 8))
        #expect(collector.emitted.count == 2)
        #expect(collector.acked == 5)
        #expect(collector.errors.count == 1)
        #expect(collector.errors.first?.contains("another result for request 2") == true)
    }

    @Test func prepareRequestSendsOneIdThreeWays() throws {
        let prepare = PrepareRequest()
        let collector = RecordingCollector()
        try prepare.prepare(context: context(try chain(), task: 2, component: "prepare-request"), collector: collector)
        prepare.execute(tuple(["some args", "{\"id\":\"7\"}"], from: "spout", task: 1))
        #expect(collector.emitted.map(\.stream) == ["default", "ret", "id"])
        let id = try #require(collector.emitted.first?.values.first?.intValue)
        #expect(id >= 0 && id < 1 << 53)
        #expect(
            collector.emitted.map(\.values) == [[.int(id), "some args"], [.int(id), "{\"id\":\"7\"}"], [.int(id)]])
        #expect(collector.acked == 1)
    }

    @Test func malformedTuplesAreFailedAndReportedInOneLine() throws {
        let prepare = PrepareRequest()
        let prepared = RecordingCollector()
        try prepare.prepare(context: context(try chain(), task: 2, component: "prepare-request"), collector: prepared)
        prepare.execute(tuple(["args only"], from: "spout", task: 1))
        #expect(prepared.emitted.isEmpty && prepared.failed == 1)
        #expect(prepared.errors == ["PrepareRequest: a request tuple has 1 values, not [args, return-info]"])

        let join = JoinResult(returnComponent: "prepare-request")
        let joined = RecordingCollector()
        try join.prepare(context: context(try chain(), task: 9, component: "bolt3"), collector: joined)
        join.execute(tuple([1], from: "bolt2", task: 7))
        #expect(joined.emitted.isEmpty && joined.failed == 1)
        #expect(joined.errors == ["JoinResult: a tuple from 'bolt2' is not [request, value]"])
        // The malformed tuple left nothing behind: the request is answered normally afterwards.
        join.execute(tuple([1, "result"], from: "bolt2", task: 7))
        join.execute(tuple([1, "info"], from: "prepare-request", stream: "ret", task: 2))
        #expect(joined.emitted.map(\.values) == [["result", "info"]])
    }
}
