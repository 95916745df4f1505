import ClusterState
import Foundation
import Locking
import StormCore
import StormThrift
import Testing

@testable import Nimbus

/// Nimbuses sharing one cluster state: a new leader schedules what it has records for, whatever its disk holds.
@Suite struct HighAvailabilityTests {
    func addSupervisor(_ state: StormClusterState, _ id: String, ports: [Int64]) async throws {
        let info = SupervisorInfo(
            timeSecs: Int64(Date().timeIntervalSince1970), hostname: "host-\(id)", assignmentId: id, meta: ports)
        try await state.storage.put(state.supervisorsPath + "/" + id, data: ThriftSerialization.serialize(info))
    }

    func nodes(_ state: StormClusterState, _ id: String) async throws -> [String: Set<Int64>] {
        guard let assignment = try await state.assignment(id) else { return [:] }
        var out: [String: Set<Int64>] = [:]
        for node in assignment.executorNodePort!.values { out[node.node, default: []].formUnion(node.port) }
        return out
    }

    func handBack(_ f: NimbusFixture, _ key: String, _ bytes: [UInt8]) async throws {
        try await f.client { c in
            let session = try c.beginUpdateBlob(key: key)
            try c.uploadBlobChunk(session: session, chunk: bytes)
            try c.finishBlobUpload(session: session)
        }
    }

