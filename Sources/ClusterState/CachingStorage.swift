import Synchronization

/// A session's reads of chosen subtrees served from memory, each kept only while a watch on it has not fired.
/// Nimbus answers cluster queries (getClusterInfo reads every topology's base and assignment, every supervisor
/// and nimbus) from it: through ZooKeeper, each of those reads was a round trip, and 100 topologies made a query
/// take tens of milliseconds.
///
/// What it returns is what ZooKeeper held when its watch was set, and ZooKeeper sends a watch's event before
/// anything newer, so a read here is never older than a read of ZooKeeper would have been before the event
/// arrived. Its own writes forget what they touch as they complete, so a writer reads what it wrote. A read
/// that a watch's event overtakes is not kept. A new session forgets everything (the old session's watches
/// will not fire). Reads with a caller's watch, `exists`, and paths outside `subtrees` go to ZooKeeper.
public final class CachingStorage: ClusterStorage {
    private let inner: any ClusterStorage
    private let subtrees: [String]
    private let table = Mutex(Table())

    /// - Parameter subtrees: the paths whose nodes and children are kept (each with everything under it).
    public init(_ inner: any ClusterStorage, subtrees: [String]) {
        self.inner = inner
        self.subtrees = subtrees
        inner.onNewSession { [weak self] in self?.forgetAll() }
    }

    private enum Slot<Value: Sendable>: Sendable {
        /// A read is under way; its answer is kept only if the slot still holds this token when it arrives.
        case loading(UInt64)
        case kept(Value)
    }

    private enum ReadPlan<Value: Sendable> {
        case answer(Value)
        case load(UInt64)
        /// Another read of the path is under way: this one reads without keeping.
        case pass
    }

    /// What a watch was set on: a node's data or its children.
    private enum Kind {
        case node
        case children
    }

    private struct Table {
        var nodes: [String: Slot<(data: [UInt8], version: Int32)>] = [:]
        var children: [String: Slot<[String]>] = [:]
        var nextToken: UInt64 = 0
        /// Reads answered from memory, and reads that went to the storage: for tests and benchmarks.
        var hits = 0
        var misses = 0
    }

    /// Reads answered from memory and reads that went to the storage, since the start.
    public var counts: (hits: Int, misses: Int) { table.withLock { ($0.hits, $0.misses) } }

    private func isKept(_ path: String) -> Bool {
        subtrees.contains { path == $0 || (path.hasPrefix($0) && path.dropFirst($0.count).first == "/") }
    }

    public func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32) {
        guard watch == nil, isKept(path) else { return try await inner.get(path, watch: watch) }
        return try await read(path, .node, \.nodes) { forget in try await self.inner.get(path, watch: forget) }
    }

    public func children(_ path: String, watch: Watcher?) async throws -> [String] {
        guard watch == nil, isKept(path) else { return try await inner.children(path, watch: watch) }
        return try await read(path, .children, \.children) { forget in
            try await self.inner.children(path, watch: forget)
        }
    }

    /// `path`'s entry in the table at `slots`, or the storage's answer, kept until the watch it was read with
    /// fires (or a write here touches it).
    private func read<Value: Sendable>(
        _ path: String, _ kind: Kind, _ slots: WritableKeyPath<Table, [String: Slot<Value>]>,
        _ fetch: (Watcher?) async throws -> Value
    ) async throws -> Value {
        let plan: ReadPlan<Value> = table.withLock { t in
            switch t[keyPath: slots][path] {
            case .kept(let value)?:
                t.hits += 1
                return .answer(value)
            case .loading?:
                t.misses += 1
                return .pass
            case nil:
                t.misses += 1
                t.nextToken += 1
                t[keyPath: slots][path] = .loading(t.nextToken)
                return .load(t.nextToken)
            }
        }
        switch plan {
        case .answer(let value):
            return value
        case .pass:
            return try await fetch(nil)
        case .load(let token):
            let forget: Watcher = { [weak self] event in
                if event == .sessionExpired { self?.forgetAll() } else { self?.forget(path, in: kind) }
            }
            do {
                let value = try await fetch(forget)
                table.withLock { t in
                    if case .loading(token)? = t[keyPath: slots][path] { t[keyPath: slots][path] = .kept(value) }
                }
                return value
            } catch {
                table.withLock { t in
                    if case .loading(token)? = t[keyPath: slots][path] { t[keyPath: slots][path] = nil }
                }
                throw error
            }
        }
    }

    private func forget(_ path: String, in kind: Kind) {
        table.withLock { t in
            switch kind {
            case .node: t.nodes[path] = nil
            case .children: t.children[path] = nil
            }
        }
    }

    /// Forgets every entry. Tokens keep counting: a read under way keeps nothing, whatever it finds on return.
    private func forgetAll() {
        table.withLock { t in
            t.nodes = [:]
            t.children = [:]
        }
    }

    /// Forgets `path` and its parent's children, after a write here: its watch will fire too, but later.
    private func forget(_ path: String) {
        guard isKept(path) || isKept(parent(of: path)) else { return }
        table.withLock { t in
            t.nodes[path] = nil
            t.children[path] = nil
            t.children[parent(of: path)] = nil
        }
    }

    @discardableResult
    public func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String {
        do {
            let made = try await inner.create(path, data: data, mode: mode, access: access)
            forget(made)
            return made
        } catch {
            forget(path)
            throw error
        }
    }

    @discardableResult
    public func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32 {
        defer { forget(path) }
        return try await inner.set(path, data: data, version: version)
    }

    public func delete(_ path: String, version: Int32?) async throws {
        defer { forget(path) }
        try await inner.delete(path, version: version)
    }

    public func exists(_ path: String, watch: Watcher?) async throws -> Int32? {
        try await inner.exists(path, watch: watch)
    }

    public func close() async {
        await inner.close()
        forgetAll()
    }

    public func onNewSession(_ handler: @escaping @Sendable () async -> Void) { inner.onNewSession(handler) }
}
