import DevZooKeeper
import Foundation
import Locking
import Logging
import StormCore
import StormThrift
import TestSupport
import Testing
import ZooKeeper

@testable import ClusterState

#if canImport(Glibc)
import Glibc
#endif

/// Records watch events.
final class EventLog: Sendable {
    private let events = Locked<[WatchEvent]>([])
    var all: [WatchEvent] { events.withLock { $0 } }
    var watcher: Watcher { { event in self.events.withLock { $0.append(event) } } }
}

/// The storage contract, run against every implementation: the in-memory store and a real ZooKeeper.
enum StorageFactory: String, CaseIterable, CustomTestStringConvertible {
    case memory
    case zookeeper
    var testDescription: String { rawValue }

    /// Two sessions on one store.
    func make() async throws -> (any ClusterStorage, any ClusterStorage) {
        switch self {
        case .memory:
            let store = InMemoryStore()
            return (store.session(), store.session())
        case .zookeeper:
            let server = try TestZooKeeper.shared()
            func session() throws -> ZooKeeperStorage {
                ZooKeeperStorage(
                    client: try ZooKeeperClient(
                        connectString: server.connectString, sessionTimeoutMillis: 4000,
                        logger: Logger(label: "zk-test")))
            }
            return (try session(), try session())
        }
    }
}

/// One ZooKeeper server for the whole test process (its watchdog ends it with the process).
enum TestZooKeeper {
    private static let server = Locked<Result<ZooKeeperServer, any Error>?>(nil)

    static func shared() throws -> ZooKeeperServer {
        try server.withLock { s in
            if s == nil {
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zk-test-\(UUID().uuidString)")
                s = Result { try ZooKeeperServer.start(port: freePort(), dataDir: dir) }
            }
            return try s!.get()
        }
    }
}

@Suite struct StorageConformanceTests {
    static func root() -> String { "/t-\(UUID().uuidString.prefix(8))" }

