internal import CZooKeeper
import Dispatch
import Foundation
import Locking
import Logging

/// What a watch reports: the ZooKeeper event type for a node.
public enum ZooKeeperEvent: Sendable, Equatable {
    case created(String)
    case deleted(String)
    case dataChanged(String)
    case childrenChanged(String)
}

/// The parts of a node's Stat this project reads.
public struct ZooKeeperStat: Sendable, Equatable {
    public var version: Int32
    public var ephemeralOwner: Int64
    public var numChildren: Int32
    public var ctimeMillis: Int64
}

public enum CreateMode: Sendable {
    case persistent, ephemeral, persistentSequential, ephemeralSequential
}

/// An async/await ZooKeeper client over Debian's multi-threaded C client.
///
/// The C client keeps the connection alive and reconnects within the session by itself. When the session
/// expires this client opens a new one and calls the `onNewSession` handlers, so their owners can re-create
/// ephemeral nodes and re-arm watches. Losing and regaining the connection is logged once each, not per retry.
///
/// Callbacks never hold Swift objects: the C `data` and `watcherCtx` arguments carry integer ids into locked
/// tables, and every pending call is resumed exactly once: by its completion, its timeout, or the sweep after
/// `zookeeper_close` (which drops pending completions).
public final class ZooKeeperClient: Sendable {
    public let connectString: String
    public let sessionTimeoutMillis: Int
    /// The credentials each session authenticates with; nodes it creates are then its own alone.
    public let auth: ZooKeeperAuth?
    /// How long one call may wait for its answer before it fails with `operationTimeout`.
    public let operationTimeout: Duration
    let logger: Logger
    let id: Int
    /// How long a call waits for a lost connection to come back before it fails.
    static let connectionWait: Duration = .seconds(3)

    /// The multi-threaded C client's handle may be used from any thread.
    struct Handle: @unchecked Sendable {
        let raw: OpaquePointer
    }

    struct State {
        var handle: Handle?
        var connected = false
        var closed = false
        var lostLogged = false
        var connectWaiters: [CheckedContinuation<Void, Never>] = []
        var sessionHandlers: [@Sendable () async -> Void] = []
    }

    let state = Locked(State())

    /// Starts connecting; calls made before the connection is up wait for it (within `operationTimeout`).
    public init(
        connectString: String, sessionTimeoutMillis: Int, operationTimeout: Duration? = nil, auth: ZooKeeperAuth? = nil,
        logger: Logger
    ) throws {
        self.connectString = connectString
        self.sessionTimeoutMillis = sessionTimeoutMillis
        self.auth = auth
        self.operationTimeout = operationTimeout ?? .milliseconds(max(sessionTimeoutMillis, 2000))
        self.logger = logger
        id = Registry.shared.register()
        Registry.shared.setClient(id, self)
        try openHandle()
    }

    private func openHandle() throws {
        Registry.configureLogging()
        guard
            let handle = zookeeper_init2(
                connectString, globalWatcher, Int32(clamping: sessionTimeoutMillis), nil,
                UnsafeMutableRawPointer(bitPattern: id), 0, zooKeeperLog)
        else {
            throw ZooKeeperError(
                .other(Int32(errno)), path: "", message: "cannot create a ZooKeeper handle for \(connectString)")
        }
        state.withLock { $0.handle = Handle(raw: handle) }
        if let auth {
            // Queued before any call of the session, so every call is made as the authenticated identity.
            let rc = auth.credentials.withCString { credentials in
                zoo_add_auth(
                    handle, auth.scheme, credentials, Int32(strlen(credentials)), authCompletion,
                    UnsafeMutableRawPointer(bitPattern: id))
            }
            if rc != ZOK.rawValue {
                logger.error("cannot authenticate to ZooKeeper (scheme \(auth.scheme)): error \(rc)")
            }
        }
    }

    /// What authentication the server refused: said once, since every later call fails for it.
    func authenticationFailed(_ rc: Int32) {
        logger.error(
            "ZooKeeper refused this daemon's credentials (scheme \(auth?.scheme ?? "?")): \(String(cString: zerror(rc)))"
        )
    }

