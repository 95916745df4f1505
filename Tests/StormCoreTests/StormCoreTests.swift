import Foundation
import StormThrift
import Testing

@testable import StormCore

@Suite struct ConfigTests {
    @Test func defaultsAreStorms() throws {
        let d = StormConfig.defaults
        #expect(try d.int(ConfigKey.nimbusThriftPort) == 6627)
        #expect(try d.int(ConfigKey.nimbusThriftMaxBufferSize) == 1_048_576)
        #expect(try d.string(ConfigKey.zookeeperRoot) == "/storm")
        #expect(try d.intList(ConfigKey.supervisorSlotsPorts) == [6700, 6701, 6702, 6703])
        #expect(try d.int(ConfigKey.topologyMessageTimeoutSecs) == 30)
        #expect(d[ConfigKey.topologyAckerExecutors] == .null)
    }

    @Test func yamlThenOptionsThenTopologyConfTakePrecedence() throws {
        let yaml = try StormConfig.parse(
            yaml: """
                nimbus.thrift.port: 7000
                nimbus.seeds: ["a", "b:7001"]
                topology.workers: 2
                """, source: "storm.yaml")
        var conf = StormConfig.defaults.merging(yaml)
        let (key, value) = try StormConfig.parseOption("topology.workers=3")
        conf[key] = value
        #expect(try conf.int(ConfigKey.nimbusThriftPort) == 7000)
        #expect(try conf.stringList(ConfigKey.nimbusSeeds) == ["a", "b:7001"])
        #expect(try conf.int(ConfigKey.topologyWorkers) == 3)
        let topology = conf.merging([ConfigKey.topologyWorkers: 4])
        #expect(try topology.int(ConfigKey.topologyWorkers) == 4)
        #expect(try topology.int(ConfigKey.topologyMessageTimeoutSecs) == 30)
    }

    @Test func optionValuesKeepTheirYAMLTypes() throws {
        #expect(try StormConfig.parseOption("a=2").1 == .int(2))
        #expect(try StormConfig.parseOption("a=true").1 == .bool(true))
        #expect(try StormConfig.parseOption("a=[x, y]").1 == .list(["x", "y"]))
        #expect(try StormConfig.parseOption("a=hello world").1 == .string("hello world"))
        #expect(try StormConfig.parseOption("a=x=y").1 == .string("x=y"))
        #expect(throws: ConfigError.self) { try StormConfig.parseOption("novalue") }
        #expect(throws: ConfigError.self) { try StormConfig.parseOption("=3") }
    }

    @Test func badYAMLSaysWhereOnOneLine() throws {
        do {
            _ = try StormConfig.parse(yaml: "a: 1\nb: [1, 2\nc: 3\n", source: "/etc/storm.yaml")
            Issue.record("bad YAML parsed")
        } catch let error as ConfigError {
            #expect(error.description.hasPrefix("bad YAML in /etc/storm.yaml: line "))
            #expect(!error.description.contains("\n"))
        }
        #expect(throws: ConfigError.badYAML("f", reason: "the top level must be a mapping of config keys to values")) {
            try StormConfig.parse(yaml: "- a\n- b\n", source: "f")
        }
        #expect(try StormConfig.parse(yaml: "", source: "empty") == StormConfig())
    }

    @Test func unreadableFileIsNamed() {
        #expect(throws: ConfigError.self) { try StormConfig.load(yamlFile: "/no/such/storm.yaml") }
    }

    @Test func wrongTypesNameTheKey() throws {
        let conf = StormConfig([ConfigKey.nimbusThriftPort: "six"])
        #expect(throws: ConfigError.wrongType(ConfigKey.nimbusThriftPort, expected: "an integer", got: "six")) {
            try conf.int(ConfigKey.nimbusThriftPort)
        }
    }

    @Test func jsonRoundTrips() throws {
        let value: ConfigValue = ["a": 1, "b": [true, nil, 2.5, "x"], "c": ["d": "e"]]
        #expect(try JSON.decode(JSON.encode(value)) == value)
        #expect(throws: JSON.ParseError.self) { try JSON.decodeObject("[1]") }
        #expect(throws: JSON.ParseError.self) { try JSON.decodeObject("{nope") }
    }
}

