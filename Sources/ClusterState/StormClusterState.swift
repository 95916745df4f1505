import StormCore
import StormThrift
import ZooKeeper

/// The typed cluster state over a ClusterStorage, in Storm's layout under `storm.zookeeper.root`, each node a
/// Thrift-serialized struct of idl/storm.thrift.
public struct StormClusterState: Sendable {
    public let storage: any ClusterStorage
    public let root: String

    /// How many errors a component keeps; older ones are dropped, as Storm does.
    public static let errorsKept = 10

    public init(storage: any ClusterStorage, root: String = "/storm") {
        self.storage = storage
        self.root = root == "/" ? "" : (root.hasSuffix("/") ? String(root.dropLast()) : root)
    }

    public var stormsPath: String { root + "/storms" }
    public var assignmentsPath: String { root + "/assignments" }
    public var supervisorsPath: String { root + "/supervisors" }
    public var workerbeatsPath: String { root + "/workerbeats" }
    public var errorsPath: String { root + "/errors" }
    public var nimbusesPath: String { root + "/nimbuses" }
    public var leaderLockPath: String { root + "/leader-lock" }
    /// `<id>`: the topology as submitted (StormTopology, Thrift binary), kept beside its StormBase so that any
    /// nimbus can schedule it, whatever its own disk holds.
    public var stormCodePath: String { root + "/stormcode" }
    /// `<id>`: the topology's conf (JSON), for the same reason.
    public var stormConfPath: String { root + "/stormconf" }
    /// `<id>/<host:port>`: one ephemeral node per nimbus that holds all of a topology's files (archive included)
    /// and can serve them; their count is the topology's replication count.
    public var codeHoldersPath: String { root + "/code-holders" }
    /// `<id>`: the topology's LogConfig, the log levels its workers set (Storm's `logconfigs`).
    public var logConfigsPath: String { root + "/logconfigs" }

    /// Creates the top-level folders.
    public func setUp() async throws {
        for path in [
            stormsPath, assignmentsPath, supervisorsPath, workerbeatsPath, errorsPath, nimbusesPath, stormCodePath,
            stormConfPath, codeHoldersPath, logConfigsPath,
        ] {
            try await storage.createParents(path)
        }
    }

    /// This state with the records nimbus answers cluster queries from (bases, assignments, supervisors, nimbuses,
    /// topology records and code holders) kept in memory while their watches hold (`CachingStorage`). Not the
    /// leader lock: a nimbus cut off from ZooKeeper must not go on believing it leads.
    public func cachingQueriedRecords() -> StormClusterState {
        StormClusterState(
            storage: CachingStorage(
                storage,
                subtrees: [
                    stormsPath, assignmentsPath, supervisorsPath, nimbusesPath, stormCodePath, stormConfPath,
                    codeHoldersPath,
                ]), root: root.isEmpty ? "/" : root)
    }

    // MARK: topologies

    public func activeStorms() async throws -> [String] { try await storage.childrenIfExists(stormsPath) }

    public func stormBase(_ id: String) async throws -> StormBase? {
        try await decode(StormBase.self, at: stormsPath + "/" + id)
    }

    public func setStormBase(_ id: String, _ base: StormBase) async throws {
        try await putShared(stormsPath + "/" + id, data: ThriftSerialization.serialize(base), topology: id)
    }

    /// Forgets a topology: its base, assignment, heartbeats, errors, code records and holders. The base goes
    /// last: while it exists the topology is alive, so a removal cut short is finished by the next one.
    public func removeStorm(_ id: String) async throws {
        try await storage.deleteRecursively(assignmentsPath + "/" + id)
        try await storage.deleteRecursively(workerbeatsPath + "/" + id)
        try await storage.deleteRecursively(errorsPath + "/" + id)
        try await storage.deleteRecursively(codeHoldersPath + "/" + id)
        try await storage.deleteRecursively(stormCodePath + "/" + id)
        try await storage.deleteRecursively(stormConfPath + "/" + id)
        try await storage.deleteRecursively(logConfigsPath + "/" + id)
        try await storage.deleteRecursively(stormsPath + "/" + id)
    }

    // MARK: what a topology's workers may touch

    /// Creates the folders a topology's workers write in (heartbeats, errors), writable by them, before they start.
    public func setUpWorkerFolders(_ id: String) async throws {
        let access = try await topologyAccess(id, mayWrite: true)
        for folder in [workerbeatsPath, errorsPath] { try await storage.ensure(folder + "/" + id, access: access) }
    }

