import CZooKeeper
import DevZooKeeper
import Foundation
import Locking
import Logging
import TestSupport
import Testing

@testable import ZooKeeper

#if canImport(Glibc)
import Glibc
#endif

func tempDir() -> URL { FileManager.default.temporaryDirectory.appendingPathComponent("zk-\(UUID().uuidString)") }

@Suite(.serialized) struct ZooKeeperClientTests {
    let logger = Logger(label: "zk-client-test")

    @Test func callsToAServerThatIsNotThereFailWithinTheirTimeout() async throws {
        let client = try ZooKeeperClient(
            connectString: "127.0.0.1:\(freePort())", sessionTimeoutMillis: 2000, operationTimeout: .seconds(1),
            logger: logger)
        let started = Date()
        do {
            _ = try await client.get("/x")
            Issue.record("a get without a server succeeded")
        } catch let error as ZooKeeperError {
            #expect(error.code == .connectionLoss || error.code == .operationTimeout)
        }
        // It fails instead of hanging: the operation timeout is 1 s, and a busy machine (one core kept busy, the
        // suite's other tests beside it) stretched it past 5 s, once (every suite starting at once on two cores)
        // to 15.6 s, and on a machine loaded further (a cluster beside the suites) to 34 and 45 s. A hang never ends.
        #expect(Date().timeIntervalSince(started) < 120)
        await client.close()
    }

    @Test func closeFailsPendingCallsInsteadOfHanging() async throws {
        let client = try ZooKeeperClient(
            connectString: "127.0.0.1:\(freePort())", sessionTimeoutMillis: 20000, operationTimeout: .seconds(60),
            logger: logger)
        let pending = Task { try await client.get("/x") }
        // The call is waiting for a connection when the client closes.
        #expect(await eventually { client.state.withLock { !$0.connectWaiters.isEmpty } })
        let started = Date()
        await client.close()
        await #expect(throws: ZooKeeperError.self) { try await pending.value }
        #expect(Date().timeIntervalSince(started) < 5)
        await #expect(throws: ZooKeeperError.self) { try await client.get("/x") }
    }

    @Test func reconnectsWhenTheServerComesBack() async throws {
        let port = freePort()
        let dir = tempDir()
        var server = try ZooKeeperServer.start(port: port, dataDir: dir)
        let client = try ZooKeeperClient(
            connectString: server.connectString, sessionTimeoutMillis: 10000, logger: logger)
        try await client.create("/kept", data: [1], mode: .persistent)
        try await client.create("/mine", data: [2], mode: .ephemeral)
        server.stop()
        await #expect(throws: ZooKeeperError.self) { try await client.get("/kept") }
        server = try ZooKeeperServer.start(port: port, dataDir: dir)
        defer { server.stop() }
        #expect(await eventually { (try? await client.get("/kept").0) == [1] })
        // Back within the session timeout: the session, and its ephemeral node, survived.
        #expect(try await client.get("/mine").0 == [2])
        await client.close()
    }

    @Test func anExpiredSessionIsReplacedAndTheOwnerIsTold() async throws {
        let port = freePort()
        let dir = tempDir()
        let server = try ZooKeeperServer.start(port: port, dataDir: dir)
        defer { server.stop() }
        let client = try ZooKeeperClient(
            connectString: server.connectString, sessionTimeoutMillis: 2000, logger: logger)
        let renewals = Locked(0)
        client.onNewSession {
            // The owner re-creates its ephemeral node in the new session.
            _ = try? await client.create("/owner", data: [7], mode: .ephemeral)
            renewals.withLock { $0 += 1 }
        }
        try await client.create("/owner", data: [7], mode: .ephemeral)
        let oldOwner = try await client.exists("/owner")?.ephemeralOwner
        // Another handle joins the session and closes it, as a server that expired it would. The client reconnects
        // on its own and may win the session back before that close lands (seen on a busy machine): then again.
        for _ in 0..<5 where renewals.withLock({ $0 }) == 0 {
            try await killSession(of: client)
            _ = await eventually(10) { renewals.withLock { $0 } == 1 }
        }
        #expect(renewals.withLock { $0 } == 1)
        #expect(try await client.get("/owner").0 == [7])
        let newOwner = try await client.exists("/owner")?.ephemeralOwner
        #expect(newOwner != nil && newOwner != oldOwner)
        await client.close()
    }

    /// Opens a second handle on `client`'s session and closes it: the server ends the session.
    private func killSession(of client: ZooKeeperClient) async throws {
        guard let handle = client.state.withLock({ $0.handle }) else {
            throw ZooKeeperError(.closed, path: "", message: "no handle")
        }
        var credentials = zoo_client_id(handle.raw)!.pointee
        let other = try #require(zookeeper_init(client.connectString, nil, 2000, &credentials, nil, 0))
        _ = await eventually(10) { zoo_state(other) == ZOO_CONNECTED_STATE }
        zookeeper_close(other)
    }
}