    @Test(arguments: StorageFactory.allCases)
    func createGetSetDelete(_ factory: StorageFactory) async throws {
        let (s, other) = try await factory.make()
        defer {
            Task {
                await s.close()
                await other.close()
            }
        }
        let t = Self.root()
        try await s.createParents(t)
        #expect(try await s.create("\(t)/a", data: [1, 2], mode: .persistent) == "\(t)/a")
        let (data, version) = try await s.get("\(t)/a")
        #expect(data == [1, 2])
        #expect(version == 0)
        #expect(try await s.set("\(t)/a", data: [3], version: 0) == 1)
        await #expect(throws: StorageError.badVersion("\(t)/a", expected: 0)) {
            try await other.set("\(t)/a", data: [4], version: 0)
        }
        #expect(try await other.get("\(t)/a").data == [3])
        #expect(try await s.create("\(t)/empty", data: [], mode: .persistent) == "\(t)/empty")
        #expect(try await other.get("\(t)/empty").data == [])
        await #expect(throws: StorageError.nodeExists("\(t)/a")) {
            try await s.create("\(t)/a", data: [], mode: .persistent)
        }
        await #expect(throws: StorageError.noNode("\(t)/missing/x")) {
            try await s.create("\(t)/missing/x", data: [], mode: .persistent)
        }
        await #expect(throws: StorageError.notEmpty(t)) { try await s.delete(t, version: nil) }
        await #expect(throws: StorageError.badVersion("\(t)/a", expected: 0)) {
            try await s.delete("\(t)/a", version: 0)
        }
        try await s.delete("\(t)/a", version: 1)
        #expect(try await other.exists("\(t)/a") == nil)
        await #expect(throws: StorageError.noNode("\(t)/a")) { try await s.get("\(t)/a") }
        await #expect(throws: StorageError.badPath("t/a")) { try await s.get("t/a") }
        await #expect(throws: StorageError.badPath("\(t)/../a")) { try await s.get("\(t)/../a") }
        try await s.deleteRecursively(t)
    }

    @Test(arguments: StorageFactory.allCases)
    func childrenAndSequentialNodes(_ factory: StorageFactory) async throws {
        let (s, other) = try await factory.make()
        defer {
            Task {
                await s.close()
                await other.close()
            }
        }
        let q = Self.root()
        try await s.createParents(q)
        let first = try await s.create("\(q)/e", data: [], mode: .persistentSequential)
        let second = try await other.create("\(q)/e", data: [], mode: .persistentSequential)
        #expect(first == "\(q)/e0000000000")
        #expect(second == "\(q)/e0000000001")
        try await s.create("\(q)/b", data: [], mode: .persistent)
        #expect(try await other.children(q) == ["b", "e0000000000", "e0000000001"])
        #expect(try await s.create("\(q)/e", data: [], mode: .persistentSequential) == "\(q)/e0000000003")
        try await s.deleteRecursively(q)
        #expect(try await other.exists(q) == nil)
    }

    @Test(arguments: StorageFactory.allCases)
    func watchesFireOnce(_ factory: StorageFactory) async throws {
        let (s, other) = try await factory.make()
        defer {
            Task {
                await s.close()
                await other.close()
            }
        }
        let w = Self.root()
        try await s.createParents(w)
        let data = EventLog()
        let kids = EventLog()
        let missing = EventLog()
        try await s.create("\(w)/n", data: [], mode: .persistent)
        _ = try await s.get("\(w)/n", watch: data.watcher)
        _ = try await s.children(w, watch: kids.watcher)
        _ = try await s.exists("\(w)/later", watch: missing.watcher)
        try await other.set("\(w)/n", data: [1], version: nil)
        #expect(await eventually { data.all == [.dataChanged("\(w)/n")] })
        try await other.set("\(w)/n", data: [2], version: nil)
        try await other.create("\(w)/later", data: [], mode: .persistent)
        #expect(await eventually { kids.all == [.childrenChanged(w)] && missing.all == [.created("\(w)/later")] })
        let deletion = EventLog()
        _ = try await s.get("\(w)/later", watch: deletion.watcher)
        try await other.delete("\(w)/later", version: nil)
        #expect(await eventually { deletion.all == [.deleted("\(w)/later")] })
        // Fired once: the second set and later changes reach no watcher.
        try await Task.sleep(for: .milliseconds(200))  // checks an absence: no second event arrives
        #expect(data.all.count == 1 && kids.all.count == 1 && missing.all.count == 1)
        // A get on a missing node arms nothing.
        let none = EventLog()
        await #expect(throws: StorageError.noNode("\(w)/ghost")) { try await s.get("\(w)/ghost", watch: none.watcher) }
        try await other.create("\(w)/ghost", data: [], mode: .persistent)
        try await Task.sleep(for: .milliseconds(200))  // checks an absence: the creation reaches no watcher
        #expect(none.all.isEmpty)
        try await s.deleteRecursively(w)
    }

    @Test(arguments: StorageFactory.allCases)
    func ephemeralNodesEndWithTheirSession(_ factory: StorageFactory) async throws {
        let (owner, observer) = try await factory.make()
        defer { Task { await observer.close() } }
        let e = Self.root()
        try await owner.createParents(e)
        try await owner.create("\(e)/mine", data: [9], mode: .ephemeral)
        await #expect(throws: StorageError.noChildrenForEphemerals("\(e)/mine/child")) {
            try await owner.create("\(e)/mine/child", data: [], mode: .persistent)
        }
        let gone = EventLog()
        _ = try await observer.children(e, watch: gone.watcher)
        #expect(try await observer.get("\(e)/mine").data == [9])
        await owner.close()
        #expect(try await observer.exists("\(e)/mine") == nil)
        #expect(await eventually { gone.all == [.childrenChanged(e)] })
        await #expect(throws: StorageError.sessionClosed) { try await owner.get(e) }
        try await observer.deleteRecursively(e)
    }
}

