import Locking

/// An in-memory tree with ZooKeeper's semantics, shared by any number of sessions: the store of local mode and
/// of tests. Watches fire on the thread that made the change, after the store's lock is released.
public final class InMemoryStore: Sendable {
    private struct Node {
        var data: [UInt8]
        var version: Int32 = 0
        var ephemeralOwner: Int64? = nil
        var children: Set<String> = []
        /// Like ZooKeeper's cversion: counts child creations and deletions, and numbers sequential children.
        var sequence: Int32 = 0
    }

    private struct State {
        var nodes: [String: Node] = ["/": Node(data: [])]
        var dataWatches: [String: [Watcher]] = [:]
        var childWatches: [String: [Watcher]] = [:]
        var nextSession: Int64 = 1
        var closedSessions: Set<Int64> = []
    }

    private let state = Locked(State())

    public init() {}

    /// Opens a new session on this store.
    public func session() -> InMemoryStorage {
        let id = state.withLock { s -> Int64 in
            defer { s.nextSession += 1 }
            return s.nextSession
        }
        return InMemoryStorage(store: self, session: id)
    }

    /// How many watches wait on the node's data and on its children.
    func watchCount(_ path: String) -> (data: Int, children: Int) {
        state.withLock { ($0.dataWatches[path]?.count ?? 0, $0.childWatches[path]?.count ?? 0) }
    }

    // MARK: operations, called by sessions

    func create(_ path: String, data: [UInt8], mode: NodeMode, session: Int64) throws -> String {
        try validatePath(path)
        if path == "/" { throw StorageError.nodeExists(path) }
        var fired: [(Watcher, WatchEvent)] = []
        let created = try state.withLock { s -> String in
            try Self.checkOpen(s, session)
            let parentPath = parent(of: path)
            guard var parentNode = s.nodes[parentPath] else { throw StorageError.noNode(path) }
            if parentNode.ephemeralOwner != nil { throw StorageError.noChildrenForEphemerals(path) }
            var actual = path
            if mode.isSequential {
                let digits = String(parentNode.sequence)
                actual += String(repeating: "0", count: max(0, 10 - digits.count)) + digits
            }
            if s.nodes[actual] != nil { throw StorageError.nodeExists(actual) }
            parentNode.sequence &+= 1
            let name = String(actual[actual.index(after: actual.lastIndex(of: "/")!)...])
            parentNode.children.insert(name)
            s.nodes[parentPath] = parentNode
            s.nodes[actual] = Node(data: data, ephemeralOwner: mode.isEphemeral ? session : nil)
            fired += Self.take(&s.dataWatches, actual).map { ($0, .created(actual)) }
            fired += Self.take(&s.childWatches, parentPath).map { ($0, .childrenChanged(parentPath)) }
            return actual
        }
        fired.forEach { $0.0($0.1) }
        return created
    }

    func get(_ path: String, watch: Watcher?, session: Int64) throws -> ([UInt8], Int32) {
        try validatePath(path)
        return try state.withLock { s in
            try Self.checkOpen(s, session)
            guard let node = s.nodes[path] else { throw StorageError.noNode(path) }
            if let watch { s.dataWatches[path, default: []].append(watch) }
            return (node.data, node.version)
        }
    }

    func set(_ path: String, data: [UInt8], version: Int32?, session: Int64) throws -> Int32 {
        try validatePath(path)
        var fired: [Watcher] = []
        let newVersion = try state.withLock { s -> Int32 in
            try Self.checkOpen(s, session)
            guard var node = s.nodes[path] else { throw StorageError.noNode(path) }
            if let version, version != node.version {
                throw StorageError.badVersion(path, expected: version)
            }
            node.data = data
            node.version &+= 1
            s.nodes[path] = node
            fired = Self.take(&s.dataWatches, path)
            return node.version
        }
        fired.forEach { $0(.dataChanged(path)) }
        return newVersion
    }

    func delete(_ path: String, version: Int32?, session: Int64) throws {
        try validatePath(path)
        if path == "/" { throw StorageError.badPath(path) }
        let fired = try state.withLock { s -> [(Watcher, WatchEvent)] in
            try Self.checkOpen(s, session)
            guard let node = s.nodes[path] else { throw StorageError.noNode(path) }
            if let version, version != node.version {
                throw StorageError.badVersion(path, expected: version)
            }
            if !node.children.isEmpty { throw StorageError.notEmpty(path) }
            return Self.remove(&s, path)
        }
        fired.forEach { $0.0($0.1) }
    }

    func children(_ path: String, watch: Watcher?, session: Int64) throws -> [String] {
        try validatePath(path)
        return try state.withLock { s in
            try Self.checkOpen(s, session)
            guard let node = s.nodes[path] else { throw StorageError.noNode(path) }
            if let watch { s.childWatches[path, default: []].append(watch) }
            return node.children.sorted()
        }
    }

    func exists(_ path: String, watch: Watcher?, session: Int64) throws -> Int32? {
        try validatePath(path)
        return try state.withLock { s in
            try Self.checkOpen(s, session)
            if let watch { s.dataWatches[path, default: []].append(watch) }
            return s.nodes[path]?.version
        }
    }

    func close(session: Int64) {
        let fired = state.withLock { s -> [(Watcher, WatchEvent)] in
            guard !s.closedSessions.contains(session) else { return [] }
            s.closedSessions.insert(session)
            let owned = s.nodes.filter { $0.value.ephemeralOwner == session }.keys.sorted(by: >)
            return owned.flatMap { Self.remove(&s, $0) }
        }
        fired.forEach { $0.0($0.1) }
    }

    private static func checkOpen(_ s: State, _ session: Int64) throws {
        if s.closedSessions.contains(session) { throw StorageError.sessionClosed }
    }

    private static func take(_ watches: inout [String: [Watcher]], _ path: String) -> [Watcher] {
        watches.removeValue(forKey: path) ?? []
    }

    private static func remove(_ s: inout State, _ path: String) -> [(Watcher, WatchEvent)] {
        s.nodes[path] = nil
        let parentPath = parent(of: path)
        let name = String(path[path.index(after: path.lastIndex(of: "/")!)...])
        s.nodes[parentPath]?.children.remove(name)
        s.nodes[parentPath]?.sequence &+= 1
        var fired = take(&s.dataWatches, path).map { ($0, WatchEvent.deleted(path)) }
        fired += take(&s.childWatches, path).map { ($0, WatchEvent.deleted(path)) }
        fired += take(&s.childWatches, parentPath).map { ($0, WatchEvent.childrenChanged(parentPath)) }
        return fired
    }
}

/// One session on an InMemoryStore.
public struct InMemoryStorage: ClusterStorage {
    let store: InMemoryStore
    let session: Int64

    @discardableResult
    /// One process's state has no identities: `access` has nothing to restrict.
    public func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String {
        try store.create(path, data: data, mode: mode, session: session)
    }
    public func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32) {
        try store.get(path, watch: watch, session: session)
    }
    @discardableResult
    public func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32 {
        try store.set(path, data: data, version: version, session: session)
    }
    public func delete(_ path: String, version: Int32?) async throws {
        try store.delete(path, version: version, session: session)
    }
    public func children(_ path: String, watch: Watcher?) async throws -> [String] {
        try store.children(path, watch: watch, session: session)
    }
    public func exists(_ path: String, watch: Watcher?) async throws -> Int32? {
        try store.exists(path, watch: watch, session: session)
    }
    public func close() async { store.close(session: session) }
    /// An in-memory session never expires.
    public func onNewSession(_ handler: @escaping @Sendable () async -> Void) {}
}
