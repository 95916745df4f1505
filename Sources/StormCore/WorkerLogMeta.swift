/// A worker's `worker.yaml`, which its supervisor writes beside the worker's log, as Storm's does: who may read
/// that log (`logs.users`, `logs.groups`), which the log viewer checks.
public enum WorkerLogMeta {
    public static let fileName = "worker.yaml"

    /// The file's text for a worker of the topology with conf `topologyConf`: its `topology.users`,
    /// `topology.groups`, `logs.users` and `logs.groups`, and its owner. JSON, which is YAML too.
    public static func render(workerId: String, topologyConf: [String: ConfigValue]) -> String {
        var users = SimpleACLAuthorizer.aclNames(topologyConf, "topology.users")
            .union(SimpleACLAuthorizer.aclNames(topologyConf, "logs.users"))
        for key in [ConfigKey.topologySubmitterUser, ConfigKey.topologySubmitterPrincipal] {
            if let owner = topologyConf[key]?.stringValue { users.insert(owner) }
        }
        let groups = SimpleACLAuthorizer.aclNames(topologyConf, "topology.groups")
            .union(SimpleACLAuthorizer.aclNames(topologyConf, "logs.groups"))
        let meta: ConfigValue = .map([
            "worker-id": .string(workerId),
            "logs.users": .list(users.sorted().map { .string($0) }),
            "logs.groups": .list(groups.sorted().map { .string($0) }),
        ])
        return (try? JSON.encode(meta)) ?? "{}"
    }
}