@Suite struct StormClusterStateTests {
    @Test func topologyRecordsRoundTrip() async throws {
        let state = StormClusterState(storage: InMemoryStore().session(), root: "/storm")
        try await state.setUp()
        let base = StormBase(
            name: "wc", status: .active, numWorkers: 2, componentExecutors: ["a": 1], launchTimeSecs: 10)
        try await state.setStormBase("wc-1-10", base)
        #expect(try await state.stormBase("wc-1-10") == base)
        #expect(try await state.activeStorms() == ["wc-1-10"])
        #expect(try await state.stormId(named: "wc") == "wc-1-10")
        #expect(try await state.stormId(named: "other") == nil)
        let assignment = Assignment(
            masterCodeDir: "/d", nodeHost: ["n1": "host1"],
            executorNodePort: [[1, 2]: NodeInfo(node: "n1", port: [6700])])
        try await state.setAssignment("wc-1-10", assignment)
        #expect(try await state.assignment("wc-1-10") == assignment)
        for i in 0..<12 {
            try await state.reportError(
                "wc-1-10", component: "split", ErrorInfo(error: "e\(i)", errorTimeSecs: Int32(i)))
        }
        let errors = try await state.errors("wc-1-10", component: "split")
        #expect(errors.errors.map(\.error) == (2..<12).map { "e\($0)" })
        #expect(try await state.componentsWithErrors("wc-1-10") == ["split"])
        try await state.removeStorm("wc-1-10")
        #expect(try await state.activeStorms().isEmpty)
        #expect(try await state.assignment("wc-1-10") == nil)
        #expect(try await state.errors("wc-1-10", component: "split").errors.isEmpty)
    }

    @Test func corruptNodeIsReportedWithItsPath() async throws {
        let storage = InMemoryStore().session()
        let state = StormClusterState(storage: storage, root: "/storm")
        try await state.setUp()
        try await storage.create("/storm/storms/bad-1-1", data: [1, 2, 3], mode: .persistent)
        do {
            _ = try await state.stormBase("bad-1-1")
            Issue.record("a corrupt StormBase decoded")
        } catch let error as ClusterStateError {
            #expect(error.description.contains("/storm/storms/bad-1-1"))
        }
    }

    @Test func oneUnreadableRecordHidesNoOtherOfItsKind() async throws {
        let storage = InMemoryStore().session()
        let state = StormClusterState(storage: storage, root: "/storm")
        try await state.setUp()
        let assignment = Assignment(
            masterCodeDir: "/d", executorNodePort: [[1, 1]: NodeInfo(node: "n1", port: [6700])])
        try await state.setAssignment("good-1-1", assignment)
        try await storage.create("/storm/assignments/bad-2-1", data: Array("garbage".utf8), mode: .persistent)
        let read = try await state.readableAssignments()
        #expect(read.records == ["good-1-1": assignment])
        #expect(read.unreadable["bad-2-1"]?.unreadablePath == "/storm/assignments/bad-2-1")
        #expect(
            read.unreadable["bad-2-1"]?.description.hasPrefix("record /storm/assignments/bad-2-1 is unreadable: ")
                == true)

        try await state.addNimbus(
            "h:6627", NimbusSummary(host: "h", port: 6627, uptimeSecs: 0, isLeader: true, version: "v"))
        try await storage.create("/storm/nimbuses/ghost:1", data: [0xff], mode: .persistent)
        let nimbuses = try await state.nimbuses()
        #expect(Array(nimbuses.records.keys) == ["h:6627"] && Array(nimbuses.unreadable.keys) == ["ghost:1"])

