import ClusterState
import Locking

/// Nimbus leader election over the cluster state: each nimbus holds an ephemeral sequential node under
/// `leader-lock`, with its `host:port` as data; the lowest one leads. A leader that dies loses its node when
/// its session ends, and the next in line leads.
final class LeaderElection: Sendable {
    let state: StormClusterState
    let address: String
    private let latch = Locked<String?>(nil)

    init(state: StormClusterState, address: String) {
        self.state = state
        self.address = address
    }

    /// Enters the election (again, after a new session: the old node went with the old session).
    func join() async throws {
        let storage = state.storage
        try await storage.createParents(state.leaderLockPath)
        if let old = latch.withLock({ $0 }), try await storage.exists(old) != nil { return }
        let path = try await storage.create(
            state.leaderLockPath + "/latch-", data: Array(address.utf8), mode: .ephemeralSequential)
        latch.withLock { $0 = path }
    }

    /// The leader's `host:port`, or nil when no nimbus is in the election.
    func leader() async throws -> String? {
        let storage = state.storage
        for child in try await storage.childrenIfExists(state.leaderLockPath).sorted(by: Self.bySequence) {
            if let data = try await storage.read(state.leaderLockPath + "/" + child) {
                return String(decoding: data, as: UTF8.self)
            }
        }
        return nil
    }

    func isLeader() async throws -> Bool {
        guard let mine = latch.withLock({ $0 }) else { return false }
        let first = try await state.storage.childrenIfExists(state.leaderLockPath).sorted(by: Self.bySequence).first
        return first.map { state.leaderLockPath + "/" + $0 } == mine
    }

    /// Orders latch nodes by their sequence suffix, whatever prefix another implementation gave them.
    static func bySequence(_ a: String, _ b: String) -> Bool {
        (a.suffix(10), a) < (b.suffix(10), b)
    }
}
