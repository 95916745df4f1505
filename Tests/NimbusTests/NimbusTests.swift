import ClusterState
import Foundation
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing

@testable import Nimbus

@Suite struct SubmitAndControlTests {
    @Test func submittedTopologyIsListedWithItsConfAndCode() async throws {
        let f = try await NimbusFixture()
        let before = Int(Date().timeIntervalSince1970)
        try await f.submit("wordcount", conf: #"{"topology.workers": 2, "my.key": "v"}"#)
        let summaries = try await f.client { try $0.getTopologySummaries() }
        let s = try #require(summaries.first)
        #expect(summaries.count == 1)
        #expect(s.name == "wordcount")
        #expect(s.status == "ACTIVE")
        let parts = s.id.split(separator: "-")
        #expect(parts.count == 3 && parts[0] == "wordcount" && parts[1] == "1")
        #expect(Int(parts[2])! >= before)
        // 1 spout + 4 split + 2 count + one acker per worker (2)
        #expect(s.numExecutors == 9)
        #expect(s.numTasks == 9)
        let conf = try JSON.decodeObject(try await f.client { try $0.getTopologyConf(id: s.id) })
        #expect(conf["storm.id"] == .string(s.id))
        #expect(conf["topology.name"] == "wordcount")
        #expect(conf["my.key"] == "v")
        #expect(conf["topology.workers"] == 2)
        #expect(try await f.client { try $0.getUserTopology(id: s.id) } == NimbusFixture.wordCount())
        let system = try await f.client { try $0.getTopology(id: s.id) }
        #expect(system.bolts["__acker"]?.common.parallelismHint == 2)
        let info = try await f.client { try $0.getTopologyInfoByName(name: "wordcount") }
        #expect(info.id == s.id && info.status == "ACTIVE" && info.errors.isEmpty)
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "wordcount") }.id == s.id)
        #expect(try await f.client { try $0.getTopologySummary(id: s.id) }.name == "wordcount")
        let dir = f.localDir.appendingPathComponent("nimbus/stormdist/\(s.id)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("stormjar.jar")) == Data("archive".utf8))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("stormcode.ser").path))
    }

    @Test func idsCountUpAndInactiveSubmitStaysInactive() async throws {
        let f = try await NimbusFixture()
        try await f.submit("one")
        try await f.submit("two", status: .inactive)
        let byName = Dictionary(
            uniqueKeysWithValues: try await f.client { try $0.getTopologySummaries() }.map { ($0.name, $0) })
        #expect(byName["one"]?.id.hasPrefix("one-1-") == true)
        #expect(byName["two"]?.id.hasPrefix("two-2-") == true)
        #expect(byName["two"]?.status == "INACTIVE")
    }

    @Test func deactivateAndActivate() async throws {
        let f = try await NimbusFixture()
        try await f.submit("t")
        try await f.client { try $0.deactivate(name: "t") }
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "t") }.status == "INACTIVE")
        try await f.client { try $0.activate(name: "t") }
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "t") }.status == "ACTIVE")
        await #expect(throws: NotAliveException(msg: "topology 'nope' is not alive")) {
            try await f.client { try $0.activate(name: "nope") }
        }
        await #expect(throws: NotAliveException(msg: "topology 'nope' is not alive")) {
            try await f.client { try $0.deactivate(name: "nope") }
        }
    }

    @Test func killWithWaitIsKilledThenGone() async throws {
        let f = try await NimbusFixture()
        try await f.submit("doomed")
        let id = try await f.client { try $0.getTopologySummaryByName(name: "doomed") }.id
        // Long enough a wait for the checks of the killed state to finish first, even on a loaded machine (3 s was
        // not, once, with every suite starting at once on two cores).
        try await f.client { try $0.killTopologyWithOpts(name: "doomed", options: KillOptions(waitSecs: 8)) }
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "doomed") }.status == "KILLED")
        #expect(try await !f.client { try $0.isTopologyNameAllowed(name: "doomed") })
        await #expect(throws: AlreadyAliveException.self) { try await f.submit("doomed") }
        await #expect(throws: NotAliveException.self) { try await f.client { try $0.activate(name: "doomed") } }
        #expect(try await eventually(30) { try await f.client { try $0.getTopologySummaries() }.isEmpty })
        #expect(try await f.client { try $0.isTopologyNameAllowed(name: "doomed") })
        #expect(
            !FileManager.default.fileExists(atPath: f.localDir.appendingPathComponent("nimbus/stormdist/\(id)").path))
        await #expect(throws: NotAliveException.self) { try await f.client { try $0.getTopologyInfo(id: id) } }
        await #expect(throws: NotAliveException.self) { try await f.client { try $0.killTopology(name: "doomed") } }
        try await f.submit("doomed")
    }

    @Test func rebalanceIsValidatedThenAppliedAfterTheWait() async throws {
        let f = try await NimbusFixture()
        try await f.submit("r", status: .inactive)
        let invalid: [(RebalanceOptions, String)] = [
            (RebalanceOptions(numWorkers: 0), "number of workers must be greater than 0, got 0"),
            (
                RebalanceOptions(numExecutors: ["nope": 2]),
                "invalid component 'nope' for topology 'r'; valid values are count,sentences,split"
            ),
            (
                RebalanceOptions(numExecutors: ["split": 0]),
                "number of executors for 'split' must be greater than 0, got 0"
            ),
            (RebalanceOptions(waitSecs: -1), "rebalance wait must not be negative, got -1"),
            (RebalanceOptions(topologyConfOverrides: "[]"), "topology_conf_overrides is not a JSON object"),
        ]
        for (options, message) in invalid {
            await #expect(throws: InvalidTopologyException(msg: message)) {
                try await f.client { try $0.rebalance(name: "r", options: options) }
            }
        }
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "r") }.status == "INACTIVE")
        try await f.client {
            // A wait of 3 s: the second call below must land inside it, with every other test running beside this one.
            try $0.rebalance(
                name: "r", options: RebalanceOptions(waitSecs: 3, numWorkers: 3, numExecutors: ["split": 2]))
        }
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "r") }.status == "REBALANCING")
        await #expect(throws: InvalidTopologyException(msg: "topology 'r' is already rebalancing")) {
            try await f.client { try $0.rebalance(name: "r", options: RebalanceOptions()) }
        }
        #expect(
            try await eventually {
                try await f.client { try $0.getTopologySummaryByName(name: "r") }.status == "INACTIVE"
            })
        let id = try await f.client { try $0.getTopologySummaryByName(name: "r") }.id
        let base = try #require(try await f.state.stormBase(id))
        #expect(base.numWorkers == 3)
        #expect(base.componentExecutors?["split"] == 2)
        #expect(try JSON.decodeObject(try await f.client { try $0.getTopologyConf(id: id) })["topology.workers"] == 3)
        await #expect(throws: NotAliveException.self) {
            try await f.client { try $0.rebalance(name: "ghost", options: RebalanceOptions()) }
        }
    }

    @Test func clusterInfoLeaderAndNimbusConf() async throws {
        let f = try await NimbusFixture()
        try await f.submit("a")
        let info = try await f.client { try $0.getClusterInfo() }
        #expect(info.topologies.map(\.name) == ["a"])
        #expect(info.nimbuses.count == 1 && info.nimbuses[0].isLeader)
        #expect(info.supervisors.isEmpty)
        let leader = try await f.client { try $0.getLeader() }
        #expect(leader.isLeader && leader.version == Nimbus.version)
        let conf = try JSON.decodeObject(try await f.client { try $0.getNimbusConf() })
        #expect(conf["nimbus.thrift.port"] == 0 || conf["nimbus.thrift.port"] == 6627)
        #expect(conf["storm.local.dir"] == .string(f.localDir.path))
    }

    @Test func errorsShowInTopologyInfo() async throws {
        let f = try await NimbusFixture()
        try await f.submit("e")
        let id = try await f.client { try $0.getTopologySummaryByName(name: "e") }.id
        try await f.state.reportError(id, component: "split", ErrorInfo(error: "first", errorTimeSecs: 1))
        try await f.state.reportError(id, component: "split", ErrorInfo(error: "second", errorTimeSecs: 2))
        let all = try await f.client { try $0.getTopologyInfo(id: id) }
        #expect(all.errors["split"]?.map(\.error) == ["first", "second"])
        let one = try await f.client {
            try $0.getTopologyInfoWithOpts(id: id, options: GetInfoOptions(numErrChoice: .one))
        }
        #expect(one.errors["split"]?.map(\.error) == ["second"])
        let none = try await f.client {
            try $0.getTopologyInfoWithOpts(id: id, options: GetInfoOptions(numErrChoice: NumErrorsChoice.none))
        }
        #expect(none.errors.isEmpty)
    }

    @Test func unimplementedMethodsNameThemselves() async throws {
        let f = try await NimbusFixture()
        let calls: [@Sendable (NimbusClient) throws -> Void] = [
            { (c: NimbusClient) in _ = try c.listBlobs(session: "") },
            { (c: NimbusClient) in
                _ = try c.getComponentPendingProfileActions(id: "x", componentId: "y", action: .jstackDump)
            },
        ]
        for call in calls {
            do {
                try await f.client { try call($0) }
                Issue.record("an unsupported method succeeded")
            } catch let error as ThriftApplicationException {
                #expect(error.kind == .unknownMethod)
                #expect(error.message.contains("is not supported"))
            }
        }
    }
}

