/// Which cluster state storage a daemon uses (`storm.cluster.state.store`).
public enum ClusterStoreKind: Sendable, Equatable {
    /// ZooKeeper at `storm.zookeeper.servers`: Storm's default, and what a cluster of processes needs.
    case zookeeper
    /// In this process only: one nimbus on its own, and local mode.
    case memory

    public static let memoryName = "memory"
    public static let zookeeperNames = ["org.apache.storm.cluster.ZKStateStorageFactory", "zookeeper"]

    public init(_ conf: StormConfig) throws {
        let name = conf[ConfigKey.clusterStateStore]?.stringValue ?? Self.zookeeperNames[0]
        if name == Self.memoryName {
            self = .memory
        } else if Self.zookeeperNames.contains(name) {
            self = .zookeeper
        } else {
            throw ConfigError.invalid(
                ConfigKey.clusterStateStore,
                reason:
                    "names '\(name)', which this build does not provide (available: \(Self.zookeeperNames.joined(separator: ", ")), \(Self.memoryName))"
            )
        }
    }
}
