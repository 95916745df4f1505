import Locking

/// Keeps at most one watch armed per node and kind (its data, its children) on a storage, all reporting to one
/// handler.
///
/// A watch fires once, and each one armed is a separate watch to ZooKeeper (it cannot tell two of ours apart), so
/// an owner that arms a watch on every read, or re-arms every path whenever any watch fires, piles them up: each
/// change then fires all of them, and each firing arms more. Here a watch is armed only where none is: a read of
/// a path whose watch is armed is a plain read, and only the firing of a path's own watch (or the end of the
/// session that held it) lets a later read arm it again. A data watch on a node that goes fires with its deletion
/// and is not re-armed unless the node is read again.
public final class PathWatches: Sendable {
    /// What a watch follows.
    public enum Kind: Hashable, Sendable {
        /// The node's data, its creation and its deletion.
        case data
        /// The set of the node's children.
        case children
    }

    private struct Key: Hashable {
        let path: String
        let kind: Kind
    }

    public let storage: any ClusterStorage
    private let onChange: Watcher
    private let armed = Locked<Set<Key>>([])

    /// - Parameter onChange: called once for each watch that fires, with its event; typically it re-reads what
    ///   changed (through this object, which arms that path's watch again).
    public init(storage: any ClusterStorage, onChange: @escaping Watcher) {
        self.storage = storage
        self.onChange = onChange
    }

    /// The node's children, arming a watch on them unless one is armed.
    public func children(_ path: String) async throws -> [String] {
        try await read(Key(path: path, kind: .children)) { try await storage.children(path, watch: $0) }
    }

    /// The node's children, none if it does not exist (then nothing is armed).
    public func childrenIfExists(_ path: String) async throws -> [String] {
        do {
            return try await children(path)
        } catch StorageError.noNode {
            return []
        }
    }

    /// The node's bytes, arming a watch on its data unless one is armed; nil if it does not exist (then nothing
    /// is armed: a node that goes stops being watched).
    public func read(_ path: String) async throws -> [UInt8]? {
        do {
            return try await read(Key(path: path, kind: .data)) { try await storage.get(path, watch: $0).data }
        } catch StorageError.noNode {
            return nil
        }
    }

    /// Arms a watch on the node's children unless one is armed; reads nothing otherwise.
    public func watchChildren(_ path: String) async throws {
        let key = Key(path: path, kind: .children)
        guard claim(key) else { return }
        do {
            _ = try await storage.children(path, watch: watcher(key))
        } catch {
            release(key)
            throw error
        }
    }

    /// Arms a watch on the node (its creation, change or deletion; it need not exist) unless one is armed.
    public func watchNode(_ path: String) async throws {
        let key = Key(path: path, kind: .data)
        guard claim(key) else { return }
        do {
            _ = try await storage.exists(path, watch: watcher(key))
        } catch {
            release(key)
            throw error
        }
    }

    /// Forgets every armed watch: the session that held them ended (they will never fire), so the next reads
    /// arm them again. Call it first thing in the storage's `onNewSession` handler.
    public func sessionEnded() { armed.withLock { $0.removeAll() } }

    /// How many watches are armed; for tests and diagnostics.
    public var armedCount: Int { armed.withLock { $0.count } }

    public func isArmed(_ path: String, _ kind: Kind) -> Bool {
        armed.withLock { $0.contains(Key(path: path, kind: kind)) }
    }

    // MARK: plumbing

    private func read<T>(_ key: Key, _ body: (Watcher?) async throws -> T) async throws -> T {
        let arming = claim(key)
        do {
            return try await body(arming ? watcher(key) : nil)
        } catch {
            // A failed read arms nothing (ZooKeeper keeps a get's watch only on success).
            if arming { release(key) }
            throw error
        }
    }

    private func claim(_ key: Key) -> Bool { armed.withLock { $0.insert(key).inserted } }

    private func release(_ key: Key) { armed.withLock { _ = $0.remove(key) } }

    private func watcher(_ key: Key) -> Watcher {
        { [self] event in
            release(key)
            onChange(event)
        }
    }
}
