import ClusterState
import Foundation
import Locking
import Logging
import StormCore
import StormThrift

/// `storm supervisor`: offers this machine's worker slots to the cluster and follows what nimbus assigns to them.
///
/// It registers an ephemeral `supervisors/<id>` node with its SupervisorInfo and refreshes it every
/// `supervisor.heartbeat.frequency.secs`. Its id lives in `storm.local.dir/supervisor/`, so a restarted
/// supervisor is the same one. It watches `assignments/` and each assignment (one watch each: a change re-reads
/// them, and the reads re-arm what fired), re-reads them every `supervisor.monitor.frequency.secs` in case a
/// watch was lost, and records, in the same folder, which of its ports should run which executors: the workers
/// follow that record.
public final class Supervisor: Sendable {
    public static let version = StormVersion.storm

    public let id: String
    let conf: StormConfig
    let state: StormClusterState
    let logger: Logger
    let hostname: String
    let ports: [Int64]
    let localDir: URL
    let startTime = Date()
    private let local: Locked<[Int32: LocalAssignment]>
    let files: TopologyFiles
    let workers: WorkerManager
    private let syncing = Locked((running: false, again: false))
    /// The watches on `assignments/` and its nodes; every read of the assignments goes through them.
    let watches: PathWatches
    /// One element whenever a watch fired (a burst is one): the service syncs for each.
    let assignmentsChanged: AsyncStream<Void>
    /// When this supervisor last looked for topologies whose archive no nimbus holds.
    private let lastHandBackCheck = Locked(Date.distantPast)
    /// Metric families left out of `/metrics` for a type conflict, each logged once.
    let metricConflictsLogged = Locked<Set<String>>([])

    public init(conf: StormConfig, state: StormClusterState, logger: Logger) throws {
        self.conf = conf
        self.state = state
        self.logger = logger
        hostname = conf.localHostname
        ports = try conf.intList(ConfigKey.supervisorSlotsPorts).map(Int64.init)
        localDir = URL(fileURLWithPath: try conf.string(ConfigKey.localDir)).appendingPathComponent(
            "supervisor", isDirectory: true)
        try FileManager.default.createDirectory(at: localDir, withIntermediateDirectories: true)
        id = try Self.loadOrCreateId(localDir)
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        assignmentsChanged = changes
        watches = PathWatches(storage: state.storage) { _ in changed.yield() }
        files = TopologyFiles(supervisorDir: localDir)
        let local = Locked((try? Self.loadAssignments(localDir)) ?? [:])
        self.local = local
        let files = self.files
        workers = try WorkerManager(
            supervisorId: id, conf: conf, logger: logger, assignments: { local.withLock { $0 } },
            hasTopology: { files.has($0) })
    }

    /// The ports this supervisor should run, and what: the record the workers follow.
    public var localAssignments: [Int32: LocalAssignment] { local.withLock { $0 } }

    var infoPath: String { state.supervisorsPath + "/" + id }

    // MARK: identity and local state

    static func loadOrCreateId(_ dir: URL) throws -> String {
        let file = dir.appendingPathComponent("supervisor-id")
        if let data = try? Data(contentsOf: file),
            let stored = try? ThriftSerialization.deserialize(LSSupervisorId.self, from: [UInt8](data))
        {
            return stored.supervisorId
        }
        let id = UUID().uuidString.lowercased()
        try Data(ThriftSerialization.serialize(LSSupervisorId(supervisorId: id))).write(to: file, options: .atomic)
        return id
    }

    static func loadAssignments(_ dir: URL) throws -> [Int32: LocalAssignment] {
        let data = try Data(contentsOf: dir.appendingPathComponent("local-assignments"))
        return try ThriftSerialization.deserialize(LSSupervisorAssignments.self, from: [UInt8](data)).assignments
    }

    private func saveAssignments(_ assignments: [Int32: LocalAssignment]) throws {
        try Data(ThriftSerialization.serialize(LSSupervisorAssignments(assignments: assignments)))
            .write(to: localDir.appendingPathComponent("local-assignments"), options: .atomic)
    }

    // MARK: heartbeats

    func info() -> SupervisorInfo {
        let now = Int64(Date().timeIntervalSince1970)
        return SupervisorInfo(
            timeSecs: now, hostname: hostname, assignmentId: id,
            usedPorts: localAssignments.keys.map(Int64.init).sorted(), meta: ports, schedulerMeta: [:],
            uptimeSecs: Int64(Date().timeIntervalSince(startTime)), version: Self.version, resourcesMap: [:])
    }

    /// Registers this supervisor. A node left by its previous run (whose session may not have ended yet) is
    /// replaced, so it cannot vanish later under the new run.
    func register() async throws {
        try await state.storage.createParents(state.supervisorsPath)
        try? await state.storage.delete(infoPath, version: nil)
        try await state.storage.create(infoPath, data: ThriftSerialization.serialize(info()), mode: .ephemeral)
    }

    /// Refreshes the heartbeat; re-registers if the node is gone (a new session, a ZooKeeper that lost it).
    func heartbeat() async throws {
        let data = try ThriftSerialization.serialize(info())
        do {
            try await state.storage.set(infoPath, data: data, version: nil)
        } catch StorageError.noNode {
            try await state.storage.create(infoPath, data: data, mode: .ephemeral)
        }
    }

    // MARK: assignments