    /// Writes a node a topology's workers read: one nimbus creates is readable by the topology's own ZooKeeper
    /// identity too. True when it created the node.
    @discardableResult
    private func putShared(_ path: String, data: [UInt8], topology id: String) async throws -> Bool {
        do {
            try await storage.set(path, data: data, version: nil)
            return false
        } catch StorageError.noNode {
            try await storage.put(path, data: data, access: try await topologyAccess(id, mayWrite: false))
            return true
        }
    }

    /// What a topology's workers may do to a node of theirs, by the identity in its conf record; the session's
    /// default when it has none (an open cluster) or no record, and in a worker's session, which may not read the
    /// record and whose default is already its topology's.
    private func topologyAccess(_ id: String, mayWrite: Bool) async throws -> NodeAccess {
        let record: String?
        do {
            record = try await topologyConfJSON(id)
        } catch StorageError.notAuthorized {
            return .sessionDefault
        }
        guard let json = record,
            let auth = try? ZooKeeperStorage.topologyAuth(StormConfig(JSON.decodeObject(json)))
        else { return .sessionDefault }
        return .topology(digestId: ZooKeeperACL.digestId(credentials: auth.credentials), mayWrite: mayWrite)
    }

    // MARK: topology code and conf

    /// The largest record this layer writes: ZooKeeper refuses nodes past its `jute.maxbuffer` (1 MiB by default,
    /// overhead included).
    public static let maxRecordBytes = 1_000_000

    /// Stores what scheduling a topology needs: its structure and its conf. Refuses records past
    /// `maxRecordBytes`, before writing anything.
    public func setTopologyRecords(_ id: String, topology: StormTopology, confJSON: String) async throws {
        let code = try ThriftSerialization.serialize(topology)
        let conf = Array(confJSON.utf8)
        for (what, bytes) in [("structure", code), ("conf", conf)] where bytes.count > Self.maxRecordBytes {
            throw ClusterStateError.tooLarge(what: "topology \(what)", bytes: bytes.count, limit: Self.maxRecordBytes)
        }
        try await storage.put(stormCodePath + "/" + id, data: code)
        try await storage.put(stormConfPath + "/" + id, data: conf)
    }

    /// Replaces a topology's conf record (a rebalance changes it).
    public func setTopologyConf(_ id: String, confJSON: String) async throws {
        let conf = Array(confJSON.utf8)
        if conf.count > Self.maxRecordBytes {
            throw ClusterStateError.tooLarge(what: "topology conf", bytes: conf.count, limit: Self.maxRecordBytes)
        }
        try await storage.put(stormConfPath + "/" + id, data: conf)
    }

    public func topologyCode(_ id: String) async throws -> StormTopology? {
        try await decode(StormTopology.self, at: stormCodePath + "/" + id)
    }