        try await state.reportError("good-1-1", component: "split", ErrorInfo(error: "boom", errorTimeSecs: 1))
        try await storage.create("/storm/errors/good-1-1/split/e9999999999", data: [0xff], mode: .persistent)
        let errors = try await state.errors("good-1-1", component: "split")
        #expect(errors.errors.map(\.error) == ["boom"] && Array(errors.unreadable.keys) == ["e9999999999"])
    }

    @Test func aTopologyWhoseBaseIsUnreadableKeepsTheNameItsIdSpells() async throws {
        let storage = InMemoryStore().session()
        let state = StormClusterState(storage: storage, root: "/storm")
        try await state.setUp()
        try await storage.create("/storm/storms/my-topo-3-1700000000", data: [0xff], mode: .persistent)
        #expect(try await state.stormId(named: "my-topo") == "my-topo-3-1700000000")
        #expect(try await state.stormId(named: "my") == nil)
    }

    @Test func nimbusRegistrationIsEphemeral() async throws {
        let store = InMemoryStore()
        let nimbusSession = store.session()
        let state = StormClusterState(storage: nimbusSession)
        let observer = StormClusterState(storage: store.session())
        try await state.setUp()
        try await state.addNimbus(
            "h:6627", NimbusSummary(host: "h", port: 6627, uptimeSecs: 0, isLeader: true, version: "v"))
        #expect(try await observer.nimbuses().records.values.map(\.host) == ["h"])
        await nimbusSession.close()
        #expect(try await observer.nimbuses().records.isEmpty)
    }
}

@Suite struct PathTests {
    @Test func pathsAreZooKeepers() throws {
        for good in ["/", "/a", "/a/b", "/storm/storms/wc-1-10", "/a/.b", "/a/...", "/a/b.c"] {
            try validatePath(good)
        }
        for bad in ["", "a", "a/b", "/a/", "//a", "/a//b", "/a/./b", "/a/../b", "/..", "/.", "/a\u{0}b"] {
            #expect(throws: StorageError.badPath(bad)) { try validatePath(bad) }
        }
    }
}

@Suite struct ZooKeeperAuthSettingsTests {
    @Test func theDaemonsDigestIsReadAndAnythingElseIsOneLine() throws {
        #expect(try ZooKeeperStorage.auth(.defaults) == nil)
        let digest = StormConfig(["storm.zookeeper.auth.scheme": "digest", "storm.zookeeper.auth.payload": "storm:pw"])
        #expect(try ZooKeeperStorage.auth(digest) == ZooKeeperAuth(scheme: "digest", credentials: "storm:pw"))
        let refusals: [([String: ConfigValue], String)] = [
            (
                ["storm.zookeeper.auth.payload": "storm:pw"],
                "config key 'storm.zookeeper.auth.payload' is set but storm.zookeeper.auth.scheme is not: set it to digest"
            ),
            (
                ["storm.zookeeper.auth.scheme": "sasl", "storm.zookeeper.auth.payload": "storm:pw"],
                "config key 'storm.zookeeper.auth.scheme' is \"sasl\"; only digest is offered (Kerberos is not)"
            ),
            (
                ["storm.zookeeper.auth.scheme": "digest", "storm.zookeeper.auth.payload": "no-colon"],
                "config key 'storm.zookeeper.auth.payload' must be USER:PASSWORD for the digest scheme"
            ),
            (
                ["storm.zookeeper.auth.scheme": "digest", "storm.zookeeper.auth.payload": ":pw"],
                "config key 'storm.zookeeper.auth.payload' must be USER:PASSWORD for the digest scheme"
            ),
            (
                ["storm.zookeeper.auth.scheme": "digest"],
                "config key 'storm.zookeeper.auth.payload' must be USER:PASSWORD for the digest scheme"
            ),
        ]
        for (values, message) in refusals {
            do {
                _ = try ZooKeeperStorage.auth(StormConfig(values))
                Issue.record("accepted \(values)")
            } catch {
                #expect(error.description == message)
            }
        }
    }
}

@Suite struct TopologyZooKeeperIdentityTests {
    /// ZooKeeper's `DigestAuthenticationProvider` writes `storm:zk-secret` as this (base64 of its SHA-1).
    @Test func theDigestIdIsZooKeepers() {
        #expect(ZooKeeperACL.digestId(credentials: "storm:zk-secret") == "storm:3N0G0WC4FRzkvS/GoiFNTLChs/E=")
    }

