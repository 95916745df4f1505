import DaemonHTTP
import Foundation
import StormCore

/// Who may read which log, as Storm's log viewer decides once its users authenticate: the cluster's `logs.users`
/// and `logs.groups`, and its admins (`nimbus.admins`, `nimbus.admins.groups`), read every log; a worker's log is
/// also for the users and groups its supervisor listed in the worker's `worker.yaml` (the topology's
/// `topology.users`, `topology.groups`, `logs.users` and `logs.groups`, and its owner). A log viewer open to
/// anyone lets anyone read.
struct LogAccess: Sendable {
    let workers: LogDirectory
    let enforced: Bool
    let users: Set<String>
    let groups: Set<String>
    let groupsOf: @Sendable (String) -> Set<String>

    init(
        conf: StormConfig, workers: LogDirectory, enforced: Bool,
        groupsOf: @escaping @Sendable (String) -> Set<String> = UnixGroups.groups(of:)
    ) {
        func names(_ key: String) -> Set<String> { SimpleACLAuthorizer.aclNames(conf.values, key) }
        self.workers = workers
        self.enforced = enforced
        users = names("logs.users").union(names("nimbus.admins"))
        groups = names("logs.groups").union(names("nimbus.admins.groups"))
        self.groupsOf = groupsOf
    }

    /// Whether `user` (nil: nobody authenticated) may read the worker log `topology/port/file`.
    func mayReadWorkerLog(_ name: String, as user: String?) -> Bool {
        guard enforced else { return true }
        let parts = name.split(separator: "/")
        guard parts.count == 3, let meta = workers.file("\(parts[0])/\(parts[1])/\(WorkerLogMeta.fileName)"),
            let text = try? String(contentsOfFile: meta, encoding: .utf8),
            let listed = try? JSON.decodeObject(text) as [String: ConfigValue]
        else { return mayReadDaemonLog(as: user) }
        return permits(
            user,
            users: SimpleACLAuthorizer.aclNames(listed, "logs.users"),
            groups: SimpleACLAuthorizer.aclNames(listed, "logs.groups"))
    }

    /// Whether `user` may read the node's daemon logs.
    func mayReadDaemonLog(as user: String?) -> Bool {
        guard enforced else { return true }
        return permits(user, users: [], groups: [])
    }

    private func permits(_ user: String?, users extraUsers: Set<String>, groups extraGroups: Set<String>) -> Bool {
        guard let user, !user.isEmpty else { return false }
        let local = SimpleACLAuthorizer.localUser(user)
        let allowedUsers = users.union(extraUsers)
        if allowedUsers.contains(user) || allowedUsers.contains(local) { return true }
        let allowedGroups = groups.union(extraGroups)
        return !allowedGroups.isEmpty && !groupsOf(local).isDisjoint(with: allowedGroups)
    }

}
