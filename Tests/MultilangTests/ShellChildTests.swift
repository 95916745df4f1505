import Components
import Foundation
import InMemoryLogging
import Logging
import StormCore
import StormMetrics
import StormThrift
import TestSupport
import Testing
import Tuples

@testable import Multilang

/// What a shell component did with what its child said, as the runtime's collectors would see it.
final class RecordingCollector: OutputCollector, SpoutOutputCollector {
    var emitted: [[Value]] = []
    var acked: [Tuple] = []
    var failed: [Tuple] = []
    var errors: [String] = []
    var fatals: [String] = []

    func emit(_ values: TupleValues, stream: String, anchors: [Tuple]) -> [Int32] {
        emitted.append(values.array)
        return [7]
    }
    func emit(_ values: TupleValues, stream: String, messageId: Value?) -> [Int32] {
        emitted.append(values.array)
        return [7]
    }
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, anchors: [Tuple]) {
        emitted.append(values.array)
    }
    func emitDirect(task: Int32, _ values: TupleValues, stream: String, messageId: Value?) {
        emitted.append(values.array)
    }
    func ack(_ tuple: Tuple) { acked.append(tuple) }
    func fail(_ tuple: Tuple) { failed.append(tuple) }
    func reportError(_ error: any Error) { errors.append("\(error)") }
    func reportFatal(_ error: any Error) { fatals.append("\(error)") }
}

/// Real Python children speaking the protocol by hand (no adapter), so each test says exactly what the child sends.
struct Child {
    static let prelude = """
        import json, os, sys

        def read():
            lines = []
            while True:
                line = sys.stdin.readline()
                if not line:
                    sys.exit(0)
                if line == "end\\n":
                    return json.loads("".join(lines))
                lines.append(line)

        def send(message):
            sys.stdout.write(json.dumps(message) + "\\nend\\n")
            sys.stdout.flush()

        setup = read()
        open(os.path.join(setup["pidDir"], str(os.getpid())), "w").close()
        send({"pid": os.getpid()})
        context = setup["context"]

        """

    /// A bolt child: `before` runs once after the handshake, `body` for every tuple `tup` (heartbeats answered).
    static func bolt(before: String = "", body: String) -> String {
        prelude + before
            + "\nwhile True:\n    tup = read()\n    if tup[\"stream\"] == \"__heartbeat\":\n        send({\"command\": \"sync\"})\n        continue\n"
            + body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n"
    }

    /// A spout child: `onNext` runs for every `next`; every command is answered by `sync`.
    static func spout(onNext: String) -> String {
        prelude + "while True:\n    msg = read()\n    if msg[\"command\"] == \"next\":\n"
            + onNext.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n")
            + "\n    send({\"command\": \"sync\"})\n"
    }

    let environment: ShellEnvironment

    init(_ script: String) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "multilang-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try script.write(to: folder.appendingPathComponent("child.py"), atomically: true, encoding: .utf8)
        environment = ShellEnvironment(
            resourcesDirectory: folder.path, pidDirectory: folder.appendingPathComponent("pids").path)
    }

    var command: [String] { ["python3", "child.py"] }
}

@Suite struct ShellChildTests {
    let log = InMemoryLogHandler()

    var logger: Logger {
        var handler = log
        handler.logLevel = .debug
        return Logger(label: "shell-test") { _ in handler }
    }

    func bolt(
        _ script: String, context: TopologyContext = ContextTopology.context("split", task: 4)
    ) throws -> (ShellBolt, RecordingCollector) {
        let child = try Child(script)
        let bolt = ShellBolt(
            command: child.command, streams: context.thisStreams, environment: child.environment, logger: logger)
        let collector = RecordingCollector()
        try bolt.prepare(context: context, collector: collector)
        return (bolt, collector)
    }

    func tuple(_ values: TupleValues) -> Tuple {
        Tuple(
            values: values, fields: Fields(["sentence"]), sourceComponent: "sentences", sourceStream: "default",
            sourceTask: 1)
    }