@Suite struct BadInputTests {
    @Test func invalidTopologiesChangeNothing() async throws {
        let f = try await NimbusFixture()
        try await f.submit("keeper")
        let before = try await f.storedState()
        let location = try await f.upload()
        var badObject = NimbusFixture.wordCount()
        badObject.spouts["sentences"]!.spoutObject = .serializedJava([1, 2, 3])
        var badInput = NimbusFixture.wordCount()
        badInput.bolts["count"]!.common.inputs = [
            GlobalStreamId(componentId: "nobody", streamId: "default"): .shuffle(NullStruct())
        ]
        var unknownClass = NimbusFixture.wordCount()
        unknownClass.bolts["count"]!.boltObject = .javaObject(
            JavaObject(fullClassName: "com.acme.Counter", argsList: []))
        var spoutAsBolt = NimbusFixture.wordCount()
        spoutAsBolt.bolts["count"]!.boltObject = .javaObject(
            JavaObject(fullClassName: "org.apache.storm.testing.TestWordSpout", argsList: []))
        var badArgs = NimbusFixture.wordCount()
        badArgs.spouts["sentences"]!.spoutObject = .javaObject(
            JavaObject(fullClassName: "storm.swift.SentenceSpout", argsList: [.stringArg("many")]))
        var badFields = NimbusFixture.wordCount()
        badFields.bolts["count"]!.common.inputs = [
            GlobalStreamId(componentId: "split", streamId: "default"): .fields(["nope"])
        ]
        let cases: [(String, StormTopology, String, String)] = [
            ("", NimbusFixture.wordCount(), "{}", "topology name is empty"),
            ("a/b", NimbusFixture.wordCount(), "{}", "names must not contain"),
            ("a.b", NimbusFixture.wordCount(), "{}", "names must not contain"),
            ("a:b", NimbusFixture.wordCount(), "{}", "names must not contain"),
            ("a\\b", NimbusFixture.wordCount(), "{}", "names must not contain"),
            ("a\nb", NimbusFixture.wordCount(), "{}", "control character"),
            (String(repeating: "x", count: 300), NimbusFixture.wordCount(), "{}", "at most 200 are allowed"),
            ("ok", NimbusFixture.wordCount(), "{oops", "topology conf (jsonConf) is not valid JSON"),
            ("ok", NimbusFixture.wordCount(), "[1]", "topology conf (jsonConf) is not a JSON object"),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.workers": 0}"#,
                "'topology.workers' must be a positive integer"
            ),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.workers": "many"}"#,
                "'topology.workers' must be a positive integer"
            ),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.max.spout.pending": 0}"#,
                "'topology.max.spout.pending' must be a positive integer"
            ),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.message.timeout.secs": 0}"#,
                "'topology.message.timeout.secs' must be a positive integer"
            ),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.enable.message.timeouts": "sometimes"}"#,
                "'topology.enable.message.timeouts' must be true or false, not \"sometimes\""
            ),
            (
                "ok", NimbusFixture.wordCount(), #"{"topology.executor.chaining": 1}"#,
                "'topology.executor.chaining' must be true or false, not 1"
            ),
            ("ok", badObject, "{}", "component 'sentences' is a serialized Java object"),
            ("ok", badInput, "{}", "bolt 'count' subscribes to unknown component 'nobody'"),
            ("ok", badFields, "{}", "by field 'nope'"),
            (
                "ok", unknownClass, "{}",
                "component 'count' names class com.acme.Counter, which this cluster does not have"
            ),
            (
                "ok", spoutAsBolt, "{}",
                "component 'count' is a bolt but org.apache.storm.testing.TestWordSpout is a spout"
            ),
            (
                "ok", badArgs, "{}",
                "component 'sentences' (storm.swift.SentenceSpout) cannot be made from its arguments: storm.swift.SentenceSpout takes one optional argument, a number of sentences"
            ),
        ]
        for (name, topology, conf, message) in cases {
            do {
                try await f.submit(name, topology: topology, conf: conf, location: location)
                Issue.record("submit of '\(name)' with \(conf) succeeded")
            } catch let error as InvalidTopologyException {
                #expect(error.msg.contains(message), "\(error.msg) does not say \(message)")
            }
            #expect(try await f.storedState() == before)
        }
        await #expect(throws: AlreadyAliveException(msg: "topology 'keeper' is already alive")) {
            try await f.submit("keeper", location: location)
        }
        #expect(try await f.storedState() == before)
        // The upload survived every refusal and still serves a valid submit.
        try await f.submit("fine", location: location)
        #expect(try await f.storedState().count == before.count + 2)
    }

    /// Submits run one at a time, so of several with one name sent at once, one is accepted and the others are
    /// told the name is taken.
    @Test func submitsOfOneNameAtOnceAcceptOne() async throws {
        let f = try await NimbusFixture()
        let location = try await f.upload()
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        try await f.submit("twin", location: location)
                        return true
                    } catch is AlreadyAliveException {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 1)
        #expect(try await f.state.activeStorms().count == 1)
        #expect(try await f.storedState().filter { $0.hasPrefix("dir:") }.count == 1)
    }

    @Test func uploadLocationsMustBeIssuedAndFinished() async throws {
        let f = try await NimbusFixture()
        let before = try await f.storedState()
        for location in [
            "", "/etc/passwd", f.localDir.appendingPathComponent("nimbus/inbox/stormjar-made-up.jar").path,
        ] {
            await #expect(throws: InvalidTopologyException.self) { try await f.submit("t", location: location) }
        }
        let unfinished = try await f.upload(finish: false)
        do {
            try await f.submit("t", location: unfinished)
            Issue.record("an unfinished upload was accepted")
        } catch let error as InvalidTopologyException {
            #expect(error.msg.contains("was not finished"))
        }
        #expect(try await f.storedState() == before)
    }

    /// As in Storm, an upload stays in the inbox after a submit reads it: one upload serves several submits until
    /// `nimbus.inbox.jar.expiration.secs` after it finished.
    @Test func oneUploadServesSeveralSubmitsUntilItExpires() async throws {
        let f = try await NimbusFixture([
            // An inbox expiration far past the test's own length, however slow the machine (one run took 64 s).
            ConfigKey.nimbusInboxJarExpirationSecs: 1000, ConfigKey.nimbusFileCopyExpirationSecs: 1,
        ])
        let archive = Array("shared archive".utf8)
        let location = try await f.upload(archive)
        try await f.submit("first", location: location)
        try await f.submit("second", location: location)
        for name in ["first", "second"] {
            let id = try await f.client { try $0.getTopologySummaryByName(name: name) }.id
            let stored = f.localDir.appendingPathComponent("nimbus/stormdist/\(id)/stormjar.jar")
            #expect(try Data(contentsOf: stored) == Data(archive))
        }
        // Past the copy expiration, within the inbox one: still there.
        #expect(f.nimbus.transfers.expire(now: Date().addingTimeInterval(50)) == 0)
        try await f.submit("third", location: location)
        // Past the inbox expiration: gone, and a submit naming it says so.
        #expect(f.nimbus.transfers.expire(now: Date().addingTimeInterval(1500)) == 1)
        #expect(!FileManager.default.fileExists(atPath: location))
        do {
            try await f.submit("fourth", location: location)
            Issue.record("an expired upload was accepted")
        } catch let error as InvalidTopologyException {
            #expect(error.msg.contains("was never issued by this nimbus (or has expired)"))
        }
        // Finishing an upload twice leaves it as it was.
        let again = try await f.upload(archive)
        try await f.client { try $0.finishFileUpload(location: again) }
        try await f.submit("fifth", location: again)
    }

    @Test func chunksCannotBeWrittenOutsideTheInbox() async throws {
        let f = try await NimbusFixture()
        let outside = f.localDir.appendingPathComponent("escaped").path
        for location in ["../escaped", outside, f.localDir.appendingPathComponent("nimbus/inbox/../../escaped").path] {
            do {
                try await f.client { try $0.uploadChunk(location: location, chunk: [1, 2, 3]) }
                Issue.record("a chunk to \(location) was accepted")
            } catch let error as ThriftApplicationException {
                #expect(error.message.contains("was not issued by this nimbus"))
            }
        }
        #expect(!FileManager.default.fileExists(atPath: outside))
    }

    @Test func uploadSizeCapNamesItsKey() async throws {
        let f = try await NimbusFixture([ConfigKey.nimbusUploadMaxBytes: 1000])
        let location = try await f.client { try $0.beginFileUpload() }
        try await f.client { try $0.uploadChunk(location: location, chunk: [UInt8](repeating: 1, count: 600)) }
        do {
            try await f.client { try $0.uploadChunk(location: location, chunk: [UInt8](repeating: 1, count: 600)) }
            Issue.record("an upload over the cap was accepted")
        } catch let error as ThriftApplicationException {
            #expect(error.message.contains("nimbus.file.upload.max.bytes"))
        }
        #expect(!FileManager.default.fileExists(atPath: location))
    }

    @Test func abandonedUploadsAreDeleted() async throws {
        let f = try await NimbusFixture([ConfigKey.nimbusFileCopyExpirationSecs: 1])
        let location = try await f.upload(finish: false)
        #expect(FileManager.default.fileExists(atPath: location))
        #expect(f.nimbus.transfers.expire(now: Date().addingTimeInterval(5)) == 1)
        #expect(!FileManager.default.fileExists(atPath: location))
        await #expect(throws: ThriftApplicationException.self) {
            try await f.client { try $0.uploadChunk(location: location, chunk: [1]) }
        }
    }

    @Test func downloadsServeOnlyTopologyFiles() async throws {
        let f = try await NimbusFixture()
        let archive = (0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await f.submit("d", location: try await f.upload(archive))
        let id = try await f.client { try $0.getTopologySummaryByName(name: "d") }.id
        let downloaded = try await f.client { c -> [UInt8] in
            let session = try c.beginFileDownload(file: id)
            var out: [UInt8] = []
            while true {
                let chunk = try c.downloadChunk(id: session)
                if chunk.isEmpty { break }
                out += chunk
            }
            return out
        }
        #expect(downloaded == archive)
        let codePath = f.localDir.appendingPathComponent("nimbus/stormdist/\(id)/stormcode.ser").path
        #expect(try await f.client { try $0.beginFileDownload(file: codePath) }.isEmpty == false)
        for file in [
            "/etc/passwd", "../../etc/passwd",
            f.localDir.appendingPathComponent("nimbus/stormdist/\(id)/../../../x").path, "nope-1-1",
        ] {
            await #expect(throws: ThriftApplicationException.self) {
                try await f.client { try $0.beginFileDownload(file: file) }
            }
        }
    }

    @Test func missingStructArgumentIsAProtocolError() async throws {
        let f = try await NimbusFixture()
        // submitTopology without its topology argument.
        let port = f.server.port
        let error: ThriftApplicationException? = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        let client = try ThriftClient(host: "127.0.0.1", port: port)
                        do {
                            _ = try client.call(
                                "submitTopology",
                                Nimbus_submitTopology_args(name: "x", uploadedJarLocation: "", jsonConf: "{}"),
                                as: Nimbus_submitTopology_result.self)
                            return nil
                        } catch let e as ThriftApplicationException {
                            return e
                        }
                    })
            }
        }
        #expect(error?.kind == .protocolError)
        #expect(error?.message.contains("topology") == true)
        #expect(try await f.storedState().isEmpty)
    }
}

