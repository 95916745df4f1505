import DaemonHTTP
import Foundation
import Locking
import StormCore
import StormThrift

/// Thrift connections to the leader nimbus, shared by the UI's requests. The Thrift client blocks, so each call
/// runs on a thread of its own; an idle connection is kept for the next request. A connection that failed is
/// dropped, and one that has not been checked for a while asks nimbus who leads, so the UI follows a leader change
/// within `leaderRecheck`.
///
/// A call made for an authenticated HTTP user (`HTTPUser.current`) goes over a connection that acts for that
/// user, so nimbus authorizes it as that user's own call; connections are kept apart by the user they act for.
public final class LeaderNimbus: Sendable {
    /// Why a call never reached a nimbus: every seed refused, or the connection broke mid-call.
    public struct Unreachable: Error, CustomStringConvertible {
        public let description: String
    }

    private struct Pooled: Sendable {
        let client: NimbusClient
        let actingFor: String?
        var checkedAt: ContinuousClock.Instant
    }

    private let conf: StormConfig
    private let idle = Locked<[Pooled]>([])
    private let maxIdle: Int
    private let leaderRecheck: Duration

    public init(conf: StormConfig, maxIdle: Int = 16, leaderRecheck: Duration = .seconds(2)) {
        self.conf = conf
        self.maxIdle = maxIdle
        self.leaderRecheck = leaderRecheck
    }

    /// Runs `body` with a connection to the leader. Thrift's declared exceptions (NotAliveException, ...) pass
    /// through; a broken or refused connection becomes `Unreachable`.
    public func call<T: Sendable>(_ body: @escaping @Sendable (NimbusClient) throws -> T) async throws -> T {
        let user = HTTPUser.current
        return try await onOwnThread { try self.callBlocking(actingFor: user, body) }
    }

    private func callBlocking<T>(actingFor user: String?, _ body: (NimbusClient) throws -> T) throws -> T {
        let pooled = try checkOut(actingFor: user)
        do {
            let result = try body(pooled.client)
            checkIn(pooled)
            return result
        } catch let error as ThriftTransportError {
            pooled.client.close()
            throw Unreachable(
                description:
                    "lost the connection to nimbus at \(pooled.client.connection.host):\(pooled.client.connection.port): \(error.message)"
            )
        } catch {
            checkIn(pooled)
            throw error
        }
    }

    private func checkOut(actingFor user: String?) throws -> Pooled {
        while let candidate = idle.withLock({ list in
            list.lastIndex { $0.actingFor == user }.map { list.remove(at: $0) }
        }) {
            if ContinuousClock.now - candidate.checkedAt < leaderRecheck { return candidate }
            // Checked long ago: keep it only if it still talks to the leader.
            let connection = candidate.client.connection
            if let leader = try? candidate.client.getLeader(), leader.host == connection.host,
                Int(leader.port) == connection.port
            {
                return Pooled(client: candidate.client, actingFor: user, checkedAt: .now)
            }
            candidate.client.close()
        }
        do {
            return Pooled(
                client: try NimbusSeeds.connectToLeader(conf, connectTimeoutMillis: 2_000, actingFor: user),
                actingFor: user, checkedAt: .now)
        } catch let error as NimbusSeeds.Unreachable {
            throw Unreachable(description: error.description)
        } catch let error as ConfigError {
            throw Unreachable(description: error.description)
        }
    }

    private func checkIn(_ pooled: Pooled) {
        // The pool keeps the most recently used: a full pool gives up its oldest connection.
        let dropped = idle.withLock { list -> Pooled? in
            list.append(pooled)
            return list.count > maxIdle ? list.removeFirst() : nil
        }
        dropped?.client.close()
    }

    /// Closes every idle connection.
    public func close() {
        for pooled in idle.withLock({ list in
            defer { list = [] }
            return list
        }) { pooled.client.close() }
    }
}
