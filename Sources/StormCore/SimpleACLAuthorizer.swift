import Foundation
import Glibc
import Locking

/// Storm's SimpleACLAuthorizer (`nimbus.authorizer`): who may run which nimbus operation.
///
/// In order: `nimbus.admins` (users) and `nimbus.admins.groups` may do anything; `nimbus.supervisor.users` only
/// what supervisors do; anyone may run the cluster-wide user operations when `nimbus.users` and `nimbus.groups`
/// are empty, else only those listed; a topology's operations are for its `topology.users`/`topology.groups`
/// (the submitter is always added), and its read-only ones also for `topology.readonly.users`/`.groups`.
public struct SimpleACLAuthorizer: Sendable {
    public static let className = "org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer"
    public static let key = "nimbus.authorizer"

    static let userOperations: Set<String> = [
        "submitTopology", "fileUpload", "getNimbusConf", "getClusterInfo", "getLeader", "isTopologyNameAllowed",
        "getTopologySummaries", "getTopologySummaryByName", "getTopologySummary", "getSupervisorPageInfo",
        "getOwnerResourceSummaries",
    ]
    static let supervisorOperations: Set<String> = [
        "fileDownload", "processWorkerMetrics", "getSupervisorAssignments", "sendSupervisorWorkerHeartbeats",
    ]
    static let topologyReadOnlyOperations: Set<String> = [
        "getTopologyConf", "getTopology", "getUserTopology", "getTopologyInfo", "getTopologyPageInfo",
        "getComponentPageInfo", "getWorkerProfileActionExpiry", "getComponentPendingProfileActions", "getLogConfig",
    ]
    static let topologyOperations: Set<String> = topologyReadOnlyOperations.union([
        "killTopology", "rebalance", "activate", "deactivate", "uploadNewCredentials", "setLogConfig",
        "setWorkerProfiler", "startProfiling", "stopProfiling", "dumpProfile", "dumpJstack", "dumpHeap", "debug",
        "sendSupervisorWorkerHeartbeat",
    ])

    let admins: Set<String>
    let adminGroups: Set<String>
    let supervisors: Set<String>
    let users: Set<String>
    let groups: Set<String>
    let groupsOf: @Sendable (String) -> Set<String>

    /// The authorizer `conf` asks for; nil when `nimbus.authorizer` is unset (every operation allowed).
    public static func configured(
        _ conf: StormConfig, groupsOf: @escaping @Sendable (String) -> Set<String> = UnixGroups.groups(of:)
    ) throws(ConfigError) -> SimpleACLAuthorizer? {
        guard let value = conf[key], !value.isNull else { return nil }
        guard value.stringValue == className else {
            throw .invalid(
                key, reason: "is \(value.display), which this build does not offer (only \(className))")
        }
        return try SimpleACLAuthorizer(conf: conf, groupsOf: groupsOf)
    }

    public init(
        conf: StormConfig, groupsOf: @escaping @Sendable (String) -> Set<String> = UnixGroups.groups(of:)
    ) throws(ConfigError) {
        func names(_ key: String) throws(ConfigError) -> Set<String> {
            guard let value = conf[key], !value.isNull else { return [] }
            do {
                return Set(try conf.stringList(key))
            } catch {
                throw .wrongType(key, expected: "a list of user or group names", got: value)
            }
        }
        admins = try names("nimbus.admins")
        adminGroups = try names("nimbus.admins.groups")
        supervisors = try names("nimbus.supervisor.users")
        users = try names("nimbus.users")
        groups = try names("nimbus.groups")
        self.groupsOf = groupsOf
    }

    /// Storm's DefaultPrincipalToLocal: a principal's local user is its name up to the first '/' or '@'.
    public static func localUser(_ principal: String) -> String {
        String(principal.prefix { $0 != "/" && $0 != "@" })
    }

    /// Names in a topology conf's ACL key (a list, or one name).
    public static func aclNames(_ conf: [String: ConfigValue], _ key: String) -> Set<String> {
        switch conf[key] {
        case .string(let one): [one]
        case .list(let items): Set(items.compactMap(\.stringValue))
        default: []
        }
    }

    /// Whether `principal` may run `operation`, on the topology with conf `topologyConf` for topology operations.
    public func permits(principal: String, operation: String, topologyConf: [String: ConfigValue]?) -> Bool {
        let user = Self.localUser(principal)
        // Looked up only when a rule names groups (and then from UnixGroups' cache).
        let groupsOf = self.groupsOf
        var userGroups: Set<String> { groupsOf(user) }
        if admins.contains(principal) || admins.contains(user)
            || (!adminGroups.isEmpty && !userGroups.isDisjoint(with: adminGroups))
        {
            return true
        }
        if supervisors.contains(principal) || supervisors.contains(user) {
            return Self.supervisorOperations.contains(operation)
        }
        if Self.userOperations.contains(operation) {
            return (users.isEmpty && groups.isEmpty) || users.contains(user)
                || (!groups.isEmpty && !userGroups.isDisjoint(with: groups))
        }
        guard Self.topologyOperations.contains(operation), let topologyConf else { return false }
        func listed(_ usersKey: String, _ groupsKey: String) -> Bool {
            let names = Self.aclNames(topologyConf, usersKey)
            if names.contains(principal) || names.contains(user) { return true }
            let groupNames = Self.aclNames(topologyConf, groupsKey)
            return !groupNames.isEmpty && !userGroups.isDisjoint(with: groupNames)
        }
        if listed("topology.users", "topology.groups") { return true }
        return Self.topologyReadOnlyOperations.contains(operation)
            && listed("topology.readonly.users", "topology.readonly.groups")
    }
}

/// A Unix user's groups, as Storm's ShellBasedUnixGroupsMapping finds them (`id -Gn`), from the system's
/// user and group databases; kept for two minutes, as Storm caches them
/// (`storm.group.mapping.service.cache.duration.secs`), since a lookup reads the group database.
public enum UnixGroups {
    private static let cache = Locked<[String: (groups: Set<String>, at: Date)]>([:])
    static let keptFor: TimeInterval = 120

    public static func groups(of user: String) -> Set<String> {
        let now = Date()
        if let kept = cache.withLock({ $0[user] }), now.timeIntervalSince(kept.at) < keptFor { return kept.groups }
        let found = lookUp(user)
        cache.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[user] = (found, now)
        }
        return found
    }

    private static func lookUp(_ user: String) -> Set<String> {
        var buffer = [CChar](repeating: 0, count: 16_384)
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        guard getpwnam_r(user, &entry, &buffer, buffer.count, &found) == 0, found != nil else { return [] }
        let primary = entry.pw_gid
        var count: Int32 = 64
        var ids = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &ids, &count) < 0 {
            ids = [gid_t](repeating: 0, count: Int(count))
            guard getgrouplist(user, primary, &ids, &count) >= 0 else { return [] }
        }
        var names: Set<String> = []
        for id in ids.prefix(Int(count)) {
            var group = group()
            var result: UnsafeMutablePointer<group>?
            if getgrgid_r(id, &group, &buffer, buffer.count, &result) == 0, result != nil {
                names.insert(String(cString: group.gr_name))
            }
        }
        return names
    }
}
