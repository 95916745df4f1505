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
        let started = ContinuousClock.now
        var walk = Walk()
        if !state.root.isEmpty { walk.merge(try await verify(root, daemonsOnly)) }
        let alive = Set(try await state.activeStorms())
        let shared: [String: Bool] = [
            state.stormsPath: false, state.assignmentsPath: false, state.logConfigsPath: false,
            state.workerbeatsPath: true, state.errorsPath: true,
        ]
        var topologyFolders: [(path: String, workersWrite: Bool, ids: [String])] = []
        for folder in try await children(root) {
            let path = state.root + "/" + folder
            if let workersWrite = shared[path] {
                walk.merge(try await verify(path, daemonsOnly))
                topologyFolders.append((path, workersWrite, try await children(path)))
            } else {
                walk.merge(try await verifyTree(path, daemonsOnly))
            }
        }
        let ids = Set(topologyFolders.flatMap(\.ids))
        let identities = try await self.identities(of: ids)
        walk.withoutIdentity = alive.intersection(ids).subtracting(identities.keys)
        // One round trip per node: the subtrees are walked side by side, so a large cluster's start is not a
        // node count of round trips long.
        let subtrees = topologyFolders.flatMap { folder in
            folder.ids.map { id in
                var acl = daemonsOnly
                if let credentials = identities[id] {
                    acl.entries.append(.digest(credentials: credentials, folder.workersWrite ? .all : .read))
                }
                return (path: folder.path + "/" + id, acl: acl)
            }
        }
        walk.merge(try await concurrently(subtrees) { try await verifyTree($0.path, $0.acl) })
        let took = ContinuousClock.now - started
        logger.info(
            "checked the ACLs of \(walk.checked) ZooKeeper node(s) under \(root) in \(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000) ms"
        )
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

    private struct Walk: Sendable {
        var checked = 0
        var fixed = 0
        var firstFix: Mismatch?
        var withoutIdentity: Set<String> = []

        mutating func merge(_ other: Walk) {
            checked += other.checked
            fixed += other.fixed
            if firstFix == nil { firstFix = other.firstFix }
            withoutIdentity.formUnion(other.withoutIdentity)
        }
    }

    private var daemonsOnly: ZooKeeperACL { ZooKeeperACL([daemons]) }

    /// Each topology's own ZooKeeper credentials, from its conf record; a topology without any is left out.
    private func identities(of ids: Set<String>) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: (String, String?).self) { group in
            var pending = ids.makeIterator()
            for _ in 0..<Self.width {
                guard let id = pending.next() else { break }
                group.addTask { (id, try await identity(of: id)) }
            }
            var found: [String: String] = [:]
            while let (id, credentials) = try await group.next() {
                found[id] = credentials
                if let next = pending.next() { group.addTask { (next, try await identity(of: next)) } }
            }
            return found
        }
    }

    private func identity(of id: String) async throws -> String? {
        guard let json = try await state.topologyConfJSON(id) else { return nil }
        return (try? ZooKeeperStorage.topologyAuth(StormConfig(JSON.decodeObject(json))))?.credentials
    }

    /// How many subtrees are walked at once.
    static let width = 32

    /// Runs `body` for each item, `width` at a time, and adds up what they found.
    private func concurrently<Item: Sendable>(
        _ items: [Item], _ body: @escaping @Sendable (Item) async throws -> Walk
    ) async throws -> Walk {
        try await withThrowingTaskGroup(of: Walk.self) { group in
            var pending = items.makeIterator()
            for _ in 0..<Self.width {
                guard let item = pending.next() else { break }
                group.addTask { try await body(item) }
            }
            var total = Walk()
            while let walk = try await group.next() {
                total.merge(walk)
                if let next = pending.next() { group.addTask { try await body(next) } }
            }
            return total
        }
    }

    private func verifyTree(_ path: String, _ expected: ZooKeeperACL) async throws -> Walk {
        var walk = try await verify(path, expected)
        for child in try await children(path) { walk.merge(try await verifyTree(path + "/" + child, expected)) }
        return walk
    }

    private func verify(_ path: String, _ expected: ZooKeeperACL) async throws -> Walk {
        var walk = Walk()
        let found: ZooKeeperACL
        do {
            found = try await client.acl(path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return walk  // gone while the walk ran: nothing to fix
        }
        walk.checked = 1
        guard !found.grantsAsMuch(as: expected) else { return walk }
        let mismatch = Mismatch(path: path, found: found, expected: expected)
        guard fixUp else { throw mismatch }
        do {
            try await client.setACL(path, expected)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return walk
        }
        walk.fixed = 1
        walk.firstFix = mismatch
        return walk
    }

    private func children(_ path: String) async throws -> [String] {
        do {
            return try await client.children(path)
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
    }
}
