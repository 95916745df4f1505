import Components
import StormCore
import StormThrift
import Testing
import Tuples

@testable import Multilang

/// A topology with several streams and every kind of grouping around one bolt, `split`.
enum ContextTopology {
    static func fields(_ names: [String], direct: Bool = false) -> StreamInfo {
        StreamInfo(outputFields: names, direct: direct)
    }
    static let shell = ComponentObject.shell(ShellComponent(executionCommand: "python3", script: "x.py"))

    static func bolt(_ inputs: [GlobalStreamId: Grouping], _ streams: [String: StreamInfo] = [:]) -> StormThrift.Bolt {
        StormThrift.Bolt(boltObject: shell, common: ComponentCommon(inputs: inputs, streams: streams))
    }

    static func id(_ component: String, _ stream: String = "default") -> GlobalStreamId {
        GlobalStreamId(componentId: component, streamId: stream)
    }

    static let topology = StormTopology(
        spouts: [
            "sentences": SpoutSpec(
                spoutObject: shell,
                common: ComponentCommon(
                    inputs: [:], streams: ["default": fields(["sentence"]), "other": fields(["id", "text"])])),
            "unrelated": SpoutSpec(
                spoutObject: shell, common: ComponentCommon(inputs: [:], streams: ["default": fields(["u"])])),
        ],
        bolts: [
            "split": bolt(
                [id("sentences"): .shuffle(NullStruct()), id("sentences", "other"): .fields(["id"])],
                [
                    "default": fields(["word"]), "lengths": fields(["word", "length"]),
                    "tagged": fields(["word"], direct: true),
                ]),
            "count": bolt([id("split"): .fields(["word"])]),
            "everyone": bolt([id("split"): .all(NullStruct()), id("unrelated"): .none(NullStruct())]),
            "audit": bolt([id("split", "lengths"): .fields([]), id("sentences"): .localOrShuffle(NullStruct())]),
            "picky": bolt([
                id("split", "lengths"): .customObject(JavaObject(fullClassName: "com.example.Picky", argsList: []))
            ]),
            "tagger": bolt([id("split", "tagged"): .direct(NullStruct())]),
        ],
        stateSpouts: [:])

    static func context(_ component: String, task: Int32) -> TopologyContext {
        TopologyContext(
            topologyId: "t-1-1", thisTaskId: task, thisComponentId: component,
            taskToComponent: [1: "sentences", 2: "unrelated", 3: "split", 4: "split", 5: "count", 6: "__acker"],
            conf: .defaults,
            topology: topology)
    }
}

@Suite struct ShellContextTests {
    @Test func theHandshakeContextHasStormsKeysAndShapes() throws {
        let json = ShellContext.json(ContextTopology.context("split", task: 4))
        let expected: Value = .map([
            "taskid": .int(4),
            "componentid": "split",
            "task->component": .map([
                "1": "sentences", "2": "unrelated", "3": "split", "4": "split", "5": "count", "6": "__acker",
            ]),
            "streams": .list(["default", "lengths", "tagged"]),
            "stream->outputfields": .map([
                "default": .list(["word"]), "lengths": .list(["word", "length"]), "tagged": .list(["word"]),
            ]),
            "stream->target->grouping": .map([
                "default": .map([
                    "count": .map(["type": "FIELDS", "fields": .list(["word"])]),
                    "everyone": .map(["type": "ALL"]),
                ]),
                "lengths": .map([
                    // A global grouping is a fields grouping on no fields, as Storm's builder makes it.
                    "audit": .map(["type": "FIELDS", "fields": .list([])]),
                    "picky": .map(["type": "CUSTOM_OBJECT"]),
                ]),
                "tagged": .map(["tagger": .map(["type": "DIRECT"])]),
            ]),
            "source->stream->grouping": .map([
                "sentences": .map([
                    "default": .map(["type": "SHUFFLE"]),
                    "other": .map(["type": "FIELDS", "fields": .list(["id"])]),
                ])
            ]),
            "source->stream->fields": .map([
                "sentences": .map(["default": .list(["sentence"]), "other": .list(["id", "text"])])
            ]),
        ])
        #expect(json == expected)
    }

    @Test func sourcesListEveryStreamOfASourceAndOtherGroupingsAreNamedAsStormsEnum() {
        // `everyone` subscribes to split's default stream only, yet sees all three of split's streams' fields.
        guard case .map(let everyone) = ShellContext.json(ContextTopology.context("everyone", task: 5)) else {
            Issue.record("not a map")
            return
        }
        #expect(
            everyone["source->stream->fields"]
                == .map([
                    "split": .map([
                        "default": .list(["word"]), "lengths": .list(["word", "length"]), "tagged": .list(["word"]),
                    ]),
                    "unrelated": .map(["default": .list(["u"])]),
                ]))
        #expect(
            everyone["source->stream->grouping"]
                == .map([
                    "split": .map(["default": .map(["type": "ALL"])]),
                    "unrelated": .map(["default": .map(["type": "NONE"])]),
                ]))
        #expect(everyone["streams"] == .list([]) && everyone["stream->target->grouping"] == .map([:]))
        guard case .map(let audit) = ShellContext.json(ContextTopology.context("audit", task: 6)) else { return }
        #expect(
            audit["source->stream->grouping"]
                == .map([
                    "split": .map(["lengths": .map(["type": "FIELDS", "fields": .list([])])]),
                    "sentences": .map(["default": .map(["type": "LOCAL_OR_SHUFFLE"])]),
                ]))
        #expect(ShellContext.grouping(.customSerialized([1, 2])) == .map(["type": "CUSTOM_SERIALIZED"]))
    }
}
