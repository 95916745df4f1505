import ClusterState
import Foundation
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing

@testable import Nimbus

/// Unreadable records and records left without a topology, over the in-memory store: one bad record affects
/// what it describes alone.
@Suite struct CorruptStateTests {
    static let garbage = Array("not-a-thrift-struct".utf8)

    func addSupervisor(_ f: NimbusFixture, _ id: String, ports: [Int64]) async throws {
        let info = SupervisorInfo(
            timeSecs: Int64(Date().timeIntervalSince1970), hostname: "host-\(id)", assignmentId: id, meta: ports)
        try await f.state.storage.put(f.state.supervisorsPath + "/" + id, data: ThriftSerialization.serialize(info))
    }

    func id(_ f: NimbusFixture, _ name: String) async throws -> String {
        try await f.client { try $0.getTopologySummaryByName(name: name) }.id
    }

    func monitor(_ f: NimbusFixture) async { await f.nimbus.monitor() }

    func errors(_ f: NimbusFixture, _ id: String) async throws -> [String] {
        try await f.client { try $0.getTopologyInfo(id: id) }.errors.values.flatMap { $0.map(\.error) }
    }

    @Test func anUnreadableAssignmentIsRewrittenAndFailsNoQuery() async throws {
        let f = try await NimbusFixture()
        try await addSupervisor(f, "a", ports: [6700, 6701])
        try await f.submit("good")
        try await f.submit("bad")
        await monitor(f)
        let (good, bad) = (try await id(f, "good"), try await id(f, "bad"))
        try await f.state.storage.put(f.state.assignmentsPath + "/" + bad, data: Self.garbage)

        let info = try await f.client { try $0.getClusterInfo() }
        #expect(info.topologies.map(\.name) == ["bad", "good"])
        #expect(
            info.topologies.first { $0.id == bad }?.schedStatus?.hasPrefix(
                "record /storm/assignments/\(bad) is unreadable") == true)
        #expect(try await f.client { try $0.getTopologyInfo(id: good) }.executors.isEmpty == false)