@Suite struct CleanUpTests {
    @Test func filesOfForgottenTopologiesAreDeleted() async throws {
        let f = try await NimbusFixture()
        try await f.submit("kept")
        try await f.submit("forgotten")
        let forgotten = try await f.client { try $0.getTopologySummaryByName(name: "forgotten") }.id
        // As if nimbus died after removing the topology from the cluster state but before deleting its files.
        try await f.state.removeStorm(forgotten)
        let kept = try await f.client { try $0.getTopologySummaryByName(name: "kept") }.id
        await f.nimbus.monitor()
        #expect(f.nimbus.code.storedIds() == [kept])
    }
}

@Suite struct FailureDetectionTests {
    /// Registers a supervisor in the cluster state as a running one would.
    func addSupervisor(_ f: NimbusFixture, _ id: String, ports: [Int64], age: Int64 = 0) async throws {
        let info = SupervisorInfo(
            timeSecs: Int64(Date().timeIntervalSince1970) - age, hostname: "host-\(id)", assignmentId: id, meta: ports)
        try await f.state.storage.put(f.state.supervisorsPath + "/" + id, data: ThriftSerialization.serialize(info))
    }

    func slots(_ f: NimbusFixture, _ id: String) async throws -> [String: Set<Int64>] {
        let assignment = try #require(try await f.state.assignment(id))
        var out: [String: Set<Int64>] = [:]
        for node in assignment.executorNodePort!.values { out[node.node, default: []].formUnion(node.port) }
        return out
    }

