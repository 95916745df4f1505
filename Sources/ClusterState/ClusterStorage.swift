/// How a node outlives its creator, as in ZooKeeper.
public enum NodeMode: Sendable {
    case persistent
    case ephemeral
    case persistentSequential
    case ephemeralSequential

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool { self == .persistentSequential || self == .ephemeralSequential }
}

/// A one-shot notification that a node changed, as ZooKeeper delivers them.
public enum WatchEvent: Sendable, Equatable {
    case created(String)
    case deleted(String)
    case dataChanged(String)
    case childrenChanged(String)
    /// The session behind the watch ended; its ephemeral nodes are gone and its watches will not fire.
    case sessionExpired

    public var path: String? {
        switch self {
        case .created(let p), .deleted(let p), .dataChanged(let p), .childrenChanged(let p): p
        case .sessionExpired: nil
        }
    }
}

public typealias Watcher = @Sendable (WatchEvent) -> Void

/// Who may touch a node besides the session's own identity, on a cluster whose ZooKeeper is secured.
public enum NodeAccess: Sendable, Equatable {
    /// The session's default: a daemon's nodes are the daemons' alone; a worker's are its topology's and the daemons'.
    case sessionDefault
    /// Also readable (and with `mayWrite`, writable) by the workers of the topology whose ZooKeeper digest identity
    /// (`user:hash`) is `digestId`.
    case topology(digestId: String, mayWrite: Bool)
}

public enum StorageError: Error, Equatable, CustomStringConvertible, Sendable {
    case noNode(String)
    case nodeExists(String)
    case badVersion(String, expected: Int32)
    case notEmpty(String)
    case noChildrenForEphemerals(String)
    case badPath(String)
    case sessionClosed
    case unavailable(String)
    /// The node's ACL does not let this session's identity do that.
    case notAuthorized(String)

    public var description: String {
        switch self {
        case .noNode(let p): "no node at \(p)"
        case .nodeExists(let p): "a node already exists at \(p)"
        case .badVersion(let p, let expected): "version conflict at \(p): it is no longer version \(expected)"
        case .notEmpty(let p): "node \(p) has children"
        case .noChildrenForEphemerals(let p): "\(p) cannot be created under an ephemeral node"
        case .badPath(let p): "'\(p)' is not a valid node path"
        case .sessionClosed: "the storage session is closed"
        case .unavailable(let reason): "cluster state storage is unavailable: \(reason)"
        case .notAuthorized(let p): "not authorized for \(p): ZooKeeper's ACL on it refuses this identity"
        }
    }
}

/// The raw cluster state: a tree of nodes with bytes, versions, watches and ephemeral nodes.
///
/// ZooKeeper's semantics: `version` arguments are compare-and-set (nil = any version); watches fire once;
/// ephemeral nodes vanish when the session that created them ends. One value of a conforming type is one
/// session.
public protocol ClusterStorage: Sendable {
    /// Creates a node; the parent must exist. Returns the path created (with the sequence suffix, if any).
    @discardableResult
    func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String
    /// The node's bytes and version; `watch` fires on its next change or deletion.
    func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32)
    /// Replaces the node's bytes if its version is `version` (nil: any); returns the new version.
    @discardableResult
    func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32
    /// Deletes a childless node if its version is `version` (nil: any).
    func delete(_ path: String, version: Int32?) async throws
    /// The names of the node's children, sorted; `watch` fires when the set of children changes.
    func children(_ path: String, watch: Watcher?) async throws -> [String]
    /// The node's version if it exists; `watch` fires on its creation, change or deletion.
    func exists(_ path: String, watch: Watcher?) async throws -> Int32?
    /// Ends the session: its ephemeral nodes are deleted.
    func close() async
    /// Runs `handler` whenever the session was replaced by a new one (the old one expired): the owner re-creates
    /// its ephemeral nodes and re-arms its watches there.
    func onNewSession(_ handler: @escaping @Sendable () async -> Void)
}

extension ClusterStorage {
    @discardableResult
    public func create(_ path: String, data: [UInt8], mode: NodeMode) async throws -> String {
        try await create(path, data: data, mode: mode, access: .sessionDefault)
    }
    public func get(_ path: String) async throws -> (data: [UInt8], version: Int32) { try await get(path, watch: nil) }
    public func children(_ path: String) async throws -> [String] { try await children(path, watch: nil) }
    public func exists(_ path: String) async throws -> Int32? { try await exists(path, watch: nil) }

    /// Creates `path` and any missing ancestors as empty persistent nodes.
    public func createParents(_ path: String) async throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            try await ensure(current)
        }
    }

    /// Creates `path` as an empty persistent node with `access` unless it exists; its parent must exist.
    public func ensure(_ path: String, access: NodeAccess = .sessionDefault) async throws {
        do {
            try await create(path, data: [], mode: .persistent, access: access)
        } catch StorageError.nodeExists {
        } catch StorageError.notAuthorized {
            // ZooKeeper checks the right to create before whether the node exists: a worker may not create in
            // the daemons' folders, which exist.
            guard try await exists(path) != nil else { throw StorageError.notAuthorized(path) }
        }
    }

    /// Writes `data` at `path`, creating the node (and its parents) if needed; a node it creates gets `access`
    /// (its parents the session's default).
    public func put(_ path: String, data: [UInt8], access: NodeAccess = .sessionDefault) async throws {
        do {
            try await set(path, data: data, version: nil)
        } catch StorageError.noNode {
            try await createParents(parent(of: path))
            do {
                try await create(path, data: data, mode: .persistent, access: access)
            } catch StorageError.nodeExists {
                try await set(path, data: data, version: nil)
            }
        }
    }

    /// The node's bytes, or nil if it does not exist.
    public func read(_ path: String) async throws -> [UInt8]? {
        do {
            return try await get(path).data
        } catch StorageError.noNode {
            return nil
        }
    }

    /// Deletes the node and everything below it; a missing node is not an error.
    public func deleteRecursively(_ path: String) async throws {
        let kids: [String]
        do {
            kids = try await children(path)
        } catch StorageError.noNode {
            return
        }
        for kid in kids { try await deleteRecursively(path + "/" + kid) }
        do {
            try await delete(path, version: nil)
        } catch StorageError.noNode {
        }
    }

    /// Children of a node that may not exist yet (then none).
    public func childrenIfExists(_ path: String) async throws -> [String] {
        do {
            return try await children(path)
        } catch StorageError.noNode {
            return []
        }
    }
}

func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
}

/// Checks a ZooKeeper-style absolute path: "/" or "/a/b" with no empty, "." or ".." components and no NUL.
/// One pass over the bytes: every storage call makes this check, so it stays off Foundation's string search.
func validatePath(_ path: String) throws {
    var utf8 = path.utf8.makeIterator()
    guard utf8.next() == UInt8(ascii: "/") else { throw StorageError.badPath(path) }
    if path.utf8.count == 1 { return }
    var componentLength = 0
    var dots = 0
    func endComponent() throws {
        if componentLength == 0 || componentLength == dots && dots <= 2 { throw StorageError.badPath(path) }
        componentLength = 0
        dots = 0
    }
    while let byte = utf8.next() {
        switch byte {
        case UInt8(ascii: "/"): try endComponent()
        case 0: throw StorageError.badPath(path)
        case UInt8(ascii: "."):
            componentLength += 1
            dots += 1
        default: componentLength += 1
        }
    }
    try endComponent()
}
