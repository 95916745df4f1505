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
