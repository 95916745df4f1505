import Locking
import Testing

@testable import ClusterState

@Suite struct CachingStorageTests {
    /// A store, a cached session on it that keeps `/kept`, and another session that writes behind its back.
    struct Fixture {
        let cache: CachingStorage
        let other: InMemoryStorage

        /// `inner`: the cached session, by default a plain session of `store`.
        init(store: InMemoryStore = InMemoryStore(), inner: (any ClusterStorage)? = nil) async throws {
            cache = CachingStorage(inner ?? store.session(), subtrees: ["/kept"])
            other = store.session()
            try await other.createParents("/kept/a")
            try await other.createParents("/elsewhere")
        }
    }

    @Test func repeatedReadsAreAnsweredFromMemoryUntilAnotherSessionWrites() async throws {
        let f = try await Fixture()
        try await f.other.set("/kept/a", data: [1], version: nil)
        #expect(try await f.cache.get("/kept/a").data == [1])
        #expect(try await f.cache.get("/kept/a").data == [1])
        #expect(try await f.cache.children("/kept") == ["a"])
        #expect(try await f.cache.children("/kept") == ["a"])
        #expect(f.cache.counts == (hits: 2, misses: 2))

        try await f.other.set("/kept/a", data: [2], version: nil)
        try await f.other.create("/kept/b", data: [], mode: .persistent)
        #expect(try await f.cache.get("/kept/a").data == [2])
        #expect(try await f.cache.children("/kept") == ["a", "b"])

        try await f.other.delete("/kept/b", version: nil)
        #expect(try await f.cache.children("/kept") == ["a"])
        await #expect(throws: StorageError.noNode("/kept/b")) { try await f.cache.get("/kept/b") }
    }

    @Test func aSessionReadsItsOwnWritesAtOnce() async throws {
        let f = try await Fixture()
        #expect(try await f.cache.children("/kept") == ["a"])
        #expect(try await f.cache.get("/kept/a").data == [])
        try await f.cache.set("/kept/a", data: [7], version: nil)
        #expect(try await f.cache.get("/kept/a").data == [7])
        try await f.cache.create("/kept/c", data: [3], mode: .persistent)
        #expect(try await f.cache.children("/kept") == ["a", "c"])
        try await f.cache.delete("/kept/c", version: nil)
        #expect(try await f.cache.children("/kept") == ["a"])
    }

    @Test func pathsOutsideTheSubtreesAndWatchedReadsGoToTheStorage() async throws {
        let f = try await Fixture()
        try await f.other.create("/elsewhere/x", data: [1], mode: .persistent)
        // "/keptx" shares the prefix's letters, not its subtree.
        try await f.other.create("/keptx", data: [9], mode: .persistent)
        for _ in 0..<3 {
            _ = try await f.cache.get("/elsewhere/x")
            _ = try await f.cache.get("/keptx")
            _ = try await f.cache.get("/kept/a", watch: { _ in })
        }
        #expect(f.cache.counts == (hits: 0, misses: 0))
    }

    /// A read whose watch fires before its answer is used (ZooKeeper sent the change right behind the answer)
    /// must not be kept: no later event would ever correct it.
    @Test func aReadOvertakenByItsWatchIsNotKept() async throws {
        let store = InMemoryStore()
        let overtaken = OvertakenReads(store.session())
        let f = try await Fixture(store: store, inner: overtaken)
        _ = try await f.cache.get("/kept/a")
        _ = try await f.cache.get("/kept/a")
        #expect(f.cache.counts == (hits: 0, misses: 2))
        overtaken.overtake.withLock { $0 = false }
        _ = try await f.cache.get("/kept/a")
        _ = try await f.cache.get("/kept/a")
        #expect(f.cache.counts == (hits: 1, misses: 3))
    }

    @Test func aNewSessionForgetsEverything() async throws {
        let store = InMemoryStore()
        let sessions = OvertakenReads(store.session())
        sessions.overtake.withLock { $0 = false }
        let f = try await Fixture(store: store, inner: sessions)
        _ = try await f.cache.get("/kept/a")
        _ = try await f.cache.get("/kept/a")
        #expect(f.cache.counts == (hits: 1, misses: 1))
        await sessions.startNewSession()
        _ = try await f.cache.get("/kept/a")
        #expect(f.cache.counts == (hits: 1, misses: 2))
    }
}

/// A storage whose reads with a watch see the watch fire before they return (while `overtake` holds), and
/// whose owner can announce a new session.
final class OvertakenReads: ClusterStorage {
    let inner: InMemoryStorage
    let overtake = Locked(true)
    let handlers = Locked<[@Sendable () async -> Void]>([])

    init(_ inner: InMemoryStorage) { self.inner = inner }

    func startNewSession() async {
        for handler in handlers.withLock({ $0 }) { await handler() }
    }

    func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32) {
        let answer = try await inner.get(path, watch: watch)
        if let watch, overtake.withLock({ $0 }) { watch(.dataChanged(path)) }
        return answer
    }

    func children(_ path: String, watch: Watcher?) async throws -> [String] {
        try await inner.children(path, watch: watch)
    }
    func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String {
        try await inner.create(path, data: data, mode: mode)
    }
    func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32 {
        try await inner.set(path, data: data, version: version)
    }
    func delete(_ path: String, version: Int32?) async throws { try await inner.delete(path, version: version) }
    func exists(_ path: String, watch: Watcher?) async throws -> Int32? { try await inner.exists(path, watch: watch) }
    func close() async { await inner.close() }
    func onNewSession(_ handler: @escaping @Sendable () async -> Void) { handlers.withLock { $0.append(handler) } }
}