    /// Registers a handler run after a session expired and a new one is connected.
    public func onNewSession(_ handler: @escaping @Sendable () async -> Void) {
        state.withLock { $0.sessionHandlers.append(handler) }
    }

    public var isConnected: Bool { state.withLock { $0.connected } }

    /// Waits until connected, or up to `timeout`; returns whether it is connected.
    @discardableResult
    public func waitConnected(timeout: Duration) async -> Bool {
        if isConnected { return true }
        let waiter = Task {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if s.connected || s.closed { return true }
                    s.connectWaiters.append(c)
                    return false
                }
                if ready { c.resume() }
            }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            self.releaseConnectWaiters()
        }
        await waiter.value
        timer.cancel()
        return isConnected
    }

    private func releaseConnectWaiters() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            defer { s.connectWaiters = [] }
            return s.connectWaiters
        }
        waiters.forEach { $0.resume() }
    }

    // MARK: operations

    /// Creates a node with `acl`, or without one: open to all, or with an `auth` every right for this session's
    /// identity alone.
    @discardableResult
    public func create(
        _ path: String, data: [UInt8], mode: CreateMode, acl: ZooKeeperACL? = nil
    ) async throws -> String {
        let flags: Int32 =
            switch mode {
            case .persistent: ZOO_PERSISTENT
            case .ephemeral: ZOO_EPHEMERAL
            case .persistentSequential: ZOO_PERSISTENT_SEQUENTIAL
            case .ephemeralSequential: ZOO_EPHEMERAL_SEQUENTIAL
            }
        let reply = try await call(path) { handle, token in
            data.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) { bytes in
                    guard let acl else {
                        return zoo_acreate(
                            handle, path, bytes.baseAddress, Int32(bytes.count),
                            auth == nil ? czk_open_acl_unsafe() : czk_creator_all_acl(), flags, stringCompletion, token)
                    }
                    return acl.withCVector {
                        zoo_acreate(
                            handle, path, bytes.baseAddress, Int32(bytes.count), $0, flags, stringCompletion, token)
                    }
                }
            }
        }
        return reply.string ?? path
    }

    public func get(
        _ path: String, watch: (@Sendable (ZooKeeperEvent) -> Void)? = nil
    ) async throws -> ([UInt8], ZooKeeperStat) {
        let watchId = watch.map { Registry.shared.addWatch(client: id, $0) }
        do {
            let reply = try await call(path) { handle, token in
                if let watchId {
                    zoo_awget(
                        handle, path, nodeWatcher, UnsafeMutableRawPointer(bitPattern: watchId), dataCompletion, token)
                } else {
                    zoo_aget(handle, path, 0, dataCompletion, token)
                }
            }
            return (reply.data, reply.stat!)
        } catch {
            // A get on a missing node arms no watch.
            if let watchId { Registry.shared.removeWatch(watchId) }
            throw error
        }
    }

    @discardableResult
    public func set(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> ZooKeeperStat {
        let reply = try await call(path) { handle, token in
            data.withUnsafeBufferPointer { buf in
                buf.withMemoryRebound(to: CChar.self) {
                    zoo_aset(handle, path, $0.baseAddress, Int32($0.count), version, statCompletion, token)
                }
            }
        }
        return reply.stat!
    }

    /// The node's ACL. ZooKeeper shows a digest's hash only to those with the ADMIN right on the node.
    public func acl(_ path: String) async throws -> ZooKeeperACL {
        ZooKeeperACL(try await call(path) { handle, token in zoo_aget_acl(handle, path, aclCompletion, token) }.acl)
    }

    /// Replaces the node's ACL (the ADMIN right on it is needed).
    public func setACL(_ path: String, _ acl: ZooKeeperACL, version: Int32 = -1) async throws {
        _ = try await call(path) { handle, token in
            acl.withCVector { zoo_aset_acl(handle, path, version, $0, voidCompletion, token) }
        }
    }

    public func delete(_ path: String, version: Int32 = -1) async throws {
        _ = try await call(path) { handle, token in zoo_adelete(handle, path, version, voidCompletion, token) }
    }

    public func children(_ path: String, watch: (@Sendable (ZooKeeperEvent) -> Void)? = nil) async throws -> [String] {
        let watchId = watch.map { Registry.shared.addWatch(client: id, $0) }
        do {
            let reply = try await call(path) { handle, token in
                if let watchId {
                    zoo_awget_children(
                        handle, path, nodeWatcher, UnsafeMutableRawPointer(bitPattern: watchId), stringsCompletion,
                        token)
                } else {
                    zoo_aget_children(handle, path, 0, stringsCompletion, token)
                }
            }
            return reply.strings.sorted()
        } catch {
            if let watchId { Registry.shared.removeWatch(watchId) }
            throw error
        }
    }

    /// The node's Stat, or nil if it does not exist. A watch is armed either way (ZooKeeper's semantics).
    public func exists(
        _ path: String, watch: (@Sendable (ZooKeeperEvent) -> Void)? = nil
    ) async throws -> ZooKeeperStat? {
        let watchId = watch.map { Registry.shared.addWatch(client: id, $0) }
        do {
            let reply = try await call(path) { handle, token in
                if let watchId {
                    zoo_awexists(
                        handle, path, nodeWatcher, UnsafeMutableRawPointer(bitPattern: watchId), statCompletion, token)
                } else {
                    zoo_aexists(handle, path, 0, statCompletion, token)
                }
            }
            return reply.stat
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        } catch {
            if let watchId { Registry.shared.removeWatch(watchId) }
            throw error
        }
    }

    /// Ends the session (its ephemeral nodes go) and fails every call still waiting.
    public func close() async {
        let handle = state.withLock { s -> Handle? in
            s.closed = true
            s.connected = false
            defer { s.handle = nil }
            return s.handle
        }
        releaseConnectWaiters()
        if let handle {
            // zookeeper_close blocks until the server acknowledges: keep it off the cooperative pool.
            await onOwnThread { _ = zookeeper_close(handle.raw) }
        }
        Registry.shared.sweep(
            client: id, error: ZooKeeperError(.closed, path: "", message: "the ZooKeeper client was closed"))
        Registry.shared.setClient(id, nil)
    }

    // MARK: plumbing

    private func call(
        _ path: String, _ start: (OpaquePointer, UnsafeRawPointer?) -> Int32
    ) async throws -> Reply {
        if !isConnected {
            if state.withLock({ $0.closed }) {
                throw ZooKeeperError(.closed, path: path, message: "the ZooKeeper client was closed")
            }
            // While ZooKeeper is away, calls fail within seconds rather than pile up; owners retry.
            if !(await waitConnected(timeout: min(operationTimeout, Self.connectionWait))) {
                throw ZooKeeperError(
                    .connectionLoss, path: path, message: "not connected to ZooKeeper at \(connectString)")
            }
        }
        let reply: Reply = await withCheckedContinuation { continuation in
            let token = Registry.shared.addPending(client: id, continuation)
            let rc: Int32
            if let handle = state.withLock({ $0.handle }) {
                rc = start(handle.raw, UnsafeRawPointer(bitPattern: token))
            } else {
                rc = Int32(ZCLOSING.rawValue)
            }
            if rc != Int32(ZOK.rawValue) {
                Registry.shared.complete(token, Reply(rc: rc))
                return
            }
            let timeout = operationTimeout
            DispatchQueue.global().asyncAfter(
                deadline: .now()
                    + .nanoseconds(
                        Int(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
                    )
            ) {
                Registry.shared.complete(token, Reply(rc: Int32(ZOPERATIONTIMEOUT.rawValue)))
            }
        }
        if reply.rc != Int32(ZOK.rawValue) { throw ZooKeeperError(rc: reply.rc, path: path) }
        return reply
    }

    // Called by the global watcher with session state changes.
    func sessionStateChanged(_ zkState: Int32) {
        if zkState == ZOO_CONNECTED_STATE {
            let wasLost = state.withLock { s -> Bool in
                s.connected = true
                defer { s.lostLogged = false }
                return s.lostLogged
            }
            if wasLost { logger.info("ZooKeeper connection to \(connectString) is back") }
            releaseConnectWaiters()
        } else if zkState == ZOO_EXPIRED_SESSION_STATE {
            logger.warning("ZooKeeper session expired; opening a new one")
            renewSession()
        } else if zkState == ZOO_CONNECTING_STATE || zkState == ZOO_ASSOCIATING_STATE {
            let first = state.withLock { s -> Bool in
                s.connected = false
                defer { s.lostLogged = true }
                return !s.lostLogged && !s.closed
            }
            if first { logger.warning("lost the ZooKeeper connection to \(connectString); reconnecting") }
        }
    }

    private func renewSession() {
        let old = state.withLock { s -> Handle? in
            s.connected = false
            defer { s.handle = nil }
            return s.closed ? nil : s.handle
        }
        guard let old else { return }
        Thread.detachNewThread { [self] in
            zookeeper_close(old.raw)
            Registry.shared.sweep(
                client: id, error: ZooKeeperError(.sessionExpired, path: "", message: "the ZooKeeper session expired"))
            guard !state.withLock({ $0.closed }) else { return }
            do {
                try openHandle()
            } catch {
                logger.error("cannot open a new ZooKeeper session: \(error)")
                return
            }
            Task {
                guard await self.waitConnected(timeout: .seconds(3600)) else { return }
                for handler in self.state.withLock({ $0.sessionHandlers }) { await handler() }
            }
        }
    }
}

/// What a completion hands back.
struct Reply: Sendable {
    var rc: Int32
    var data: [UInt8] = []
    var stat: ZooKeeperStat? = nil
    var strings: [String] = []
    var string: String? = nil
    var acl: [ZooKeeperACL.Entry] = []
}

/// The locked tables that C callbacks reach through integer ids.
final class Registry: Sendable {
    static let shared = Registry()

    struct Pending {
        let client: Int
        let continuation: CheckedContinuation<Reply, Never>
    }

    struct Watch {
        let client: Int
        let callback: @Sendable (ZooKeeperEvent) -> Void
    }

    struct Tables {
        var nextId = 1
        var pending: [Int: Pending] = [:]
        var watches: [Int: Watch] = [:]
        var clients: [Int: ZooKeeperClient] = [:]
    }

    let tables = Locked(Tables())
    private static let loggingConfigured = Locked(false)

    static func configureLogging() {
        let first = loggingConfigured.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR) }
    }

    func register() -> Int {
        tables.withLock { t in
            defer { t.nextId += 1 }
            return t.nextId
        }
    }

    func setClient(_ id: Int, _ client: ZooKeeperClient?) { tables.withLock { $0.clients[id] = client } }

    func client(_ id: Int) -> ZooKeeperClient? { tables.withLock { $0.clients[id] } }

    func addPending(client: Int, _ c: CheckedContinuation<Reply, Never>) -> Int {
        tables.withLock { t in
            defer { t.nextId += 1 }
            t.pending[t.nextId] = Pending(client: client, continuation: c)
            return t.nextId
        }
    }

    /// Resumes the call `token` with `reply` unless something else already did.
    func complete(_ token: Int, _ reply: Reply) {
        tables.withLock { $0.pending.removeValue(forKey: token) }?.continuation.resume(returning: reply)
    }

    func sweep(client: Int, error: ZooKeeperError) {
        // The old handle's watches will never fire; its pending calls never complete.
        let calls = tables.withLock { t -> [Pending] in
            let calls = t.pending.filter { $0.value.client == client }
            calls.keys.forEach { t.pending[$0] = nil }
            t.watches = t.watches.filter { $0.value.client != client }
            return Array(calls.values)
        }
        let rc: Int32 = error.code == .sessionExpired ? Int32(ZSESSIONEXPIRED.rawValue) : Int32(ZCLOSING.rawValue)
        calls.forEach { $0.continuation.resume(returning: Reply(rc: rc)) }
    }

    func addWatch(client: Int, _ callback: @escaping @Sendable (ZooKeeperEvent) -> Void) -> Int {
        tables.withLock { t in
            defer { t.nextId += 1 }
            t.watches[t.nextId] = Watch(client: client, callback: callback)
            return t.nextId
        }
    }

    func removeWatch(_ id: Int) { tables.withLock { $0.watches[id] = nil } }

    func takeWatch(_ id: Int) -> Watch? { tables.withLock { $0.watches.removeValue(forKey: id) } }
}