    @Test func workersAreHandedTheDaemonsIdentityButNotTheirPassword() throws {
        let daemons = StormConfig([
            "storm.zookeeper.auth.scheme": "digest", "storm.zookeeper.auth.payload": "storm:zk-secret", "x": 1,
        ])
        let handed = try ZooKeeperStorage.workerConf(from: daemons)
        #expect(handed["storm.zookeeper.auth.payload"] == nil && handed["storm.zookeeper.auth.scheme"] == nil)
        #expect(handed["storm.zookeeper.superACL"] == "digest:storm:3N0G0WC4FRzkvS/GoiFNTLChs/E=")
        #expect(handed["x"] == 1)
        // One set by hand is kept, as in Storm, where it is the operator's to set.
        var own = daemons
        own["storm.zookeeper.superACL"] = "digest:ops:abc="
        #expect(try ZooKeeperStorage.workerConf(from: own)["storm.zookeeper.superACL"] == "digest:ops:abc=")
        // An open cluster's workers get the conf as it is.
        #expect(try ZooKeeperStorage.workerConf(from: .defaults) == .defaults)
        for bad: ConfigValue in ["sasl:nimbus", "digest:", "nohash", 5] {
            own["storm.zookeeper.superACL"] = bad
            #expect(
                throws: ConfigError.invalid(
                    "storm.zookeeper.superACL",
                    reason:
                        "must be digest:USER:HASH, the daemons' ZooKeeper identity (only the digest scheme is offered)")
            ) { try ZooKeeperStorage.workerConf(from: own) }
        }
    }

    @Test func aTopologysIdentityIsReadAndAnythingElseIsOneLine() throws {
        #expect(try ZooKeeperStorage.topologyAuth(.defaults) == nil)
        let conf = StormConfig([
            "storm.zookeeper.topology.auth.scheme": "digest", "storm.zookeeper.topology.auth.payload": "t:secret",
        ])
        #expect(try ZooKeeperStorage.topologyAuth(conf) == ZooKeeperAuth(scheme: "digest", credentials: "t:secret"))
        var bad = conf
        bad["storm.zookeeper.topology.auth.payload"] = "secret"
        #expect(
            throws: ConfigError.invalid(
                "storm.zookeeper.topology.auth.payload", reason: "must be USER:PASSWORD for the digest scheme")
        ) { try ZooKeeperStorage.topologyAuth(bad) }
        bad = conf
        bad["storm.zookeeper.topology.auth.scheme"] = "sasl"
        #expect(
            throws: ConfigError.invalid(
                "storm.zookeeper.topology.auth.scheme", reason: "is \"sasl\"; only digest is offered")
        ) { try ZooKeeperStorage.topologyAuth(bad) }
    }
}

