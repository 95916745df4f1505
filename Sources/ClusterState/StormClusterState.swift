import StormThrift

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

    /// Creates the top-level folders.
    public func setUp() async throws {
        for path in [stormsPath, assignmentsPath, supervisorsPath, workerbeatsPath, errorsPath, nimbusesPath] {
            try await storage.createParents(path)
        }
    }

    // MARK: topologies

    public func activeStorms() async throws -> [String] { try await storage.childrenIfExists(stormsPath) }

    public func stormBase(_ id: String) async throws -> StormBase? {
        try await decode(StormBase.self, at: stormsPath + "/" + id)
    }

    public func setStormBase(_ id: String, _ base: StormBase) async throws {
        try await storage.put(stormsPath + "/" + id, data: ThriftSerialization.serialize(base))
    }

    /// Forgets a topology: its base, assignment, heartbeats and errors.
    public func removeStorm(_ id: String) async throws {
        try await storage.deleteRecursively(assignmentsPath + "/" + id)
        try await storage.deleteRecursively(workerbeatsPath + "/" + id)
        try await storage.deleteRecursively(errorsPath + "/" + id)
        try await storage.deleteRecursively(stormsPath + "/" + id)
    }

    /// The id of the live topology called `name`, if any.
    public func stormId(named name: String) async throws -> String? {
        for id in try await activeStorms() {
            if let base = try await stormBase(id), base.name == name { return id }
        }
        return nil
    }

    // MARK: assignments

    public func assignment(_ id: String) async throws -> Assignment? {
        try await decode(Assignment.self, at: assignmentsPath + "/" + id)
    }

    public func setAssignment(_ id: String, _ assignment: Assignment) async throws {
        try await storage.put(assignmentsPath + "/" + id, data: ThriftSerialization.serialize(assignment))
    }

    public func removeAssignment(_ id: String) async throws {
        try await storage.deleteRecursively(assignmentsPath + "/" + id)
    }

    /// Every topology's assignment, by topology id.
    public func assignments() async throws -> [String: Assignment] {
        var out: [String: Assignment] = [:]
        for id in try await storage.childrenIfExists(assignmentsPath) {
            if let a = try await assignment(id) { out[id] = a }
        }
        return out
    }

    // MARK: worker heartbeats

    /// A topology's worker heartbeats, keyed `<supervisor-id>-<port>`.
    public func workerHeartbeats(_ id: String) async throws -> [String: ClusterWorkerHeartbeat] {
        let folder = workerbeatsPath + "/" + id
        var out: [String: ClusterWorkerHeartbeat] = [:]
        for slot in try await storage.childrenIfExists(folder) {
            if let beat = try await decode(ClusterWorkerHeartbeat.self, at: folder + "/" + slot) { out[slot] = beat }
        }
        return out
    }

    public func setWorkerHeartbeat(_ id: String, node: String, port: Int64, _ beat: ClusterWorkerHeartbeat) async throws {
        try await storage.put(workerbeatsPath + "/" + id + "/\(node)-\(port)", data: ThriftSerialization.serialize(beat))
    }

    // MARK: supervisors and nimbuses


    public func supervisors() async throws -> [String: SupervisorInfo] {
        var out: [String: SupervisorInfo] = [:]
        for id in try await storage.childrenIfExists(supervisorsPath) {
            if let info = try await decode(SupervisorInfo.self, at: supervisorsPath + "/" + id) { out[id] = info }
        }
        return out
    }

    public func nimbuses() async throws -> [NimbusSummary] {
        var out: [NimbusSummary] = []
        for id in try await storage.childrenIfExists(nimbusesPath) {
            if let summary = try await decode(NimbusSummary.self, at: nimbusesPath + "/" + id) { out.append(summary) }
        }
        return out
    }

    /// Registers a nimbus as an ephemeral node: it disappears with the nimbus' session.
    public func addNimbus(_ hostPort: String, _ summary: NimbusSummary) async throws {
        try await storage.createParents(nimbusesPath)
        let path = nimbusesPath + "/" + hostPort
        let data = try ThriftSerialization.serialize(summary)
        do {
            try await storage.create(path, data: data, mode: .ephemeral)
        } catch StorageError.nodeExists {
            try await storage.set(path, data: data, version: nil)
        }
    }

    // MARK: errors

    public func reportError(_ id: String, component: String, _ error: ErrorInfo) async throws {
        let folder = errorsPath + "/" + id + "/" + component
        try await storage.createParents(folder)
        let data = try ThriftSerialization.serialize(error)
        try await storage.create(folder + "/e", data: data, mode: .persistentSequential)
        try await storage.put(errorsPath + "/" + id + "/" + component + "-last-error", data: data)
        let kept = try await storage.children(folder)
        for old in kept.dropLast(Self.errorsKept) {
            try? await storage.delete(folder + "/" + old, version: nil)
        }
    }

    /// A component's errors, oldest first.
    public func errors(_ id: String, component: String) async throws -> [ErrorInfo] {
        let folder = errorsPath + "/" + id + "/" + component
        var out: [ErrorInfo] = []
        for name in try await storage.childrenIfExists(folder) {
            if let e = try await decode(ErrorInfo.self, at: folder + "/" + name) { out.append(e) }
        }
        return out
    }

    /// Components of a topology that have reported errors.
    public func componentsWithErrors(_ id: String) async throws -> [String] {
        try await storage.childrenIfExists(errorsPath + "/" + id).filter { !$0.hasSuffix("-last-error") }
    }

    // MARK: helpers

    private func decode<T: ThriftStruct>(_ type: T.Type, at path: String) async throws -> T? {
        guard let bytes = try await storage.read(path) else { return nil }
        do {
            return try ThriftSerialization.deserialize(T.self, from: bytes)
        } catch {
            throw ClusterStateError.corrupt(path, "\(error)")
        }
    }
}

public enum ClusterStateError: Error, CustomStringConvertible, Sendable {
    case corrupt(String, String)

    public var description: String {
        switch self {
        case .corrupt(let path, let reason): "cluster state node \(path) does not hold what it should: \(reason)"
        }
    }
}