private let zooKeeperLog: log_callback_fn = { message in
    // The C client logs every failed reconnect attempt; the client logs state changes itself, once each.
    _ = message
}

private let globalWatcher: watcher_fn = { _, type, zkState, _, context in
    guard type == ZOO_SESSION_EVENT, let client = Registry.shared.client(Int(bitPattern: context)) else { return }
    client.sessionStateChanged(zkState)
}

private let nodeWatcher: watcher_fn = { _, type, zkState, path, context in
    let id = Int(bitPattern: context)
    if type == ZOO_SESSION_EVENT {
        // Delivered to every armed watch on connection changes: the watch stays armed unless the session ended.
        if zkState == ZOO_EXPIRED_SESSION_STATE { Registry.shared.removeWatch(id) }
        return
    }
    guard let watch = Registry.shared.takeWatch(id) else { return }
    let p = path.map { String(cString: $0) } ?? ""
    let event: ZooKeeperEvent
    switch type {
    case ZOO_CREATED_EVENT: event = .created(p)
    case ZOO_DELETED_EVENT: event = .deleted(p)
    case ZOO_CHANGED_EVENT: event = .dataChanged(p)
    case ZOO_CHILD_EVENT: event = .childrenChanged(p)
    default: return
    }
    watch.callback(event)
}

