import Logging
import StormCore
import ZooKeeper

/// The cluster state in a real ZooKeeper: one session per value.
public struct ZooKeeperStorage: ClusterStorage {
    public let client: ZooKeeperClient

    public init(client: ZooKeeperClient) { self.client = client }

    /// Connects to `storm.zookeeper.servers` on `storm.zookeeper.port` with `storm.zookeeper.session.timeout`.
    public init(conf: StormConfig, logger: Logger) throws {
        let servers = try conf.stringList(ConfigKey.zookeeperServers)
        let port = try conf.int(ConfigKey.zookeeperPort)
        let connect = servers.map { $0.contains(":") ? $0 : "\($0):\(port)" }.joined(separator: ",")
        client = try ZooKeeperClient(
            connectString: connect, sessionTimeoutMillis: try conf.int(ConfigKey.zookeeperSessionTimeout),
            auth: try Self.auth(conf), logger: logger)
    }

    /// Storm's `storm.zookeeper.auth.scheme` and `storm.zookeeper.auth.payload`: the daemons' shared ZooKeeper
    /// identity. With it, every node a daemon creates is readable and writable by that identity alone.
    public static func auth(_ conf: StormConfig) throws(ConfigError) -> ZooKeeperAuth? {
        let schemeKey = "storm.zookeeper.auth.scheme"
        let payloadKey = "storm.zookeeper.auth.payload"
        guard let value = conf[schemeKey], !value.isNull else {
            if let payload = conf[payloadKey], !payload.isNull {
                throw .invalid(payloadKey, reason: "is set but \(schemeKey) is not: set it to digest")
            }
            return nil
        }
        guard value.stringValue == "digest" else {
            throw .invalid(schemeKey, reason: "is \(value.display); only digest is offered (Kerberos is not)")
        }
        guard let payload = conf[payloadKey]?.stringValue, let colon = payload.firstIndex(of: ":"),
            colon != payload.startIndex, payload.index(after: colon) != payload.endIndex
        else {
            throw .invalid(payloadKey, reason: "must be USER:PASSWORD for the digest scheme")
        }
        return ZooKeeperAuth(scheme: "digest", credentials: payload)
    }

    public func create(_ path: String, data: [UInt8], mode: NodeMode) async throws -> String {
        try validatePath(path)
        let zkMode: CreateMode =
            switch mode {
            case .persistent: .persistent
            case .ephemeral: .ephemeral
            case .persistentSequential: .persistentSequential
            case .ephemeralSequential: .ephemeralSequential
            }
        return try await mapped(path) { try await client.create(path, data: data, mode: zkMode) }
    }

    public func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32) {
        try validatePath(path)
        let (data, stat) = try await mapped(path) { try await client.get(path, watch: watch.map(Self.adapt)) }
        return (data, stat.version)
    }

    public func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32 {
        try validatePath(path)
        return try await mapped(path, version: version) {
            try await client.set(path, data: data, version: version ?? -1).version
        }
    }

    public func delete(_ path: String, version: Int32?) async throws {
        try validatePath(path)
        try await mapped(path, version: version) { try await client.delete(path, version: version ?? -1) }
    }

    public func children(_ path: String, watch: Watcher?) async throws -> [String] {
        try validatePath(path)
        return try await mapped(path) { try await client.children(path, watch: watch.map(Self.adapt)) }
    }

    public func exists(_ path: String, watch: Watcher?) async throws -> Int32? {
        try validatePath(path)
        return try await mapped(path) { try await client.exists(path, watch: watch.map(Self.adapt))?.version }
    }

    public func close() async { await client.close() }

    public func onNewSession(_ handler: @escaping @Sendable () async -> Void) { client.onNewSession(handler) }

    private static func adapt(_ watcher: @escaping Watcher) -> @Sendable (ZooKeeperEvent) -> Void {
        { event in
            switch event {
            case .created(let p): watcher(.created(p))
            case .deleted(let p): watcher(.deleted(p))
            case .dataChanged(let p): watcher(.dataChanged(p))
            case .childrenChanged(let p): watcher(.childrenChanged(p))
            }
        }
    }

    private func mapped<T>(_ path: String, version: Int32? = nil, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ZooKeeperError {
            switch error.code {
            case .noNode: throw StorageError.noNode(path)
            case .nodeExists: throw StorageError.nodeExists(path)
            case .badVersion: throw StorageError.badVersion(path, expected: version ?? -1)
            case .notEmpty: throw StorageError.notEmpty(path)
            case .noChildrenForEphemerals: throw StorageError.noChildrenForEphemerals(path)
            case .closed: throw StorageError.sessionClosed
            case .connectionLoss, .operationTimeout, .sessionExpired, .other:
                throw StorageError.unavailable("ZooKeeper at \(client.connectString): \(error.message)")
            }
        }
    }
}
