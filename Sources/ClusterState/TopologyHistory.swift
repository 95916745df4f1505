import Foundation
import StormThrift

/// A topology this cluster killed, kept for getTopologyHistory with who may see it.
///
/// JSON, not Thrift: Storm keeps this record (LSTopoHistory) in a nimbus' local state, and our IDL holds only what
/// crosses the wire or ZooKeeper in Storm.
public struct TopologyHistoryEntry: Codable, Sendable, Equatable {
    public var topologyId: String
    public var killedAtSecs: Int64
    public var users: [String]
    public var groups: [String]

    public init(topologyId: String, killedAtSecs: Int64, users: [String], groups: [String]) {
        self.topologyId = topologyId
        self.killedAtSecs = killedAtSecs
        self.users = users
        self.groups = groups
    }
}

/// Killed topologies, one node each under `topology-history/`: in the cluster state rather than on one nimbus'
/// disk, so that a nimbus taking over the lead answers with the same history.
extension StormClusterState {
    public var topologyHistoryPath: String { root + "/topology-history" }

    public func addTopologyHistory(_ entry: TopologyHistoryEntry) async throws {
        let data = try JSONEncoder().encode(entry)
        try await storage.put(topologyHistoryPath + "/" + entry.topologyId, data: Array(data))
    }

    /// Every entry that can be read, and why each other cannot (by topology id).
    public func topologyHistory() async throws -> Records<TopologyHistoryEntry> {
        var out = Records<TopologyHistoryEntry>()
        for id in try await storage.childrenIfExists(topologyHistoryPath) {
            let path = topologyHistoryPath + "/" + id
            guard let bytes = try await storage.read(path) else { continue }
            do {
                out.records[id] = try JSONDecoder().decode(TopologyHistoryEntry.self, from: Data(bytes))
            } catch {
                out.unreadable[id] = .corrupt(path, "\(error)")
            }
        }
        return out
    }

    public func removeTopologyHistory(_ id: String) async throws {
        try await storage.deleteRecursively(topologyHistoryPath + "/" + id)
    }
}