        await monitor(f)
        #expect(try await f.state.assignment(bad) != nil)
        #expect(try await f.client { try $0.getTopologySummaryByName(name: "bad") }.schedStatus == "Fully Scheduled")
        // The error is filed in the background: wait for it to land.
        var filed: [String] = []
        _ = try await eventually(2) {
            filed = try await errors(f, bad).filter { $0.contains("record /storm/assignments/\(bad) is unreadable") }
            return !filed.isEmpty
        }
        #expect(filed.count == 1)
    }

    @Test func anUnreadableBaseKeepsItsSlotsAndHoldsUpNoOtherTopology() async throws {
        let f = try await NimbusFixture()
        try await addSupervisor(f, "a", ports: [6700, 6701])
        try await f.submit("broken")
        await monitor(f)
        let broken = try await id(f, "broken")
        let before = try await f.state.assignment(broken)
        try await f.state.storage.put(f.state.stormsPath + "/" + broken, data: Self.garbage)

        try await f.submit("other")
        await monitor(f)
        let other = try await id(f, "other")
        #expect(try await f.state.assignment(broken) == before)
        let otherSlots = Set(try #require(try await f.state.assignment(other)).executorNodePort!.values.flatMap(\.port))
        let brokenSlots = Set(before!.executorNodePort!.values.flatMap(\.port))
        #expect(otherSlots.isDisjoint(with: brokenSlots) && !otherSlots.isEmpty)
        let summary = try await f.client { try $0.getTopologySummaryByName(name: "broken") }
        #expect(summary.status == "UNKNOWN" && summary.numWorkers == 1)
        #expect(summary.schedStatus?.hasPrefix("record /storm/storms/\(broken) is unreadable") == true)
        // Killing it removes it at once; the next round removes what it left.
        try await f.client { try $0.killTopology(name: "broken") }
        await monitor(f)
        #expect(try await f.state.activeStorms() == [other])
        #expect(try await f.state.assignment(broken) == nil)
    }

    @Test func anUnreadableSupervisorCountsWithItsLastHeartbeat() async throws {
        let f = try await NimbusFixture()
        try await addSupervisor(f, "a", ports: [6700])
        try await addSupervisor(f, "b", ports: [6710])
        try await f.submit("first")
        await monitor(f)
        let first = try await id(f, "first")
        let before = try await f.state.assignment(first)
        let onA = before?.executorNodePort?.values.contains { $0.node == "a" } == true
        try await f.state.storage.put(f.state.supervisorsPath + "/" + (onA ? "a" : "b"), data: Self.garbage)
        try await f.submit("second")
        await monitor(f)
        // The first keeps its slot; the second gets the other one.
        #expect(try await f.state.assignment(first) == before)
        let second = try #require(try await f.state.assignment(try await id(f, "second")))
        #expect(second.executorNodePort!.values.allSatisfy { $0.node == (onA ? "b" : "a") })
        #expect(try await f.client { try $0.getClusterInfo() }.supervisors.map(\.supervisorId) == [onA ? "b" : "a"])
    }

    @Test func unreadableHeartbeatsErrorsCodeAndNimbusRecordsFailNoQuery() async throws {
        let f = try await NimbusFixture([ConfigKey.nimbusMonitorFreqSecs: 0])
        try await addSupervisor(f, "a", ports: [6700])
        try await f.submit("t")
        await monitor(f)
        let t = try await id(f, "t")
        let storage = f.state.storage
        try await storage.put(f.state.workerbeatsPath + "/\(t)/a-6700", data: Self.garbage)
        try await f.state.reportError(t, component: "split", ErrorInfo(error: "boom", errorTimeSecs: 1))
        try await storage.create(f.state.errorsPath + "/\(t)/split/e9999999999", data: Self.garbage, mode: .persistent)
        try await storage.put(f.state.stormCodePath + "/" + t, data: Self.garbage)
        try await storage.put(f.state.stormConfPath + "/" + t, data: Array("[not a map".utf8))
        try await storage.create(f.state.nimbusesPath + "/ghost:1", data: Self.garbage, mode: .persistent)
        try await storage.put(f.state.nimbusesPath + "/" + f.nimbus.address, data: Self.garbage)

        // The ghost is left out; this nimbus is listed only once it has rewritten its registration (a round that
        // the submit asked for may already have done so).
        #expect(try await f.client { try $0.getClusterInfo() }.nimbuses.allSatisfy { $0.port == Int32(f.nimbus.port) })
        #expect(try await f.client { try $0.getLeader() }.port == Int32(f.nimbus.port))
        let info = try await f.client { try $0.getTopologyInfo(id: t) }
        #expect(info.executors.count > 0 && info.errors["split"]?.map(\.error) == ["boom"])
        #expect(try await f.client { try $0.getUserTopology(id: t) } == NimbusFixture.wordCount())

        await monitor(f)
        // The leader rewrote what it owns: the code and conf records, its own registration.
        #expect(try await f.state.topologyCode(t) == NimbusFixture.wordCount())
        #expect(try await f.state.nimbus(f.nimbus.address)?.port == Int32(f.nimbus.port))
        #expect(try await f.client { try $0.getClusterInfo() }.nimbuses.map(\.port) == [Int32(f.nimbus.port)])
        var filed: [String] = []
        _ = try await eventually(2) {
            filed = try await errors(f, t)
            return filed.count >= 3
        }
        for path in ["workerbeats/\(t)/a-6700", "errors/\(t)/split/e9999999999", "stormcode/\(t)"] {
            #expect(filed.contains { $0.hasPrefix("record /storm/\(path) is unreadable") }, "\(path): \(filed)")
        }
    }

    @Test func recordsOfATopologyWithoutBaseAreRemovedAndFreeTheirSlots() async throws {
        let f = try await NimbusFixture()
        try await addSupervisor(f, "a", ports: [6700, 6701])
        try await f.submit("old", conf: #"{"topology.workers": 2}"#)
        await monitor(f)
        let old = try await id(f, "old")
        try await f.state.setWorkerHeartbeat(
            old, node: "a", port: 6700,
            ClusterWorkerHeartbeat(stormId: old, executorStats: [:], timeSecs: 1, uptimeSecs: 1))
        try await f.state.reportError(old, component: "split", ErrorInfo(error: "boom", errorTimeSecs: 1))
        try await f.state.storage.delete(f.state.stormsPath + "/" + old, version: nil)

        try await f.submit("new", conf: #"{"topology.workers": 2}"#)
        await monitor(f)
        let assignment = try #require(try await f.state.assignment(try await id(f, "new")))
        #expect(Set(assignment.executorNodePort!.values.flatMap(\.port)) == [6700, 6701])
        for folder in [
            f.state.assignmentsPath, f.state.workerbeatsPath, f.state.errorsPath, f.state.stormCodePath,
            f.state.stormConfPath, f.state.codeHoldersPath,
        ] {
            #expect(try await f.state.storage.read(folder + "/" + old) == nil, "\(folder)")
        }
        #expect(!f.nimbus.code.storedIds().contains(old))
    }
}