    /// The issue's scenario in one process: the leader dies before the follower copied the topology's files,
    /// then a supervisor dies with no free slot anywhere.
    @Test func aNewLeaderWithoutTheFilesSchedulesFromTheClusterState() async throws {
        let store = InMemoryStore()
        let first = try await NimbusFixture(store: store)
        let second = try await NimbusFixture([ConfigKey.supervisorHeartbeatFrequencySecs: 1], store: store)
        try await addSupervisor(first.state, "s1", ports: [6700, 6701])
        try await addSupervisor(first.state, "s2", ports: [6710, 6711])
        let archive = Array("resources of ha".utf8)
        try await first.submit("ha", conf: #"{"topology.workers": 4}"#, location: try await first.upload(archive))
        let id = try await first.client { try $0.getTopologySummaryByName(name: "ha") }.id
        #expect(!second.nimbus.code.has(id))
        await first.die()
        await second.nimbus.monitor()
        #expect(try await nodes(second.state, id) == ["s1": [6700, 6701], "s2": [6710, 6711]])
        #expect(try await second.client { try $0.getUserTopology(id: id) } == NimbusFixture.wordCount())
        let conf = try JSON.decodeObject(try await second.client { try $0.getTopologyConf(id: id) })
        #expect(conf["topology.workers"] == 4)
        // No nimbus holds the archive now: its replication count says so.
        #expect(try await second.client { try $0.getTopologyInfo(id: id) }.replicationCount == 0)
        #expect(await second.nimbus.troubles[id + "/files"]?.contains("no other nimbus holds its archive") == true)

        // s2 dies; every slot left is taken by this topology: its executors join the live ones.
        try await second.state.storage.delete(second.state.supervisorsPath + "/s2", version: nil)
        await second.nimbus.monitor()
        try await Task.sleep(for: .milliseconds(1200))  // checks an absence: s2 did not register again in its period
        await second.nimbus.monitor()
        #expect(try await nodes(second.state, id) == ["s1": [6700, 6701]])
        let summary = try await second.client { try $0.getTopologySummary(id: id) }
        #expect(summary.schedStatus == "Running with fewer workers than requested: 2 of 4 (not enough free slots)")

        // A supervisor hands the archive back; the new leader holds every file again.
        try await handBack(second, "\(id)-stormjar.jar", archive)
        let dir = second.localDir.appendingPathComponent("nimbus/stormdist/\(id)")
        #expect(try Data(contentsOf: dir.appendingPathComponent("stormjar.jar")) == Data(archive))
        #expect(try await second.client { try $0.getTopologyInfo(id: id) }.replicationCount == 1)
        #expect(try await second.client { try $0.getBlobReplication(key: "\(id)-stormjar.jar") } == 1)
        // An archive it holds cannot be replaced, and only live topologies' keys exist.
        await #expect(throws: AuthorizationException.self) { try await handBack(second, "\(id)-stormjar.jar", [1, 2]) }
        await #expect(throws: KeyNotFoundException.self) { try await handBack(second, "gone-1-1-stormjar.jar", [1]) }
        #expect(try Data(contentsOf: dir.appendingPathComponent("stormjar.jar")) == Data(archive))

        // s2 comes back: the topology spreads out to the four workers it asked for.
        try await addSupervisor(second.state, "s2", ports: [6710, 6711])
        await second.nimbus.monitor()
        #expect(try await nodes(second.state, id) == ["s1": [6700, 6701], "s2": [6710, 6711]])
    }

    @Test func oneTopologysTroubleDoesNotStopTheOthers() async throws {
        let f = try await NimbusFixture()
        try await f.submit("a-broken")
        try await f.submit("b-fine")
        let broken = try await f.client { try $0.getTopologySummaryByName(name: "a-broken") }.id
        let fine = try await f.client { try $0.getTopologySummaryByName(name: "b-fine") }.id
        // The broken one's structure record is garbage, this nimbus has not read it yet, and it has no copy of the
        // topology's files to read instead (a nimbus that has rewrites the record).
        try await f.state.storage.put(f.state.stormCodePath + "/" + broken, data: [0xFF, 0x00, 0x13])
        await f.nimbus.forgetPlans()
        f.nimbus.code.remove(broken)
        try await addSupervisor(f.state, "s1", ports: [6700, 6701])
        for _ in 0..<3 { await f.nimbus.monitor() }
        #expect(try await nodes(f.state, fine) == ["s1": [6700]])
        #expect(try await f.state.assignment(broken) == nil)
        let trouble = try #require(await f.nimbus.troubles[broken])
        #expect(trouble.contains("cannot schedule topology \(broken)") && trouble.contains("stormcode/\(broken)"))
        #expect(await f.nimbus.troubles[fine] == nil)
        // Queries about the others still answer.
        #expect(try await f.client { try $0.getClusterInfo() }.topologies.count == 2)
    }

    @Test func theLeaderWaitsForTheMinimumReplicationCountUpToTheMaximumWait() async throws {
        let store = InMemoryStore()
        let leader = try await NimbusFixture(store: store)
        try await addSupervisor(leader.state, "s1", ports: [6700, 6701, 6702])
        try await leader.submit("replicated", conf: #"{"topology.min.replication.count": 2}"#)
        // A maximum wait of 5 s: the checks before it must all fit in it, on a busy machine too.
        try await leader.submit(
            "impatient", conf: #"{"topology.min.replication.count": 3, "topology.max.replication.wait.time.sec": 5}"#)
        let impatientSubmitted = Date()
        let replicated = try await leader.client { try $0.getTopologySummaryByName(name: "replicated") }
        await leader.nimbus.monitor()
        #expect(try await leader.state.assignment(replicated.id) == nil)
        let waiting = try await leader.client { try $0.getTopologySummary(id: replicated.id) }
        #expect(
            waiting.schedStatus
                == "Waiting for code replication: 1 of 2 nimbuses hold the files (topology.min.replication.count)")
        #expect(waiting.replicationCount == 1)
        // A second nimbus joins and copies the files from the first: now two hold them, and the leader assigns.
        let follower = try await NimbusFixture(store: store)
        await follower.nimbus.monitor()
        #expect(follower.nimbus.code.has(replicated.id))
        #expect(try await follower.client { try $0.getTopologyInfo(id: replicated.id) }.replicationCount == 2)
        await leader.nimbus.monitor()
        #expect(try await nodes(leader.state, replicated.id).isEmpty == false)
        // Three will never hold "impatient": it is assigned once its maximum wait has passed.
        let impatient = try await leader.client { try $0.getTopologySummaryByName(name: "impatient") }.id
        #expect(try await leader.state.assignment(impatient) == nil)
        // Lets the maximum wait pass (nimbus judges by its whole-second clock).
        try await Task.sleep(for: .seconds(max(0, 6.1 - Date().timeIntervalSince(impatientSubmitted))))
        await leader.nimbus.monitor()
        #expect(try await nodes(leader.state, impatient).isEmpty == false)
    }

    @Test func recordsPastTheClusterStateCapAreRefusedAndNothingIsStored() async throws {
        let f = try await NimbusFixture()
        var topology = NimbusFixture.wordCount()
        let padding = String(repeating: "x", count: StormClusterState.maxRecordBytes + 100)
        topology.bolts["split"]!.common.jsonConf = #"{"pad": "\#(padding)"}"#
        do {
            try await f.submit("huge", topology: topology)
            Issue.record("a topology past the record cap was accepted")
        } catch let error as InvalidTopologyException {
            #expect(error.msg.hasPrefix("topology 'huge' cannot be stored: the topology structure is"))
            #expect(error.msg.contains("more than the cluster state stores in one record (1000000 bytes)"))
        }
        #expect(try await f.storedState().isEmpty)
        #expect(try await f.state.topologiesWithCode().isEmpty)
        #expect(try await f.client { try $0.getTopologySummaries() }.isEmpty)
    }

    @Test func badReplicationSettingsAreRefused() async throws {
        let f = try await NimbusFixture()
        for conf in [#"{"topology.min.replication.count": 0}"#, #"{"topology.max.replication.wait.time.sec": "soon"}"#]
        {
            await #expect(throws: InvalidTopologyException.self) { try await f.submit("bad", conf: conf) }
        }
        #expect(try await f.storedState().isEmpty)
    }
}

extension Nimbus {
    /// Forgets every cached plan, so the next round reads each topology's records again.
    func forgetPlans() { plans.removeAll() }
}