private func stat(_ s: UnsafePointer<Stat>?) -> ZooKeeperStat? {
    guard let s else { return nil }
    return ZooKeeperStat(
        version: s.pointee.version, ephemeralOwner: s.pointee.ephemeralOwner, numChildren: s.pointee.numChildren,
        ctimeMillis: s.pointee.ctime)
}

private let stringCompletion: string_completion_t = { rc, value, data in
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc, string: value.map { String(cString: $0) }))
}

private let dataCompletion: data_completion_t = { rc, value, len, s, data in
    var bytes: [UInt8] = []
    if let value, len > 0 {
        bytes = value.withMemoryRebound(to: UInt8.self, capacity: Int(len)) {
            Array(UnsafeBufferPointer(start: $0, count: Int(len)))
        }
    }
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc, data: bytes, stat: stat(s)))
}

private let statCompletion: stat_completion_t = { rc, s, data in
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc, stat: stat(s)))
}

private let authCompletion: void_completion_t = { rc, data in
    guard rc != ZOK.rawValue, let client = Registry.shared.client(Int(bitPattern: data)) else { return }
    client.authenticationFailed(rc)
}

private let aclCompletion: acl_completion_t = { rc, acl, _, data in
    var entries: [ZooKeeperACL.Entry] = []
    if let acl, let items = acl.pointee.data {
        for i in 0..<Int(acl.pointee.count) {
            let item = items[i]
            entries.append(
                ZooKeeperACL.Entry(
                    ZooKeeperACL.Permissions(rawValue: item.perms),
                    scheme: item.id.scheme.map { String(cString: $0) } ?? "",
                    id: item.id.id.map { String(cString: $0) } ?? ""))
        }
    }
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc, acl: entries))
}

private let voidCompletion: void_completion_t = { rc, data in
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc))
}

private let stringsCompletion: strings_completion_t = { rc, strings, data in
    var out: [String] = []
    if let strings {
        for i in 0..<Int(strings.pointee.count) {
            if let s = strings.pointee.data[i] { out.append(String(cString: s)) }
        }
    }
    Registry.shared.complete(Int(bitPattern: data), Reply(rc: rc, strings: out))
}
