import Logging
import StormCore
import ZooKeeper

/// The cluster state in a real ZooKeeper: one session per value.
public struct ZooKeeperStorage: ClusterStorage {
    public let client: ZooKeeperClient
    /// The ACL of the nodes this session creates with `.sessionDefault`; nil: the client's own (a daemon's nodes are
    /// its identity's alone, or anyone's on an open cluster).
    let defaultACL: ZooKeeperACL?

    public init(client: ZooKeeperClient, defaultACL: ZooKeeperACL? = nil) {
        self.client = client
        self.defaultACL = defaultACL
    }

    /// A daemon's session: connects to `storm.zookeeper.servers` on `storm.zookeeper.port` with
    /// `storm.zookeeper.session.timeout`, as the daemons' identity.
    public init(conf: StormConfig, logger: Logger) throws {
        self.init(client: try Self.connect(conf, auth: try Self.auth(conf), logger: logger))
    }

    /// A worker's session: as its topology's own identity (`storm.zookeeper.topology.auth.*`), which reads its
    /// topology's nodes alone; the nodes it creates are its topology's and the daemons' (`storm.zookeeper.superACL`).
    /// - Parameter conf: the worker's conf, as `workerConf(from:)` made it.
    public init(workerConf conf: StormConfig, topologyConf: StormConfig, logger: Logger) throws {
        guard let identity = try Self.topologyAuth(topologyConf) else {
            if conf[Self.superACLKey] != nil {
                throw ConfigError.invalid(
                    Self.topologyPayloadKey,
                    reason:
                        "is not set, but the cluster's ZooKeeper is secured: resubmit the topology so that nimbus gives it one"
                )
            }
            self.init(client: try Self.connect(conf, auth: nil, logger: logger))
            return
        }
        let daemons = try Self.superACL(conf)
        self.init(
            client: try Self.connect(conf, auth: identity, logger: logger),
            defaultACL: ZooKeeperACL([.creator(), daemons]))
    }

    private static func connect(_ conf: StormConfig, auth: ZooKeeperAuth?, logger: Logger) throws -> ZooKeeperClient {
        let servers = try conf.stringList(ConfigKey.zookeeperServers)
        let port = try conf.int(ConfigKey.zookeeperPort)
        let connect = servers.map { $0.contains(":") ? $0 : "\($0):\(port)" }.joined(separator: ",")
        return try ZooKeeperClient(
            connectString: connect, sessionTimeoutMillis: try conf.int(ConfigKey.zookeeperSessionTimeout),
            auth: auth, logger: logger)
    }

    public static let superACLKey = "storm.zookeeper.superACL"
    public static let topologySchemeKey = "storm.zookeeper.topology.auth.scheme"
    public static let topologyPayloadKey = "storm.zookeeper.topology.auth.payload"

    /// The conf a supervisor hands its workers: its own without the daemons' ZooKeeper password, which a worker (run
    /// as its topology's owner) must not learn, and with Storm's `storm.zookeeper.superACL` naming the daemons'
    /// identity, so that the nodes workers create stay the daemons' too. A superACL set by hand is kept.
    public static func workerConf(from conf: StormConfig) throws(ConfigError) -> StormConfig {
        guard let auth = try auth(conf) else { return conf }
        var values = conf.values
        values["storm.zookeeper.auth.scheme"] = nil
        values["storm.zookeeper.auth.payload"] = nil
        if conf[superACLKey] == nil || conf[superACLKey]?.isNull == true {
            values[superACLKey] = .string("digest:" + ZooKeeperACL.digestId(credentials: auth.credentials))
        }
        let handed = StormConfig(values)
        _ = try superACL(handed)
        return handed
    }

    /// The daemons' identity with every right, from Storm's `storm.zookeeper.superACL` (`digest:USER:HASH`).
    static func superACL(_ conf: StormConfig) throws(ConfigError) -> ZooKeeperACL.Entry {
        guard let text = conf[superACLKey]?.stringValue, let entry = ZooKeeperACL.entry(parsing: text, .all),
            entry.scheme == "digest", entry.id.contains(":")
        else {
            throw .invalid(
                superACLKey,
                reason: "must be digest:USER:HASH, the daemons' ZooKeeper identity (only the digest scheme is offered)")
        }
        return entry
    }

    /// A topology's own ZooKeeper identity, which nimbus gives it at submit when the daemons' is set: Storm's
    /// `storm.zookeeper.topology.auth.scheme` and `.payload`. Nil when it has none.
    public static func topologyAuth(_ topologyConf: StormConfig) throws(ConfigError) -> ZooKeeperAuth? {
        guard let scheme = topologyConf[topologySchemeKey], !scheme.isNull else { return nil }
        guard scheme.stringValue == "digest" else {
            throw .invalid(topologySchemeKey, reason: "is \(scheme.display); only digest is offered")
        }
        guard let payload = topologyConf[topologyPayloadKey]?.stringValue, isDigestCredentials(payload) else {
            throw .invalid(topologyPayloadKey, reason: "must be USER:PASSWORD for the digest scheme")
        }
        return ZooKeeperAuth(scheme: "digest", credentials: payload)
    }

    static func isDigestCredentials(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        return colon != text.startIndex && text.index(after: colon) != text.endIndex
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
        guard let payload = conf[payloadKey]?.stringValue, isDigestCredentials(payload) else {
            throw .invalid(payloadKey, reason: "must be USER:PASSWORD for the digest scheme")
        }
        return ZooKeeperAuth(scheme: "digest", credentials: payload)
    }

    public func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String {
        try validatePath(path)
        let zkMode: CreateMode =
            switch mode {
            case .persistent: .persistent
            case .ephemeral: .ephemeral
            case .persistentSequential: .persistentSequential
            case .ephemeralSequential: .ephemeralSequential
            }
        let acl: ZooKeeperACL? =
            switch access {
            case .sessionDefault: defaultACL
            // An open cluster's nodes are anyone's already.
            case .topology where client.auth == nil: nil
            case .topology(let digestId, let mayWrite):
                ZooKeeperACL([.creator(), .init(mayWrite ? .all : .read, scheme: "digest", id: digestId)])
            }
        return try await mapped(path) { try await client.create(path, data: data, mode: zkMode, acl: acl) }
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
            case .noAuth: throw StorageError.notAuthorized(path)
            case .connectionLoss, .operationTimeout, .sessionExpired, .other:
                throw StorageError.unavailable("ZooKeeper at \(client.connectString): \(error.message)")
            }
        }
    }
}