    @Test func workersThatStopHeartbeatingLoseTheirExecutors() async throws {
        let f = try await NimbusFixture([ConfigKey.nimbusTaskLaunchSecs: 0, ConfigKey.nimbusTaskTimeoutSecs: 30])
        try await addSupervisor(f, "a", ports: [6700, 6701])
        try await addSupervisor(f, "b", ports: [6710, 6711])
        try await f.submit("beating", conf: #"{"topology.workers": 2}"#)
        let id = try await f.client { try $0.getTopologySummaryByName(name: "beating") }.id
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["a": [6700], "b": [6710]])
        let before = try #require(try await f.state.assignment(id))
        // Slot a:6700 heartbeats; b:6710 never does, and its launch grace (0 s) is over.
        try await Task.sleep(for: .milliseconds(1100))  // lets the grace pass: nimbus judges by its clock, no event
        let beat = ClusterWorkerHeartbeat(
            stormId: id, executorStats: [:], timeSecs: Int64(Date().timeIntervalSince1970), uptimeSecs: 1)
        try await f.state.setWorkerHeartbeat(id, node: "a", port: 6700, beat)
        await f.nimbus.monitor()
        let after = try #require(try await f.state.assignment(id))
        // b:6710's executors move to a free slot; a:6700's stay where they are.
        let moved = try await slots(f, id)
        #expect(moved == ["a": [6700], "b": [6711]] || moved == ["a": [6700, 6701]])
        for (executor, node) in before.executorNodePort! where node.node == "a" {
            #expect(after.executorNodePort![executor] == node, "an executor on the heartbeating slot moved")
            #expect(after.executorStartTimeSecs![executor] == before.executorStartTimeSecs![executor])
        }
    }