/// A secured cluster's ZooKeeper, for real: a topology's workers, logged in as their topology, reach its nodes and
/// no other's, and what they write stays the daemons' to read.
@Suite struct TopologyZooKeeperAccessTests {
    @Test func aWorkerReadsItsOwnTopologyAloneAndItsWritesStayTheDaemons() async throws {
        let server = try TestZooKeeper.shared()
        let root = "/secured-\(UUID().uuidString.prefix(8))"
        let conf = StormConfig.defaults.merging(
            StormConfig([
                "storm.zookeeper.servers": ["127.0.0.1"], "storm.zookeeper.port": .int(Int64(server.port)),
                "storm.zookeeper.auth.scheme": "digest", "storm.zookeeper.auth.payload": "storm:zk-secret",
            ]))
        let logger = Logger(label: "zk-acl-test")
        let nimbus = StormClusterState(storage: try ZooKeeperStorage(conf: conf, logger: logger), root: root)
        try await nimbus.setUp()
        let assignment = Assignment(masterCodeDir: "/d", nodeHost: ["n1": "host1"])
        for (id, payload) in [("mine-1-1", "mine:pw1"), ("other-2-2", "other:pw2")] {
            try await nimbus.setTopologyConf(
                id,
                confJSON: JSON.encode(
                    .map([
                        "storm.zookeeper.topology.auth.scheme": "digest",
                        "storm.zookeeper.topology.auth.payload": .string(payload),
                    ])))
            try await nimbus.setStormBase(
                id, StormBase(name: id, status: .active, numWorkers: 1, componentExecutors: [:], launchTimeSecs: 1))
            try await nimbus.setAssignment(id, assignment)
        }
        let workerConf = try ZooKeeperStorage.workerConf(from: conf)
        let mine = StormConfig([
            "storm.zookeeper.topology.auth.scheme": "digest", "storm.zookeeper.topology.auth.payload": "mine:pw1",
        ])
        let worker = StormClusterState(
            storage: try ZooKeeperStorage(workerConf: workerConf, topologyConf: mine, logger: logger), root: root)
        defer {
            Task {
                await worker.storage.close()
                try? await nimbus.storage.deleteRecursively(root)
                await nimbus.storage.close()
            }
        }
        // Its own topology's records it reads, and it writes its heartbeats and errors.
        #expect(try await worker.assignment("mine-1-1") == assignment)
        #expect(try await worker.stormBase("mine-1-1")?.name == "mine-1-1")
        let beat = ClusterWorkerHeartbeat(stormId: "mine-1-1", executorStats: [:], timeSecs: 5, uptimeSecs: 1)
        try await worker.setWorkerHeartbeat("mine-1-1", node: "n1", port: 6700, beat)
        // Errors nimbus reported first (its own, or a component's in local mode) leave the folder the workers'.
        try await nimbus.reportError("mine-1-1", component: "split", ErrorInfo(error: "nimbus", errorTimeSecs: 4))
        try await worker.reportError("mine-1-1", component: "split", ErrorInfo(error: "boom", errorTimeSecs: 5))
        // Nothing of another topology's, nor the daemons' own records, nor a write to what nimbus owns.
        await #expect(throws: StorageError.notAuthorized("\(root)/assignments/other-2-2")) {
            try await worker.assignment("other-2-2")
        }
        await #expect(throws: StorageError.notAuthorized("\(root)/stormconf/mine-1-1")) {
            try await worker.topologyConfJSON("mine-1-1")
        }
        await #expect(throws: StorageError.notAuthorized("\(root)/assignments/mine-1-1")) {
            try await worker.setAssignment("mine-1-1", Assignment(masterCodeDir: "/attacker"))
        }
        await #expect(throws: StorageError.notAuthorized("\(root)/workerbeats/other-2-2/n1-6700")) {
            try await worker.setWorkerHeartbeat("other-2-2", node: "n1", port: 6700, beat)
        }
        // What it wrote, the daemons read.
        #expect(try await nimbus.workerHeartbeats("mine-1-1").records.values.map(\.timeSecs) == [5])
        #expect(try await nimbus.errors("mine-1-1", component: "split").errors.map(\.error) == ["nimbus", "boom"])
        #expect(try await nimbus.assignment("mine-1-1") == assignment)
    }
}

