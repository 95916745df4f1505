import Logging
import StormCore

/// The storage `storm.cluster.state.store` names: a new ZooKeeper session, or a fresh in-memory store.
public func makeClusterStorage(_ conf: StormConfig, logger: Logger) throws -> any ClusterStorage {
    switch try ClusterStoreKind(conf) {
    case .zookeeper: try ZooKeeperStorage(conf: conf, logger: logger)
    case .memory: InMemoryStore().session()
    }
}

/// A worker's storage: as `makeClusterStorage`, but a ZooKeeper session logs in as the topology's own identity.
/// - Parameter conf: the worker's conf, as its supervisor handed it.
public func makeWorkerClusterStorage(
    _ conf: StormConfig, topologyId: String, logger: Logger
) throws -> any ClusterStorage {
    switch try ClusterStoreKind(conf) {
    case .zookeeper:
        let topologyConf = StormConfig(
            try StormDist.conf(localDir: try conf.string(ConfigKey.localDir), topologyId: topologyId))
        return try ZooKeeperStorage(workerConf: conf, topologyConf: topologyConf, logger: logger)
    case .memory: return InMemoryStore().session()
    }
}
