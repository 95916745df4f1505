import Logging
import StormCore

/// The storage `storm.cluster.state.store` names: a new ZooKeeper session, or a fresh in-memory store.
public func makeClusterStorage(_ conf: StormConfig, logger: Logger) throws -> any ClusterStorage {
    switch try ClusterStoreKind(conf) {
    case .zookeeper: try ZooKeeperStorage(conf: conf, logger: logger)
    case .memory: InMemoryStore().session()
    }
}