    /// Pumps the bolt (as its executor does) until `done` holds, for up to 10 s.
    func pump(_ bolt: ShellBolt, until done: () -> Bool) async {
        _ = await eventually(10) {
            bolt.pump()
            return done()
        }
    }

    @Test func aChildReadsItsStreamsGroupingsAndSourceFieldsFromTheContext() async throws {
        let (bolt, collector) = try bolt(
            Child.bolt(
                body: """
                    targets = context["stream->target->grouping"]
                    sources = context["source->stream->grouping"]
                    fields = context["source->stream->fields"]
                    send({"command": "emit", "anchors": [tup["id"]], "need_task_ids": False, "tuple": [
                        ",".join(sorted(context["streams"])), targets["default"]["count"], targets["lengths"]["audit"]["fields"],
                        sources["sentences"]["other"]["type"], fields["sentences"]["other"], context["stream->outputfields"]["lengths"]]})
                    send({"command": "ack", "id": tup["id"]})
                    """))
        defer { bolt.cleanup() }
        bolt.execute(tuple(["the cow"]))
        await pump(bolt) { collector.acked.count == 1 || !collector.fatals.isEmpty }
        #expect(collector.fatals.isEmpty, "\(collector.fatals)")
        #expect(
            collector.emitted == [
                [
                    "default,lengths,tagged", .map(["type": "FIELDS", "fields": .list(["word"])]), .list([]), "FIELDS",
                    .list(["id", "text"]), .list(["word", "length"]),
                ]
            ])
    }

    @Test func aBoltIgnoresCommandsItDoesNotKnowLoggingEachNameOnce() async throws {
        let (bolt, collector) = try bolt(
            Child.bolt(
                before: """
                    send({"command": "frobnicate", "level": 9})
                    send({"command": "frobnicate"})
                    send({"command": "transmogrify"})
                    """,
                body: """
                    send({"command": "frobnicate"})
                    send({"command": "emit", "anchors": [tup["id"]], "tuple": [tup["tuple"][0].upper()], "need_task_ids": False})
                    send({"command": "ack", "id": tup["id"]})
                    """))
        defer { bolt.cleanup() }
        bolt.execute(tuple(["one"]))
        bolt.execute(tuple(["two"]))
        await pump(bolt) { collector.acked.count == 2 || !collector.fatals.isEmpty }
        #expect(collector.fatals.isEmpty, "\(collector.fatals)")
        #expect(collector.emitted == [["ONE"], ["TWO"]])
        let ignored = log.entries.filter { $0.message.description.contains("unknown command") }
        #expect(
            ignored.map(\.message.description).sorted() == [
                "ignoring the subprocess' unknown command 'frobnicate' (logged once)",
                "ignoring the subprocess' unknown command 'transmogrify' (logged once)",
            ])
        #expect(ignored.allSatisfy { $0.level == .debug })
    }

    @Test func aBoltsMetricsReachItsTaskMetricsAsStormsShellMetricsDo() async throws {
        let context = ContextTopology.context("split", task: 4)
        let (bolt, collector) = try bolt(
            Child.bolt(
                before: #"send({"command": "metrics", "name": "words", "params": {"the": 2}})"#,
                body: """
                    send({"command": "metrics", "name": "letters", "params": len(tup["tuple"][0])})
                    send({"command": "metrics", "name": "seen"})
                    send({"command": "metrics", "name": "half-letters", "params": len(tup["tuple"][0]) / 2})
                    send({"command": "metrics", "name": "__mine", "params": 1})
                    send({"command": "ack", "id": tup["id"]})
                    """), context: context)
        defer { bolt.cleanup() }
        bolt.execute(tuple(["one"]))
        bolt.execute(tuple(["three"]))
        await pump(bolt) { collector.acked.count == 2 || !collector.fatals.isEmpty }
        #expect(collector.fatals.isEmpty, "\(collector.fatals)")
        // Counts by whole numbers (CountShellMetric), counts of none by one, other numbers into a histogram.
        let text = PrometheusText.render(context.metrics.registry.families())
        #expect(text.contains("\nletters_total 8\n"), "\(text)")
        #expect(text.contains("\nseen_total 2\n"))
        #expect(text.contains("\nhalf_letters_sum 4\n") && text.contains("\nhalf_letters_count 2\n"))
        // What cannot be a metric is reported once per name, and the bolt goes on.
        #expect(collector.errors.count == 2, "\(collector.errors)")
        #expect(
            collector.errors.contains { $0.hasPrefix("metrics 'words': params must be nothing, a count of 0 or more") })
        #expect(collector.errors.contains { $0.contains("metric name '__mine' starts with '__'") })
        #expect(!text.contains("words") && !text.contains("mine"))
    }

    /// A child that stops reading and then ends: the next write fails with a broken pipe, but what the operator
    /// needs is how the child ended.
    @Test func aChildThatEndsIsReportedByItsExitStatusNotTheBrokenPipe() async throws {
        signal(SIGPIPE, SIG_IGN)  // as in a worker
        let (bolt, collector) = try bolt(
            Child.bolt(before: "import time\n", body: "os.close(0)\ntime.sleep(0.5)\nsys.exit(3)"))
        defer { bolt.cleanup() }
        bolt.execute(tuple(["one"]))
        bolt.pump()
        try await Task.sleep(for: .milliseconds(200))
        // The child has closed its stdin: this write meets a broken pipe before the child has exited.
        bolt.execute(tuple(["two"]))
        await pump(bolt) { !collector.fatals.isEmpty }
        #expect(collector.fatals.count == 1, "\(collector.fatals)")
        #expect(collector.fatals.first?.contains("exited with status 3") == true, "\(collector.fatals)")
    }

    @Test func metricsWithoutANameEndTheBoltAsStormsDo() async throws {
        let (bolt, collector) = try bolt(Child.bolt(body: #"send({"command": "metrics", "params": 1})"#))
        defer { bolt.cleanup() }
        bolt.execute(tuple(["one"]))
        await pump(bolt) { !collector.fatals.isEmpty }
        #expect(
            collector.fatals.count == 1 && collector.fatals[0].contains("metrics without a name"), "\(collector.fatals)"
        )
    }

    func spout(
        _ script: String, context: TopologyContext = ContextTopology.context("sentences", task: 1)
    ) throws -> (ShellSpout, RecordingCollector) {
        let child = try Child(script)
        let spout = ShellSpout(
            command: child.command, streams: context.thisStreams, environment: child.environment, logger: logger)
        let collector = RecordingCollector()
        try spout.open(context: context, collector: collector)
        return (spout, collector)
    }

    @Test func aSpoutsMetricsAreCountedToo() throws {
        let context = ContextTopology.context("sentences", task: 1)
        let (spout, collector) = try spout(
            Child.spout(
                onNext: """
                    send({"command": "metrics", "name": "polls", "params": 1})
                    send({"command": "emit", "tuple": ["x"], "need_task_ids": False})
                    """), context: context)
        defer { spout.close() }
        spout.nextTuple()
        spout.nextTuple()
        #expect(collector.fatals.isEmpty, "\(collector.fatals)")
        #expect(collector.emitted == [["x"], ["x"]])
        #expect(PrometheusText.render(context.metrics.registry.families()).contains("\npolls_total 2\n"))
    }

    @Test func aSpoutEndsOnACommandItDoesNotKnowAsStormsDoes() throws {
        let (spout, collector) = try spout(Child.spout(onNext: #"send({"command": "frobnicate"})"#))
        defer { spout.close() }
        spout.nextTuple()
        #expect(
            collector.fatals.count == 1 && collector.fatals[0].contains("unknown command 'frobnicate'"),
            "\(collector.fatals)")
    }
}