    /// A restarting supervisor deletes the node its previous run left and creates it again: in between, nimbus
    /// must not move its work. Gone for longer than a heartbeat period, it is dead.
    @Test func aSupervisorReRegisteringKeepsItsWorkAndOneThatStaysGoneLosesIt() async throws {
        let f = try await NimbusFixture([ConfigKey.supervisorHeartbeatFrequencySecs: 1])
        try await addSupervisor(f, "a", ports: [6700])
        try await addSupervisor(f, "b", ports: [6710])
        try await f.submit("t", conf: #"{"topology.workers": 2}"#)
        let id = try await f.client { try $0.getTopologySummaryByName(name: "t") }.id
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["a": [6700], "b": [6710]])
        // b's node is gone for a moment, as while it re-registers: nothing moves.
        try await f.state.storage.delete(f.state.supervisorsPath + "/b", version: nil)
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["a": [6700], "b": [6710]])
        try await addSupervisor(f, "b", ports: [6710])
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["a": [6700], "b": [6710]])
        // Gone for longer than its heartbeat period: its executors join a's slot.
        try await f.state.storage.delete(f.state.supervisorsPath + "/b", version: nil)
        await f.nimbus.monitor()
        try await Task.sleep(for: .milliseconds(1200))  // lets its heartbeat period pass, by nimbus' clock: no event
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["a": [6700]])
    }

    @Test func supervisorsWhoseHeartbeatStopsAreDeadUntilItResumes() async throws {
        let f = try await NimbusFixture([ConfigKey.nimbusSupervisorTimeoutSecs: 1])
        try await addSupervisor(f, "steady", ports: [6700, 6701])
        try await addSupervisor(f, "silent", ports: [6710, 6711], age: 1)
        try await f.submit("t", conf: #"{"topology.workers": 4}"#)
        let id = try await f.client { try $0.getTopologySummaryByName(name: "t") }.id
        await f.nimbus.monitor()
        // First sight: both get the full timeout to prove themselves.
        #expect(try await slots(f, id) == ["steady": [6700, 6701], "silent": [6710, 6711]])
        // "steady" keeps heartbeating, "silent" does not: after the timeout, by nimbus' clock, it is dead.
        try await Task.sleep(for: .milliseconds(1200))  // lets the timeout pass: nimbus judges by its clock, no event
        try await addSupervisor(f, "steady", ports: [6700, 6701], age: -1)
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["steady": [6700, 6701]])
        let summary = try await f.client { try $0.getTopologySummaryByName(name: "t") }
        #expect(summary.numWorkers == 2)
        #expect(summary.schedStatus == "Running with fewer workers than requested: 2 of 4 (not enough free slots)")
        // "silent" heartbeats again: it gets work.
        try await addSupervisor(f, "silent", ports: [6710, 6711])
        try await addSupervisor(f, "steady", ports: [6700, 6701], age: -2)
        await f.nimbus.monitor()
        #expect(try await slots(f, id) == ["steady": [6700, 6701], "silent": [6710, 6711]])
    }

}