@Suite struct TopologyRulesTests {
    static func shell(_ fields: [String] = ["word"]) -> ComponentCommon {
        ComponentCommon(inputs: [:], streams: ["default": StreamInfo(outputFields: fields, direct: false)])
    }

    static func wordCount() -> StormTopology {
        let spout = SpoutSpec(
            spoutObject: .shell(ShellComponent(executionCommand: "python3", script: "spout.py")),
            common: ComponentCommon(
                inputs: [:], streams: ["default": StreamInfo(outputFields: ["sentence"], direct: false)],
                parallelismHint: 2))
        let split = Bolt(
            boltObject: .shell(ShellComponent(executionCommand: "python3", script: "split.py")),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: "sentences", streamId: "default"): .shuffle(NullStruct())],
                streams: ["default": StreamInfo(outputFields: ["word"], direct: false)], parallelismHint: 3,
                jsonConf: #"{"topology.tasks": 6}"#))
        let count = Bolt(
            boltObject: .javaObject(
                JavaObject(fullClassName: "org.apache.storm.testing.TestWordCounter", argsList: [])),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: "split", streamId: "default"): .fields(["word"])],
                streams: ["default": StreamInfo(outputFields: ["word", "count"], direct: false)]))
        return StormTopology(spouts: ["sentences": spout], bolts: ["split": split, "count": count], stateSpouts: [:])
    }

    private func refusal(_ topology: StormTopology) -> String? {
        do {
            try TopologyValidator.validate(topology)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aValidTopologyPasses() throws {
        try TopologyValidator.validate(Self.wordCount())
    }

    @Test func eachProblemIsNamed() {
        var t = Self.wordCount()
        t.bolts["count"]!.common.inputs = [
            GlobalStreamId(componentId: "splitt", streamId: "default"): .shuffle(NullStruct())
        ]
        #expect(refusal(t) == "bolt 'count' subscribes to unknown component 'splitt'")

        t = Self.wordCount()
        t.bolts["count"]!.common.inputs = [
            GlobalStreamId(componentId: "split", streamId: "words"): .shuffle(NullStruct())
        ]
        #expect(refusal(t) == "bolt 'count' subscribes to stream 'words', which component 'split' does not declare")

        t = Self.wordCount()
        t.bolts["count"]!.common.inputs = [GlobalStreamId(componentId: "split", streamId: "default"): .fields(["wrd"])]
        #expect(
            refusal(t)?.contains("groups stream split:default by field 'wrd', which is not among its fields") == true)

        t = Self.wordCount()
        t.bolts["sentences"] = t.bolts["split"]
        #expect(refusal(t) == "component id 'sentences' is used twice (by a spout and a bolt)")

        t = Self.wordCount()
        t.bolts["__system"] = t.bolts["split"]
        #expect(refusal(t)?.contains("'__system' begins with '__'") == true)

        t = Self.wordCount()
        t.bolts["split"]!.common.parallelismHint = 0
        #expect(refusal(t) == "component 'split' has parallelism 0; it must be at least 1")

        t = Self.wordCount()
        t.spouts["sentences"]!.spoutObject = .serializedJava([0xac, 0xed])
        #expect(refusal(t)?.contains("'sentences' is a serialized Java object, which cannot run here") == true)

        t = Self.wordCount()
        t.stateSpouts["state"] = StateSpoutSpec(
            stateSpoutObject: .shell(ShellComponent(executionCommand: "x")), common: Self.shell())
        #expect(refusal(t) == "component 'state' is a state spout; state spouts are not supported")

        t = Self.wordCount()
        t.bolts["split"]!.common.jsonConf = "{not json"
        #expect(refusal(t)?.hasPrefix("component 'split' has a json_conf that is not valid JSON") == true)

        t = Self.wordCount()
        t.bolts["split"]!.common.jsonConf = "[1,2]"
        #expect(refusal(t) == "component 'split' has a json_conf that is not a JSON object")

        t = Self.wordCount()
        t.bolts["count"]!.common.inputs = [
            GlobalStreamId(componentId: "split", streamId: "default"): .direct(NullStruct())
        ]
        #expect(refusal(t)?.contains("direct grouping on stream split:default, which is not declared direct") == true)

        t = Self.wordCount()
        t.spouts["sentences"]!.spoutObject = .shell(ShellComponent(executionCommand: "", script: "x.py"))
        #expect(refusal(t) == "shell component 'sentences' has no execution_command")

        // A coordinated bolt (linear DRPC) as a hand-written client might get it wrong.
        func coordinated(_ spec: String) -> String? {
            var t = Self.wordCount()
            t.bolts["count"]!.common.jsonConf = #"{"storm.coordination": \#(spec)}"#
            return refusal(t)
        }
        #expect(
            coordinated("[1]")
                == "bolt 'count': storm.coordination must be a map of sources and an id-stream, not [1]")
        #expect(
            coordinated(#"{"sources": {"split": "some"}}"#)
                == #"bolt 'count': storm.coordination sources must map components to single or all, not {"sources":{"split":"some"}}"#
        )
        #expect(
            coordinated(#"{"sources": {}}"#)
                == #"bolt 'count' is coordinated but does not declare the coordination stream org.apache.storm.coordination.CoordinatedBolt/coord-stream ["id", "count"] direct"#
        )
        t = Self.wordCount()
        t.bolts["count"]!.common.streams[CoordinationSpec.stream] = CoordinationSpec.streamInfo
        t.bolts["count"]!.common.jsonConf = #"{"storm.coordination": {"sources": {"split": "all"}}}"#
        #expect(
            refusal(t) == "bolt 'count' is coordinated by 'split' but does not subscribe to its coordination stream")
        t.bolts["count"]!.common.jsonConf = #"{"storm.coordination": {"id-stream": ["split", "id"]}}"#
        #expect(refusal(t) == "bolt 'count' takes its request ids from split:id but does not subscribe to it")
        t.spouts["sentences"]!.common.jsonConf = #"{"storm.coordination": {}}"#
        #expect(refusal(t) == "component 'sentences' is a spout; only bolts are coordinated")

        #expect(
            refusal(StormTopology(spouts: [:], bolts: [:], stateSpouts: [:])) == "topology has no spouts and no bolts")
    }

    @Test func namesFollowStormsRule() {
        for good in ["wordcount", "word count", "wörd-count_1", String(repeating: "a", count: 200)] {
            #expect((try? TopologyName.validate(good)) != nil, "\(good) refused")
        }
        for bad in ["", "a/b", "a.b", "a:b", "a\\b", "tab\there", "nul\u{0}", String(repeating: "a", count: 201)] {
            #expect(throws: TopologyError.self) { try TopologyName.validate(bad) }
        }
    }

    @Test func executorsAndTasksAreStorms() {
        let plan = TopologyPlan(topology: Self.wordCount(), conf: StormConfig.defaults)
        #expect(plan.executors == ["sentences": 2, "split": 3, "count": 1, "__acker": 1])
        #expect(plan.tasks == ["sentences": 2, "split": 6, "count": 1, "__acker": 1])
        let capped = TopologyPlan(
            topology: Self.wordCount(),
            conf: StormConfig.defaults.merging([ConfigKey.topologyMaxTaskParallelism: 2, ConfigKey.topologyWorkers: 3]))
        #expect(capped.executors == ["sentences": 2, "split": 2, "count": 1, "__acker": 3])
        let noAckers = TopologyPlan(
            topology: Self.wordCount(), conf: StormConfig.defaults.merging([ConfigKey.topologyAckerExecutors: 0]))
        #expect(noAckers.executors["__acker"] == nil)
    }

    @Test func systemTopologyAddsAckers() throws {
        let system = SystemTopology.build(
            Self.wordCount(), conf: StormConfig.defaults.merging([ConfigKey.topologyAckerExecutors: 2]))
        let acker = try #require(system.bolts["__acker"])
        #expect(acker.common.parallelismHint == 2)
        #expect(
            acker.common.inputs[GlobalStreamId(componentId: "sentences", streamId: "__ack_init")] == .fields(["id"]))
        #expect(acker.common.inputs[GlobalStreamId(componentId: "count", streamId: "__ack_ack")] == .fields(["id"]))
        #expect(system.spouts["sentences"]?.common.streams["__ack_init"] != nil)
        let user = Self.wordCount()
        #expect(
            SystemTopology.build(user, conf: StormConfig.defaults.merging([ConfigKey.topologyAckerExecutors: 0]))
                == user)
    }
}