/// Nimbus' ACL check at start, against a real ZooKeeper whose nodes were made while the cluster was open.
@Suite struct ZooKeeperACLCheckTests {
    @Test func nodesMadeOnAnOpenClusterBecomeTheDaemonsAndTheirTopologys() async throws {
        let server = try TestZooKeeper.shared()
        let root = "/was-open-\(UUID().uuidString.prefix(8))"
        let logger = Logger(label: "zk-acl-check-test")
        let base = StormConfig.defaults.merging(
            StormConfig([
                "storm.zookeeper.servers": ["127.0.0.1"], "storm.zookeeper.port": .int(Int64(server.port)),
                "storm.zookeeper.root": .string(root),
            ]))
        var secured = base
        secured["storm.zookeeper.auth.scheme"] = "digest"
        secured["storm.zookeeper.auth.payload"] = "storm:zk-secret"
        let identity = "mine:pw1"
        let beat = ClusterWorkerHeartbeat(stormId: "mine-1-1", executorStats: [:], timeSecs: 5, uptimeSecs: 1)
        let assignment = Assignment(masterCodeDir: "/d", nodeHost: ["n1": "host1"])

        // The open cluster's state: one topology with an identity, one from before it had any.
        let open = StormClusterState(storage: try ZooKeeperStorage(conf: base, logger: logger), root: root)
        try await open.setUp()
        try await open.setTopologyConf(
            "mine-1-1",
            confJSON: JSON.encode(
                .map([
                    "storm.zookeeper.topology.auth.scheme": "digest",
                    "storm.zookeeper.topology.auth.payload": .string(identity),
                ])))
        for id in ["mine-1-1", "old-0-0"] {
            try await open.setStormBase(
                id, StormBase(name: id, status: .active, numWorkers: 1, componentExecutors: [:], launchTimeSecs: 1))
            try await open.setAssignment(id, assignment)
            try await open.setWorkerHeartbeat(id, node: "n1", port: 6700, beat)
        }
        let nimbus = try ZooKeeperStorage(conf: secured, logger: logger)
        defer {
            Task {
                await open.storage.close()
                try? await nimbus.deleteRecursively(root)
                await nimbus.close()
            }
        }

        // Told not to fix, nimbus stops at the first wrong node and says which.
        var strict = secured
        strict[ZooKeeperACLCheck.fixUpKey] = false
        let refusing = try #require(try ZooKeeperACLCheck.configured(strict, storage: nimbus, logger: logger))
        do {
            try await refusing.run()
            Issue.record("an open node was accepted")
        } catch let mismatch as ZooKeeperACLCheck.Mismatch {
            #expect(
                mismatch.description
                    == "ZooKeeper node \(root) has ACL [world:anyone=cdrwa], not [digest:storm:3N0G0WC4FRzkvS/GoiFNTLChs/E==cdrwa]; set storm.nimbus.zookeeper.acls.fixup to true to let nimbus fix it"
            )
        }

        let check = try #require(try ZooKeeperACLCheck.configured(secured, storage: nimbus, logger: logger))
        #expect(try await check.run() > 10)
        // Nothing was lost, and anyone is now no one.
        let daemons = StormClusterState(storage: nimbus, root: root)
        #expect(try await daemons.assignment("mine-1-1") == assignment)
        #expect(try await daemons.workerHeartbeats("old-0-0").records.count == 1)
        await #expect(throws: StorageError.notAuthorized("\(root)/assignments/mine-1-1")) {
            try await open.assignment("mine-1-1")
        }
        // The topology with an identity: its workers read their assignment and write heartbeats.
        let worker = StormClusterState(
            storage: try ZooKeeperStorage(
                workerConf: try ZooKeeperStorage.workerConf(from: secured),
                topologyConf: StormConfig([
                    "storm.zookeeper.topology.auth.scheme": "digest",
                    "storm.zookeeper.topology.auth.payload": .string(identity),
                ]), logger: logger), root: root)
        #expect(try await worker.assignment("mine-1-1") == assignment)
        try await worker.setWorkerHeartbeat("mine-1-1", node: "n2", port: 6701, beat)
        await #expect(throws: StorageError.notAuthorized("\(root)/assignments/old-0-0")) {
            try await worker.assignment("old-0-0")
        }
        await worker.storage.close()
        // What nimbus and workers create on the secured cluster already has the ACL the check wants.
        try await daemons.setTopologyConf(
            "new-2-2",
            confJSON: JSON.encode(
                .map([
                    "storm.zookeeper.topology.auth.scheme": "digest", "storm.zookeeper.topology.auth.payload": "n:pw",
                ])))
        try await daemons.setUpWorkerFolders("new-2-2")
        try await daemons.setStormBase(
            "new-2-2",
            StormBase(name: "new", status: .active, numWorkers: 1, componentExecutors: [:], launchTimeSecs: 1))
        try await daemons.setAssignment("new-2-2", assignment)
        try await daemons.setLogConfig("new-2-2", LogConfig())
        try await daemons.reportError("new-2-2", component: "__nimbus", ErrorInfo(error: "e", errorTimeSecs: 1))
        #expect(try await check.run() == 0)
    }
}
