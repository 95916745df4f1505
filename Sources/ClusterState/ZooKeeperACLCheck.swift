import Logging
import StormCore
import ZooKeeper

/// Storm's ACL enforcement at nimbus' start (`storm.nimbus.zookeeper.acls.check`, `storm.nimbus.zookeeper.acls.fixup`):
/// every node under `storm.zookeeper.root` gets the ACL a secured cluster gives it. Nodes made while the cluster was
/// open (anyone's) or by an older release become the daemons' alone, and a topology's nodes readable (its heartbeats
/// and errors writable) by that topology's identity. Nothing is deleted.
public struct ZooKeeperACLCheck: Sendable {
    public static let checkKey = "storm.nimbus.zookeeper.acls.check"
    public static let fixUpKey = "storm.nimbus.zookeeper.acls.fixup"

    let client: ZooKeeperClient
    let state: StormClusterState
    /// The daemons' identity, with every right.
    let daemons: ZooKeeperACL.Entry
    /// Whether a wrong ACL is replaced (Storm's default) or stops nimbus.
    let fixUp: Bool
    let logger: Logger

    /// A node whose ACL is not what it should be, when nimbus may not fix it.
    public struct Mismatch: Error, CustomStringConvertible, Equatable {
        public let path: String
        public let found: ZooKeeperACL
        public let expected: ZooKeeperACL

        public var description: String {
            "ZooKeeper node \(path) has ACL \(Self.show(found)), not \(Self.show(expected)); set \(ZooKeeperACLCheck.fixUpKey) to true to let nimbus fix it"
        }

        static func show(_ acl: ZooKeeperACL) -> String {
            "[" + acl.entries.map(\.description).joined(separator: ", ") + "]"
        }
    }

    /// The check `conf` asks for over `storage`; nil when there is nothing to check: the cluster state is not in
    /// ZooKeeper, the daemons have no ZooKeeper identity (an open cluster), or the check is off.
    public static func configured(
        _ conf: StormConfig, storage: any ClusterStorage, logger: Logger
    ) throws(ConfigError) -> ZooKeeperACLCheck? {
        let check = try conf.flag(checkKey, default: true)
        let fixUp = try conf.flag(fixUpKey, default: true)
        guard check, let zooKeeper = storage as? ZooKeeperStorage, let auth = try ZooKeeperStorage.auth(conf) else {
            return nil
        }
        let root = (try? conf.string(ConfigKey.zookeeperRoot)) ?? "/storm"
        return ZooKeeperACLCheck(
            client: zooKeeper.client, state: StormClusterState(storage: storage, root: root),
            daemons: .digest(credentials: auth.credentials, .all), fixUp: fixUp, logger: logger)
    }

    /// Checks (and fixes) every node; returns how many were fixed.
    @discardableResult
    public func run() async throws -> Int {
        let root = state.root.isEmpty ? "/" : state.root
        guard try await client.exists(root) != nil else { return 0 }
        var walk = Walk()
        if !state.root.isEmpty { try await verify(root, daemonsOnly, &walk) }
        let alive = Set(try await state.activeStorms())
        for folder in try await children(root) {
            let path = state.root + "/" + folder
            switch path {
            case state.stormsPath, state.assignmentsPath, state.logConfigsPath:
                try await verifyTopologyFolder(path, workersWrite: false, alive: alive, &walk)
            case state.workerbeatsPath, state.errorsPath:
                try await verifyTopologyFolder(path, workersWrite: true, alive: alive, &walk)
            default:
                try await verifyTree(path, daemonsOnly, &walk)
            }
        }
        if let first = walk.firstFix {
            logger.warning(
                "fixed the ACLs of \(walk.fixed) ZooKeeper node(s) under \(root) (first \(first.path): was \(Mismatch.show(first.found)), now \(Mismatch.show(first.expected)))"
            )
        }
        for id in walk.withoutIdentity.sorted() {
            logger.warning(
                "topology \(id) has no ZooKeeper identity of its own (it was submitted before ZooKeeper was secured): its nodes are the daemons' alone and its workers cannot read them; kill it and submit it again"
            )
        }
        return walk.fixed
    }

    private struct Walk {
        var fixed = 0
        var firstFix: Mismatch?
        var withoutIdentity: Set<String> = []
    }

    private var daemonsOnly: ZooKeeperACL { ZooKeeperACL([daemons]) }

    /// A folder with one child per topology: the folder is the daemons', each topology's subtree shared with it.
    private func verifyTopologyFolder(
        _ path: String, workersWrite: Bool, alive: Set<String>, _ walk: inout Walk
    ) async throws {
        try await verify(path, daemonsOnly, &walk)
        for id in try await children(path) {
            var acl = daemonsOnly
            if let json = try await state.topologyConfJSON(id),
                let auth = try? ZooKeeperStorage.topologyAuth(StormConfig(JSON.decodeObject(json)))
            {
                acl.entries.append(.digest(credentials: auth.credentials, workersWrite ? .all : .read))
            } else if alive.contains(id) {
                walk.withoutIdentity.insert(id)
            }
            try await verifyTree(path + "/" + id, acl, &walk)
        }
    }

    private func verifyTree(_ path: String, _ expected: ZooKeeperACL, _ walk: inout Walk) async throws {
        try await verify(path, expected, &walk)
        for child in try await children(path) { try await verifyTree(path + "/" + child, expected, &walk) }
    }

    private func verify(_ path: String, _ expected: ZooKeeperACL, _ walk: inout Walk) async throws {
        let found: ZooKeeperACL
        do {
            found = try await client.acl(path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return  // gone while the walk ran: nothing to fix
        }
        guard !found.grantsAsMuch(as: expected) else { return }
        let mismatch = Mismatch(path: path, found: found, expected: expected)
        guard fixUp else { throw mismatch }
        do {
            try await client.setACL(path, expected)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return
        }
        walk.fixed += 1
        if walk.firstFix == nil { walk.firstFix = mismatch }
    }

    private func children(_ path: String) async throws -> [String] {
        do {
            return try await client.children(path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
    }
}
