import Components
import Foundation
import StormCore
import StormThrift
import Testing

@testable import Flux

@Suite struct FluxTests {
    static let wordCount = """
        name: "wc"
        config:
          topology.workers: 2
          my.list: [1, "two"]
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
            parallelism: 2
        bolts:
          - id: "split"
            className: "org.apache.storm.perf.bolt.SplitSentenceBolt"
            parallelism: 3
          - id: "count"
            className: "org.apache.storm.perf.bolt.CountBolt"
        streams:
          - from: "sentences"
            to: "split"
            grouping:
              type: SHUFFLE
          - from: "split"
            to: "count"
            grouping:
              type: FIELDS
              args: ["word"]
        """

    @Test func theExampleFileLoads() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../examples/wordcount.yaml"
        ).path
        let flux = try FluxTopology.load(file: path)
        #expect(flux.name == "wordcount")
        #expect(flux.topology.bolts["count"]?.common.inputs.values.first == .fields(["word"]))
    }

    @Test func aFluxFileBecomesATopologyAndConf() throws {
        let flux = try FluxTopology.parse(Self.wordCount, source: "wc.yaml")
        #expect(flux.name == "wc")
        #expect(flux.conf["topology.workers"] == 2)
        #expect(flux.conf["my.list"] == [1, "two"])
        #expect(flux.topology.spouts["sentences"]?.common.parallelismHint == 2)
        #expect(
            flux.topology.bolts["split"]?.common.inputs == [
                GlobalStreamId(componentId: "sentences", streamId: "default"): .shuffle(NullStruct())
            ])
        #expect(
            flux.topology.bolts["count"]?.common.inputs == [
                GlobalStreamId(componentId: "split", streamId: "default"): .fields(["word"])
            ])
        #expect(flux.topology.bolts["count"]?.common.streams["default"]?.outputFields == ["word", "count"])
    }

    func failure(_ text: String) -> String? {
        do {
            _ = try FluxTopology.parse(text, source: "t.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func errorsNameTheFileTheLineAndTheProblem() {
        let unknownClass = Self.wordCount.replacingOccurrences(
            of: "org.apache.storm.perf.bolt.CountBolt", with: "com.acme.Counter")
        #expect(failure(unknownClass)?.hasPrefix("t.yaml:14: component 'count' names class com.acme.Counter") == true)
        let badGrouping = Self.wordCount.replacingOccurrences(of: "type: SHUFFLE", with: "type: SHUFLE")
        #expect(
            failure(badGrouping)
                == "t.yaml:19: unknown grouping type 'SHUFLE' (SHUFFLE, FIELDS, ALL, GLOBAL, NONE, DIRECT, LOCAL_OR_SHUFFLE, CUSTOM)"
        )
        let missingRef = Self.wordCount.replacingOccurrences(of: "to: \"count\"", with: "to: \"counter\"")
        #expect(failure(missingRef) == "t.yaml:21: stream to unknown bolt 'counter'")
        let badField = Self.wordCount.replacingOccurrences(of: "args: [\"word\"]", with: "args: [\"wrd\"]")
        #expect(failure(badField) == "t.yaml:24: field 'wrd' is not among the fields of split:default [\"word\"]")
        let unknownStream = Self.wordCount.replacingOccurrences(
            of: "type: FIELDS", with: "type: FIELDS\n      streamId: \"other\"")
        #expect(failure(unknownStream)?.contains("component 'split' declares no stream 'other'") == true)
        let noId = Self.wordCount.replacingOccurrences(of: "- id: \"split\"", with: "- name: \"split\"")
        #expect(failure(noId)?.hasPrefix("t.yaml:10: a bolt has no 'id'") == true)
        #expect(failure("name: x\nspouts: [\n")?.hasPrefix("t.yaml: bad YAML") == true)
        #expect(failure("")?.contains("empty") == true)
    }

    static let shellWords = """
        name: "py"
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
            constructorArgs: [50]
        bolts:
          - id: "split"
            className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
            constructorArgs:
              - ["python3", "split.py"]
              - ["word"]
        streams:
          - from: "sentences"
            to: "split"
            grouping:
              type: SHUFFLE
        """

    @Test func shellWrappersAndConstructorArgsBecomeComponents() throws {
        let flux = try FluxTopology.parse(Self.shellWords, source: "t.yaml")
        guard case .shell(let program)? = flux.topology.bolts["split"]?.boltObject else {
            Issue.record("split is not a shell component")
            return
        }
        #expect(program.executionCommand == "python3" && program.script == "split.py")
        #expect(flux.topology.bolts["split"]?.common.streams["default"]?.outputFields == ["word"])
        guard case .javaObject(let object)? = flux.topology.spouts["sentences"]?.spoutObject else {
            Issue.record("sentences is not a named class")
            return
        }
        #expect(object.argsList == [JavaObjectArg.longArg(50)])
    }

    @Test func shellAndArgumentMistakesAreNamedWithTheirLine() {
        let noArgs = Self.shellWords.replacingOccurrences(
            of: "    constructorArgs:\n      - [\"python3\", \"split.py\"]\n      - [\"word\"]\n", with: "")
        #expect(
            failure(noArgs)
                == "t.yaml:8: shell component 'split' needs constructorArgs: [[program, script], [fields...]]")
        let longCommand = Self.shellWords.replacingOccurrences(
            of: "[\"python3\", \"split.py\"]", with: "[\"python3\", \"-u\", \"split.py\"]")
        #expect(failure(longCommand)?.contains("the command is a program and at most one script") == true)
        let wrongList = Self.shellWords.replacingOccurrences(of: "bolts.FluxShellBolt", with: "spouts.FluxShellSpout")
        #expect(
            failure(wrongList)?.hasPrefix(
                "t.yaml:8: org.apache.storm.flux.wrappers.spouts.FluxShellSpout is a spout, listed under bolts") == true
        )
        let badArg = Self.shellWords.replacingOccurrences(of: "constructorArgs: [50]", with: "constructorArgs: [[50]]")
        #expect(failure(badArg)?.hasPrefix("t.yaml:5: constructor argument of 'sentences' must be a number") == true)
        let refused = Self.shellWords.replacingOccurrences(
            of: "constructorArgs: [50]", with: "constructorArgs: [\"many\"]")
        #expect(failure(refused)?.contains("cannot be made from its arguments") == true)
    }

    @Test func numTasksStreamsOfShellComponentsAndSubstitution() throws {
        let text = """
            name: "${ENV-FLUX_TEST_NAME}"
            spouts:
              - id: "sentences"
                className: "storm.swift.SentenceSpout"
                constructorArgs: [${limit}]
                numTasks: 4
            bolts:
              - id: "split"
                className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
                constructorArgs: [["python3", "split.py"], ["word"]]
                configMethods:
                  - name: "setDefaultStream"
                    args: [["token"]]
                  - name: "setNamedStream"
                    args: ["lengths", ["word", "length"]]
            streams:
              - from: "sentences"
                to: "split"
                grouping: {type: SHUFFLE}
            """
        let flux = try FluxTopology.parse(
            text, source: "t.yaml", properties: ["limit": "7"], environment: ["FLUX_TEST_NAME": "from-env"])
        #expect(flux.name == "from-env")
        guard case .javaObject(let object)? = flux.topology.spouts["sentences"]?.spoutObject else {
            Issue.record("sentences is not a named class")
            return
        }
        #expect(object.argsList == [JavaObjectArg.longArg(7)])
        #expect(flux.topology.spouts["sentences"]?.common.jsonConf == #"{"topology.tasks":4}"#)
        let streams = flux.topology.bolts["split"]?.common.streams
        #expect(streams?["default"]?.outputFields == ["token"])
        #expect(streams?["lengths"]?.outputFields == ["word", "length"])

        #expect(
            throws: FluxTopology.Failure(
                description: "t.yaml:1: environment variable FLUX_TEST_NAME is not set (${ENV-FLUX_TEST_NAME})")
        ) {
            try FluxTopology.parse(text, source: "t.yaml", properties: ["limit": "7"], environment: [:])
        }
        let badMethod = text.replacingOccurrences(of: "setNamedStream", with: "setStream")
        #expect(
            failure(
                badMethod.replacingOccurrences(of: "${ENV-FLUX_TEST_NAME}", with: "x").replacingOccurrences(
                    of: "${limit}", with: "1"))?
                .contains("unknown configMethod 'setStream' with 2 argument(s) for shell component 'split'") == true)
        #expect(FluxTopology.parseProperties("# comment\na = 1\nb: two\n! other\n") == ["a": "1", "b": "two"])
    }

    @Test func includedFilesAddTheirDefinitionsAndTheIncluderWins() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flux-include-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        name: "base"
        config:
          topology.workers: 3
          from.base: true
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
        bolts:
          - id: "split"
            className: "org.apache.storm.perf.bolt.SplitSentenceBolt"
            parallelism: 5
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
        """.write(to: dir.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
        let top = dir.appendingPathComponent("top.yaml")
        try """
        name: "top"
        includes:
          - {resource: false, file: "base.yaml"}
        config:
          topology.workers: 2
        bolts:
          - id: "split"
            className: "org.apache.storm.perf.bolt.SplitSentenceBolt"
            parallelism: 2
          - id: "count"
            className: "org.apache.storm.perf.bolt.CountBolt"
        streams:
          - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
        """.write(to: top, atomically: true, encoding: .utf8)
        let flux = try FluxTopology.load(file: top.path)
        #expect(flux.name == "top")
        #expect(flux.conf["topology.workers"] == .int(2) && flux.conf["from.base"] == .bool(true))
        #expect(flux.topology.bolts["split"]?.common.parallelismHint == 2)
        #expect(flux.topology.bolts["split"]?.common.inputs.keys.map(\.componentId) == ["sentences"])
        #expect(flux.topology.bolts["count"]?.common.inputs.keys.map(\.componentId) == ["split"])

        let missing = try String(contentsOf: top, encoding: .utf8).replacingOccurrences(
            of: "base.yaml", with: "nope.yaml")
        #expect(failure(missing)?.contains("cannot read included file") == true)
        let resource = try String(contentsOf: top, encoding: .utf8).replacingOccurrences(
            of: "resource: false", with: "resource: true")
        #expect(
            failure(resource)?.hasPrefix("t.yaml:3: classpath resources are included from a topology archive") == true)
        let components =
            Self.wordCount
            + "\ncomponents:\n  - id: \"scheme\"\n    className: \"org.apache.storm.kafka.StringScheme\"\n"
        #expect(failure(components)?.contains("'components' define JVM objects") == true)
    }

    @Test func everyGroupingTypeAndStreamId() throws {
        let types: [(String, Grouping)] = [
            ("{type: SHUFFLE}", .shuffle(NullStruct())), ("{type: FIELDS, args: [\"word\"]}", .fields(["word"])),
            ("{type: ALL}", .all(NullStruct())), ("{type: GLOBAL}", .fields([])), ("{type: NONE}", .none(NullStruct())),
            ("{type: LOCAL_OR_SHUFFLE}", .localOrShuffle(NullStruct())),
            (
                "{type: CUSTOM, customClass: {className: \"com.example.G\"}}",
                .customObject(JavaObject(fullClassName: "com.example.G", argsList: []))
            ),
        ]
        for (text, grouping) in types {
            let yaml = Self.wordCount.replacingOccurrences(
                of: "grouping:\n      type: FIELDS\n      args: [\"word\"]", with: "grouping: \(text)")
            let flux = try FluxTopology.parse(yaml, source: "t.yaml")
            #expect(flux.topology.bolts["count"]?.common.inputs.values.first == grouping, "\(text)")
        }
        // DIRECT needs a direct stream; a named stream is picked by streamId.
        let direct = """
            name: "d"
            spouts:
              - id: "s"
                className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
                constructorArgs: [["python3", "s.py"], ["x"]]
                configMethods:
                  - {name: "setNamedStream", args: ["side", ["y"]]}
            bolts:
              - id: "b"
                className: "org.apache.storm.perf.bolt.DevNullBolt"
            streams:
              - {from: "s", to: "b", grouping: {type: SHUFFLE, streamId: "side"}}
            """
        let flux = try FluxTopology.parse(direct, source: "t.yaml")
        #expect(
            flux.topology.bolts["b"]?.common.inputs.keys.first == GlobalStreamId(componentId: "s", streamId: "side"))
        let notDirect = direct.replacingOccurrences(of: "type: SHUFFLE", with: "type: DIRECT")
        #expect(failure(notDirect)?.contains("direct") == true)
    }

    static let distinctWords = """
        name: "distinct-words"
        config:
          topology.workers: 2
        linearDRPC:
          function: "distinct"
          bolts:
            - className: "org.apache.storm.flux.wrappers.bolts.FluxShellBolt"
              constructorArgs: [["python3", "split.py"], ["request", "word"]]
              parallelism: 3
            - className: "storm.swift.drpc.DistinctPerRequest"
              parallelism: 2
              grouping: {type: FIELDS, args: ["request", "word"]}
            - id: "count"
              className: "storm.swift.drpc.CountPerRequest"
              grouping: {type: FIELDS, args: ["request"]}
        """

    /// Flux has no linear DRPC form; ours is a section listing the chain, and makes Storm's topology of it.
    @Test func aLinearDRPCSectionMakesStormsTopology() throws {
        let flux = try FluxTopology.parse(Self.distinctWords, source: "drpc.yaml")
        #expect(flux.conf["topology.workers"] == 2)
        #expect(Set(flux.topology.bolts.keys) == ["prepare-request", "bolt0", "bolt1", "count", "bolt3", "bolt4"])
        #expect(
            flux.topology.spouts["spout"]?.spoutObject
                == .javaObject(JavaObject(fullClassName: DRPCSpout.className, argsList: [.stringArg("distinct")])))
        #expect(
            flux.topology.bolts["bolt0"]?.boltObject
                == .shell(ShellComponent(executionCommand: "python3", script: "split.py")))
        #expect(
            flux.topology.bolts["count"]?.common.inputs[GlobalStreamId(componentId: "bolt1", streamId: "default")]
                == .fields(["request"]))
        #expect(
            try CoordinationSpec.of(jsonConf: flux.topology.bolts["count"]?.common.jsonConf)?.sources == ["bolt1": .all]
        )
        #expect(
            flux.outline.details(name: "distinct-words")[2...13] == [
                "--------------- SPOUTS ---------------",
                "spout [1] (org.apache.storm.drpc.DRPCSpout)",
                "---------------- BOLTS ---------------",
                "prepare-request [1] (org.apache.storm.drpc.PrepareRequest)",
                "bolt0 [3] (org.apache.storm.flux.wrappers.bolts.FluxShellBolt)",
                "bolt1 [2] (storm.swift.drpc.DistinctPerRequest)",
                "count [1] (storm.swift.drpc.CountPerRequest)",
                "bolt3 [1] (org.apache.storm.drpc.JoinResult)",
                "bolt4 [1] (org.apache.storm.drpc.ReturnResults)",
                "--------------- STREAMS ---------------",
                "spout --NONE--> prepare-request",
                "prepare-request --NONE--> bolt0",
            ])
    }

    @Test func aLinearDRPCSectionSaysWhatIsWrongAndWhere() {
        #expect(
            failure(Self.distinctWords + "\nspouts:\n  - {id: s, className: org.apache.storm.testing.TestWordSpout}\n")
                == "t.yaml:5: linearDRPC makes the whole topology: a file with it defines no spouts, bolts or streams")
        let ungrouped = Self.distinctWords.replacingOccurrences(
            of: "      grouping: {type: FIELDS, args: [\"request\", \"word\"]}\n", with: "")
        #expect(
            failure(ungrouped)
                == "t.yaml:5: linear DRPC topology 'distinct': bolt 'bolt1' says not how it reads 'bolt0' (a shuffle, fields, global, ... grouping)"
        )
        let badField = Self.distinctWords.replacingOccurrences(of: "args: [\"request\"]", with: "args: [\"req\"]")
        #expect(
            failure(badField)
                == #"t.yaml:15: field 'req' is not among the fields of bolt1:default ["request", "value"]"#)
        let extra = Self.distinctWords.replacingOccurrences(of: "  function:", with: "  functions: x\n  function:")
        #expect(failure(extra) == "t.yaml:5: linearDRPC takes function and bolts, not 'functions'")
        let threeFields = Self.distinctWords.replacingOccurrences(
            of: "storm.swift.drpc.CountPerRequest", with: "org.apache.storm.perf.bolt.DevNullBolt")
        #expect(failure(threeFields)?.contains("its last bolt 'count' must declare exactly one stream") == true)
    }
}
