import ClusterState
import Foundation
import StormCore
import StormThrift

/// getTopologyHistory: the topologies that have assignments, and those killed within
/// `logviewer.cleanup.age.mins`, each shown to a user as Storm shows it.
extension Nimbus {
    /// An empty `user` is Storm's "no user" (security off): every topology. Otherwise nimbus' admins see every
    /// topology and other users those whose `topology.users` or `logs.users` name them. Storm also admits members
    /// of the topology's groups; this cluster has no group mapping, so groups are kept but not matched.
    /// On a cluster that authenticates, the user is the caller's, whatever the request names.
    public func getTopologyHistory(user requested: String) async throws -> TopologyHistoryInfo {
        let user = caller.map(SimpleACLAuthorizer.localUser) ?? requested
        let admins = (try? conf.stringList(ConfigKey.nimbusAdmins)) ?? []
        let seesAll = user.isEmpty || admins.contains(user)
        var ids = Set<String>()
        for id in try await state.storage.childrenIfExists(state.assignmentsPath) {
            if seesAll {
                ids.insert(id)
            } else if let topoConf = try? await stored(id).conf,
                Self.historyReaders(conf.merging(topoConf)).users.contains(user)
            {
                ids.insert(id)
            }
        }
        let history = try await state.topologyHistory()
        for (_, error) in history.unreadable {
            noteUnreadable(error, topology: nil, remedy: "it is left out of the topology history")
        }
        let cutoff = Int64(Date().timeIntervalSince1970) - historyRetentionSecs
        for entry in history.records.values where entry.killedAtSecs >= cutoff {
            if seesAll || entry.users.contains(user) { ids.insert(entry.topologyId) }
        }
        return TopologyHistoryInfo(topoIds: ids.sorted())
    }

    /// Notes a topology's kill in the history (a failure is logged: the kill itself has happened), and drops
    /// entries older than the retention, which keeps the history bounded by the kills of that period. The entries'
    /// kill times are read once per leadership, not at every kill: reading them all at each one made a leader's
    /// ZooKeeper requests grow with every kill of the retention period (a week by default).
    func recordKill(_ id: String) async {
        let readers = Self.historyReaders(conf.merging((try? await stored(id).conf) ?? [:]))
        let now = Int64(Date().timeIntervalSince1970)
        do {
            try await state.addTopologyHistory(
                TopologyHistoryEntry(topologyId: id, killedAtSecs: now, users: readers.users, groups: readers.groups))
            var killTimes: [String: Int64]
            if let known = historyKillTimes {
                killTimes = known
            } else {
                killTimes = try await state.topologyHistory().records.mapValues(\.killedAtSecs)
            }
            killTimes[id] = now
            for (old, killedAt) in killTimes where killedAt < now - historyRetentionSecs {
                try await state.removeTopologyHistory(old)
                killTimes[old] = nil
            }
            historyKillTimes = killTimes
        } catch {
            historyKillTimes = nil
            logger.warning("could not record the kill of \(id) in the topology history: \(error)")
        }
    }

    private var historyRetentionSecs: Int64 { Int64(conf.intOrDefault(ConfigKey.logviewerCleanupAgeMins)) * 60 }

    /// Who besides admins may see a topology in the history, from its full conf (Storm's users and groups keys).
    static func historyReaders(_ topoConf: StormConfig) -> (users: [String], groups: [String]) {
        func strings(_ keys: [String]) -> [String] {
            Set(keys.flatMap { (try? topoConf.stringList($0)) ?? [] }).sorted()
        }
        return (
            strings([ConfigKey.topologyUsers, ConfigKey.logsUsers]),
            strings([ConfigKey.topologyGroups, ConfigKey.logsGroups])
        )
    }
}