    /// Reads every assignment and records the executors assigned to this supervisor's ports. Calls (a watch
    /// firing during the periodic sync) never overlap: one that arrives during a sync makes it run once more.
    public func syncAssignments() async throws {
        let first = syncing.withLock { s -> Bool in
            if s.running {
                s.again = true
                return false
            }
            s.running = true
            return true
        }
        guard first else { return }
        while true {
            do {
                try await syncOnce()
            } catch {
                syncing.withLock { $0 = (false, false) }
                throw error
            }
            let again = syncing.withLock { s -> Bool in
                if s.again {
                    s.again = false
                    return true
                }
                s.running = false
                return false
            }
            if !again { return }
        }
    }

    private func syncOnce() async throws {
        var mine: [Int32: LocalAssignment] = [:]
        for (topology, assignment) in try await state.assignments(watches: watches) {
            for (executor, node) in assignment.executorNodePort ?? [:] where node.node == id && executor.count == 2 {
                for port in node.port {
                    var entry =
                        mine[Int32(port)]
                        ?? LocalAssignment(topologyId: topology, executors: [], owner: assignment.owner)
                    entry.executors.append(ExecutorInfo(taskStart: Int32(executor[0]), taskEnd: Int32(executor[1])))
                    mine[Int32(port)] = entry
                }
            }
        }
        for key in mine.keys { mine[key]!.executors.sort { $0.taskStart < $1.taskStart } }
        await fetchTopologies(Set(mine.values.map(\.topologyId)))
        await handBackArchives()
        defer { workers.poke() }
        let changed = local.withLock { current -> Bool in
            defer { current = mine }
            return current != mine
        }
        guard changed else { return }
        try saveAssignments(mine)
        let summary = mine.keys.sorted().map {
            "\($0): \(mine[$0]!.topologyId) (\(mine[$0]!.executors.count) executors)"
        }
        logger.info("supervisor \(id) assignments: \(summary.isEmpty ? "none" : summary.joined(separator: ", "))")
        try? await heartbeat()
    }

    /// Downloads the topologies assigned here that are not yet on disk, and deletes those no longer assigned.
    /// Downloading blocks on Thrift calls, so it runs on a thread of its own.
    func fetchTopologies(_ wanted: Set<String>) async {
        let store = files
        let missing = wanted.filter { !store.has($0) }
        // A topology whose worker is still stopping keeps its files until the worker is gone.
        let running = Set(workers.current.values.map(\.topologyId))
        for stale in store.downloaded where !wanted.contains(stale) && !running.contains(stale) {
            store.remove(stale)
            logger.info("supervisor \(id) deleted the files of topology \(stale), no longer assigned here")
        }
        guard !missing.isEmpty else { return }
        // The leader first; any other nimbus that holds a topology's files will do.
        var holders: [String: [String]] = [:]
        for id in missing { holders[id] = (try? await state.codeHolders(id)) ?? [] }
        let conf = self.conf
        let logger = self.logger
        await onOwnThread { [holders] in
            let leader = Result { try NimbusSeeds.connectToLeader(conf) }
            defer { try? leader.get().close() }
            for id in missing.sorted() {
                var failures: [String] = []
                func attempt(_ source: String, _ client: NimbusClient) -> Bool {
                    do {
                        try store.download(id, from: client)
                        logger.info("downloaded topology \(id) from nimbus \(source)")
                        return true
                    } catch {
                        failures.append("\(source): \(error)")
                        return false
                    }
                }
                switch leader {
                case .success(let client): if attempt("leader", client) { continue }
                case .failure(let error): failures.append("leader: \(error)")
                }
                let fetched = (holders[id] ?? []).contains { holder in
                    do {
                        let client = try Self.connect(holder, conf)
                        defer { client.close() }
                        return attempt(holder, client)
                    } catch {
                        failures.append("\(holder): \(error)")
                        return false
                    }
                }
                if !fetched {
                    logger.warning(
                        "could not download topology \(id) (retrying at the next sync): \(failures.joined(separator: "; "))"
                    )
                }
            }
        }
    }

    /// Hands a topology's archive back to the leader when no nimbus holds it (every nimbus that had it lost its
    /// disk or died before another copied it): this supervisor's copy is then the only one. Looked at every
    /// `nimbus.monitor.freq.secs` at most, for the topologies whose files are here.
    func handBackArchives() async {
        let period = TimeInterval(conf.intOrDefault(ConfigKey.nimbusMonitorFreqSecs))
        let due = lastHandBackCheck.withLock { last -> Bool in
            guard Date().timeIntervalSince(last) >= period else { return false }
            last = Date()
            return true
        }
        guard due else { return }
        var orphaned: [String] = []
        for id in files.downloaded where files.has(id) {
            if let holders = try? await state.codeHolders(id), holders.isEmpty,
                (try? await state.stormBase(id)) != nil
            {
                orphaned.append(id)
            }
        }
        guard !orphaned.isEmpty else { return }
        let (conf, logger, store) = (self.conf, self.logger, files)
        await onOwnThread { [orphaned] in
            do {
                let nimbus = try NimbusSeeds.connectToLeader(conf)
                defer { nimbus.close() }
                for id in orphaned {
                    do {
                        try store.upload(id, to: nimbus)
                        logger.info("handed the archive of topology \(id) back to nimbus: no nimbus held it")
                    } catch {
                        logger.warning("could not hand the archive of topology \(id) back to nimbus: \(error)")
                    }
                }
            } catch {
                logger.warning("could not reach nimbus to hand back topology archives: \(error)")
            }
        }
    }

    static func connect(_ hostPort: String, _ conf: StormConfig) throws -> NimbusClient {
        let (host, port) = NimbusSeeds.split(hostPort, defaultPort: try conf.int(ConfigKey.nimbusThriftPort))
        return try NimbusSeeds.connect(host: host, port: port, conf)
    }
}
