import Locking
import Testing

@testable import ClusterState

@Suite struct PathWatchesTests {
    /// A store, a session's watches on it, and the events they reported.
    struct Fixture {
        let store = InMemoryStore()
        let events = EventLog()
        let watches: PathWatches
        let writer: InMemoryStorage

        init() async throws {
            let events = self.events
            watches = PathWatches(storage: store.session()) { events.watcher($0) }
            writer = store.session()
            try await writer.createParents("/a")
        }
    }

    @Test func readsArmOneWatchPerPathHoweverOftenTheyRun() async throws {
        let f = try await Fixture()
        try await f.writer.create("/a/x", data: [1], mode: .persistent)
        for _ in 0..<5 {
            #expect(try await f.watches.children("/a") == ["x"])
            #expect(try await f.watches.read("/a/x") == [1])
            try await f.watches.watchChildren("/a")
            try await f.watches.watchNode("/a/x")
        }
        #expect(f.store.watchCount("/a") == (0, 1))
        #expect(f.store.watchCount("/a/x") == (1, 0))
        #expect(f.watches.armedCount == 2)

        // One change, one event; the path is armed again by its next read only.
        try await f.writer.set("/a/x", data: [2], version: nil)
        #expect(f.events.all == [.dataChanged("/a/x")])
        #expect(!f.watches.isArmed("/a/x", .data))
        #expect(f.store.watchCount("/a/x") == (0, 0))
        #expect(try await f.watches.read("/a/x") == [2])
        #expect(f.store.watchCount("/a/x") == (1, 0))
    }

    /// What the supervisor does with assignments: every change re-reads the folder and each node in it.
    @Test func submitKillChurnKeepsTheWatchesAndEventsPerCycleFlat() async throws {
        let f = try await Fixture()
        func sync() async throws {
            for name in try await f.watches.childrenIfExists("/a") { _ = try await f.watches.read("/a/" + name) }
        }
        try await sync()
        var eventsPerCycle: [Int] = []
        for cycle in 0..<30 {
            let before = f.events.all.count
            try await f.writer.create("/a/t\(cycle)", data: [], mode: .persistent)
            try await sync()
            try await f.writer.delete("/a/t\(cycle)", version: nil)
            try await sync()
            eventsPerCycle.append(f.events.all.count - before)
            #expect(f.store.watchCount("/a") == (0, 1))
            #expect(f.store.watchCount("/a/t\(cycle)") == (0, 0))
        }
        // Created (the folder's children), deleted (the folder's children and the node's data).
        #expect(eventsPerCycle == Array(repeating: 3, count: 30))
        #expect(f.watches.armedCount == 1)
    }

    @Test func aMissingNodeArmsNothingAndAFailedReadCanBeRetried() async throws {
        let f = try await Fixture()
        #expect(try await f.watches.read("/a/none") == nil)
        #expect(try await f.watches.childrenIfExists("/none") == [])
        #expect(f.watches.armedCount == 0)
        #expect(f.store.watchCount("/a/none") == (0, 0))
        // An exists watch waits for a node that is not there yet.
        try await f.watches.watchNode("/a/later")
        try await f.writer.create("/a/later", data: [], mode: .persistent)
        #expect(f.events.all == [.created("/a/later")])
        await #expect(throws: StorageError.badPath("bad")) { try await f.watches.children("bad") }
        #expect(f.watches.armedCount == 0)
    }

    @Test func aSessionEndForgetsTheArmedWatches() async throws {
        let f = try await Fixture()
        _ = try await f.watches.children("/a")
        #expect(f.watches.isArmed("/a", .children))
        f.watches.sessionEnded()
        #expect(f.watches.armedCount == 0)
        _ = try await f.watches.children("/a")
        #expect(f.watches.isArmed("/a", .children))
    }
}