    /// The topology's conf as stored (JSON text), or nil when there is no record.
    public func topologyConfJSON(_ id: String) async throws -> String? {
        guard let bytes = try await storage.read(stormConfPath + "/" + id) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Topology ids that have code records (a removal cut short can leave some without a base).
    public func topologiesWithCode() async throws -> [String] { try await storage.childrenIfExists(stormCodePath) }

    /// Deletes the records of a topology that never became alive (a submit cut short).
    public func removeTopologyRecords(_ id: String) async throws {
        try await storage.deleteRecursively(codeHoldersPath + "/" + id)
        try await storage.deleteRecursively(stormCodePath + "/" + id)
        try await storage.deleteRecursively(stormConfPath + "/" + id)
        try await storage.deleteRecursively(workerbeatsPath + "/" + id)
        try await storage.deleteRecursively(errorsPath + "/" + id)
    }

    // MARK: who holds a topology's files

    /// Says that the nimbus at `hostPort` holds all of the topology's files; the node goes with its session.
    public func addCodeHolder(_ id: String, hostPort: String) async throws {
        let folder = codeHoldersPath + "/" + id
        try await storage.createParents(folder)
        do {
            try await storage.create(folder + "/" + hostPort, data: [], mode: .ephemeral)
        } catch StorageError.nodeExists {
            // Left by this nimbus' previous session, which ZooKeeper has not expired yet: replace it, so it
            // cannot vanish later while this nimbus still holds the files.
            try? await storage.delete(folder + "/" + hostPort, version: nil)
            try await storage.create(folder + "/" + hostPort, data: [], mode: .ephemeral)
        }
    }

    public func removeCodeHolder(_ id: String, hostPort: String) async throws {
        do {
            try await storage.delete(codeHoldersPath + "/" + id + "/" + hostPort, version: nil)
        } catch StorageError.noNode {}
    }

    /// The nimbuses (`host:port`) that hold all of a topology's files.
    public func codeHolders(_ id: String) async throws -> [String] {
        try await storage.childrenIfExists(codeHoldersPath + "/" + id).sorted()
    }

    /// The id of the live topology called `name`, if any. A topology whose base cannot be read still holds its
    /// name, as its id spells it: queries by name find it, and a submit cannot take the name from it.
    public func stormId(named name: String) async throws -> String? {
        for id in try await activeStorms() {
            do {
                if let base = try await stormBase(id), base.name == name { return id }
            } catch is ClusterStateError {
                if TopologyName.name(ofId: id) == name { return id }
            }
        }
        return nil
    }

    // MARK: assignments

    public func logConfig(_ id: String) async throws -> LogConfig? {
        try await decode(LogConfig.self, at: logConfigsPath + "/" + id)
    }

    public func setLogConfig(_ id: String, _ config: LogConfig) async throws {
        try await putShared(logConfigsPath + "/" + id, data: ThriftSerialization.serialize(config), topology: id)
    }

    public func assignment(_ id: String) async throws -> Assignment? {
        try await decode(Assignment.self, at: assignmentsPath + "/" + id)
    }

    public func setAssignment(_ id: String, _ assignment: Assignment) async throws {
        let created = try await putShared(
            assignmentsPath + "/" + id, data: ThriftSerialization.serialize(assignment), topology: id)
        // Its workers start once it has an assignment: the folders they write in come first.
        if created { try await setUpWorkerFolders(id) }
    }

    public func removeAssignment(_ id: String) async throws {
        try await storage.deleteRecursively(assignmentsPath + "/" + id)
    }

    /// Every topology's assignment, by topology id; throws if any cannot be read. Given `watches`, the reads keep
    /// a watch armed on the set of assignments and on each of them (one each, however often this is called).
    public func assignments(watches: PathWatches? = nil) async throws -> [String: Assignment] {
        guard let watches else {
            let read = try await readableAssignments()
            if let (_, error) = read.unreadable.min(by: { $0.key < $1.key }) { throw error }
            return read.records
        }
        var out: [String: Assignment] = [:]
        for id in try await watches.childrenIfExists(assignmentsPath) {
            let path = assignmentsPath + "/" + id
            if let bytes = try await watches.read(path) { out[id] = try decode(Assignment.self, bytes, at: path) }
        }
        return out
    }

    /// Every topology's assignment that can be read, and those that cannot.
    public func readableAssignments() async throws -> Records<Assignment> {
        try await readAll(Assignment.self, in: assignmentsPath)
    }

    // MARK: worker heartbeats

    /// A topology's worker heartbeats, keyed `<supervisor-id>-<port>`, and those that cannot be read.
    public func workerHeartbeats(_ id: String) async throws -> Records<ClusterWorkerHeartbeat> {
        try await readAll(ClusterWorkerHeartbeat.self, in: workerbeatsPath + "/" + id)
    }

    public func setWorkerHeartbeat(_ id: String, node: String, port: Int64, _ beat: ClusterWorkerHeartbeat) async throws
    {
        try await storage.put(
            workerbeatsPath + "/" + id + "/\(node)-\(port)", data: ThriftSerialization.serialize(beat))
    }

    // MARK: supervisors and nimbuses

    /// Registered supervisors by id, and those whose record cannot be read.
    public func supervisors() async throws -> Records<SupervisorInfo> {
        try await readAll(SupervisorInfo.self, in: supervisorsPath)
    }

    /// Registered nimbuses by `host:port`, and those whose record cannot be read.
    public func nimbuses() async throws -> Records<NimbusSummary> {
        try await readAll(NimbusSummary.self, in: nimbusesPath)
    }

    /// A nimbus' own registration, or nil when it is missing; throws when it cannot be read.
    public func nimbus(_ hostPort: String) async throws -> NimbusSummary? {
        try await decode(NimbusSummary.self, at: nimbusesPath + "/" + hostPort)
    }

    /// Registers a nimbus as an ephemeral node: it disappears with the nimbus' session.
    public func addNimbus(_ hostPort: String, _ summary: NimbusSummary) async throws {
        try await storage.createParents(nimbusesPath)
        let path = nimbusesPath + "/" + hostPort
        let data = try ThriftSerialization.serialize(summary)
        do {
            try await storage.create(path, data: data, mode: .ephemeral)
        } catch StorageError.nodeExists {
            // Left by this nimbus' previous run, whose session has not expired yet: replace it, or it vanishes
            // with that session while this nimbus runs.
            try? await storage.delete(path, version: nil)
            try await storage.create(path, data: data, mode: .ephemeral)
        }
    }

    // MARK: errors

    public func reportError(_ id: String, component: String, _ error: ErrorInfo) async throws {
        let folder = errorsPath + "/" + id + "/" + component
        // Nimbus reports errors too: what it creates there stays writable by the topology's workers.
        let access = try await topologyAccess(id, mayWrite: true)
        try await storage.createParents(errorsPath)
        try await storage.ensure(errorsPath + "/" + id, access: access)
        try await storage.ensure(folder, access: access)
        let data = try ThriftSerialization.serialize(error)
        try await storage.create(folder + "/e", data: data, mode: .persistentSequential, access: access)
        try await storage.put(errorsPath + "/" + id + "/" + component + "-last-error", data: data, access: access)
        let kept = try await storage.children(folder)
        for old in kept.dropLast(Self.errorsKept) {
            try? await storage.delete(folder + "/" + old, version: nil)
        }
    }

    /// A component's errors, oldest first, and those that cannot be read (by node name).
    public func errors(
        _ id: String, component: String
    ) async throws -> (errors: [ErrorInfo], unreadable: [String: ClusterStateError]) {
        let read = try await readAll(ErrorInfo.self, in: errorsPath + "/" + id + "/" + component)
        // Sequential node names sort in the order they were written.
        return (read.records.sorted { $0.key < $1.key }.map(\.value), read.unreadable)
    }

    /// Components of a topology that have reported errors.
    public func componentsWithErrors(_ id: String) async throws -> [String] {
        try await storage.childrenIfExists(errorsPath + "/" + id).filter { !$0.hasSuffix("-last-error") }
    }

    // MARK: helpers

    /// Reads every child of `folder` on its own, so that one unreadable record hides no other.
    private func readAll<T: ThriftStruct>(_ type: T.Type, in folder: String) async throws -> Records<T> {
        var out = Records<T>()
        for name in try await storage.childrenIfExists(folder) {
            do {
                if let record = try await decode(T.self, at: folder + "/" + name) { out.records[name] = record }
            } catch let error as ClusterStateError {
                out.unreadable[name] = error
            }
        }
        return out
    }

    private func decode<T: ThriftStruct>(_ type: T.Type, at path: String) async throws -> T? {
        guard let bytes = try await storage.read(path) else { return nil }
        return try decode(T.self, bytes, at: path)
    }

    private func decode<T: ThriftStruct>(_ type: T.Type, _ bytes: [UInt8], at path: String) throws -> T {
        do {
            return try ThriftSerialization.deserialize(T.self, from: bytes)
        } catch {
            throw ClusterStateError.corrupt(path, "\(error)")
        }
    }
}

/// The records of one kind under a folder, each read on its own: those that decode, by node name, and for each
/// that does not, why.
public struct Records<Record: Sendable>: Sendable {
    public var records: [String: Record] = [:]
    public var unreadable: [String: ClusterStateError] = [:]

    public init(records: [String: Record] = [:], unreadable: [String: ClusterStateError] = [:]) {
        self.records = records
        self.unreadable = unreadable
    }
}

public enum ClusterStateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A record that exists but does not decode: its path, and why.
    case corrupt(String, String)
    case tooLarge(what: String, bytes: Int, limit: Int)

    /// The unreadable record's path, if this is about one.
    public var unreadablePath: String? {
        if case .corrupt(let path, _) = self { return path }
        return nil
    }

    public var description: String {
        switch self {
        case .corrupt(let path, let reason): "record \(path) is unreadable: \(reason)"
        case .tooLarge(let what, let bytes, let limit):
            "the \(what) is \(bytes) bytes, more than the cluster state stores in one record (\(limit) bytes)"
        }
    }
}
