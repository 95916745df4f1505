import ClusterState
import Components
import Dispatch
import Foundation
import Locking
import Logging
import StormCore
import StormThrift

/// The Nimbus service: accepts, stores and controls topologies and answers cluster queries.
///
/// Its methods run on libthrift's connection threads. Every change to topology state happens under one lock,
/// so checks such as "is this name alive" and the writes that follow are atomic; reads take no lock.
public final class Nimbus: NimbusHandler {
    public static let version = StormVersion.storm

    let conf: StormConfig
    let state: StormClusterState
    let code: TopologyCodeStore
    let transfers: FileTransfers
    let logger: Logger
    public let host: String
    public let port: Int
    let startTime = Date()

    let writes = Locked<Int64>(0)  // holds the submit counter
    let plans = Locked<[String: TopologyPlan]>([:])
    /// Topologies just rebalanced: the next scheduling round spreads them anew instead of keeping their slots.
    let respread = Locked<Set<String>>([])
    let timers = DispatchQueue(label: "nimbus.transitions")
    let election: LeaderElection
    /// Whether this nimbus led at the last monitor round (to notice taking over).
    let leadership = Locked(false)
    let monitorFailing = Locked(false)
    /// Each topology's scheduling or replication trouble as last logged, so each is logged once, not every round.
    let troubles = Locked<[String: String]>([:])
    /// Why the leader holds back a topology it has not assigned yet (its sched_status meanwhile).
    let schedulingHolds = Locked<[String: String]>([:])
    /// Topologies submitted here that wait for `topology.min.replication.count` nimbuses to hold their files before
    /// their first assignment. As in Storm, only the submit waits: a nimbus that takes over schedules at once.
    let awaitingReplication = Locked<Set<String>>([])
    /// Topologies this nimbus has said, in this cluster state session, that it holds the files of.
    let heldCode = Locked<Set<String>>([])
    /// Each topology's replication count as last read, for the topology lists (getClusterInfo reads one per
    /// topology on every call otherwise); refreshed every monitor period and when this nimbus registers a copy.
    let replicationCounts = Locked<(readAt: Date, counts: [String: Int])>((.distantPast, [:]))
    /// Archive uploads that restore a topology's files here (`beginUpdateBlob`): session -> topology id.
    let archiveRestores = Locked<[String: String]>([:])
    let monitorQueued = Locked(false)
    /// Each supervisor's last heartbeat time and when nimbus saw it change (by nimbus' clock).
    let supervisorBeats = Locked<[String: (timeSecs: Int64, seenAt: Date)]>([:])
    /// Live supervisors whose node vanished, with their last info and since when: a restarting supervisor
    /// replaces the node its previous run left (delete, then create), and must not look dead in between.
    let vanishedSupervisors = Locked<[String: (info: SupervisorInfo, since: Date)]>([:])
    /// The supervisors the last scheduling round counted as live.
    let lastLive = Locked<[String: SupervisorInfo]>([:])
    /// Cluster state records found unreadable, by path, with why: each is logged once, not at every read.
    let unreadableRecords = Locked<[String: String]>([:])
    /// When the leader last checked that the topology code and conf records can be read.
    let lastRecordsCheck = Locked(Date.distantPast)
    /// The watches on `supervisors/` and `storms/` (one each, however often they are armed).
    let watches: PathWatches
    /// One element whenever one of `watches` fired or the session that held them ended (a burst is one).
    let clusterChanges: AsyncStream<Void>
    let clusterChanged: AsyncStream<Void>.Continuation

    public init(conf: StormConfig, state: StormClusterState, host: String, port: Int, logger: Logger) throws {
        self.conf = conf
        self.state = state
        self.host = host
        self.port = port
        self.logger = logger
        let localDir = URL(fileURLWithPath: try conf.string(ConfigKey.localDir))
        code = try TopologyCodeStore(localDir: localDir)
        transfers = try FileTransfers(
            inbox: localDir.appendingPathComponent("nimbus/inbox", isDirectory: true),
            maxUploadBytes: try conf.int(ConfigKey.nimbusUploadMaxBytes),
            expiration: TimeInterval(try conf.int(ConfigKey.nimbusFileCopyExpirationSecs)),
            inboxExpiration: TimeInterval(try conf.int(ConfigKey.nimbusInboxJarExpirationSecs)),
            limits: FileTransfers.Limits(
                uploadsPerConnection: try conf.int(ConfigKey.nimbusUploadMaxOpenPerConnection),
                uploads: try conf.int(ConfigKey.nimbusUploadMaxOpen), downloads: try conf.int(ConfigKey.nimbusDownloadMaxOpen)))
        election = LeaderElection(state: state, address: "\(host):\(port)")
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (clusterChanges, clusterChanged) = (changes, changed)
        watches = PathWatches(storage: state.storage) { _ in changed.yield() }
    }

    // MARK: submitting

    public func submitTopology(name: String, uploadedJarLocation: String, jsonConf: String, topology: StormTopology) throws {
        try submitTopologyWithOpts(
            name: name, uploadedJarLocation: uploadedJarLocation, jsonConf: jsonConf, topology: topology,
            options: SubmitOptions(initialStatus: .active))
    }

    public func submitTopologyWithOpts(
        name: String, uploadedJarLocation: String, jsonConf: String, topology: StormTopology, options: SubmitOptions
    ) throws {
        do {
            try TopologyName.validate(name)
        } catch {
            throw InvalidTopologyException(msg: error.description)
        }
        let userConf: [String: ConfigValue]
        do {
            userConf = try JSON.decodeObject(jsonConf.isEmpty ? "{}" : jsonConf)
        } catch {
            throw InvalidTopologyException(msg: "topology conf (jsonConf) is \(error)")
        }
        let fullConf = conf.merging(userConf)
        do {
            try TopologyValidator.validateConf(fullConf)
        } catch {
            throw InvalidTopologyException(msg: error.description)
        }
        do {
            try TopologyValidator.validate(topology)
            try Self.checkComponentClasses(topology)
        } catch let error as TopologyError {
            throw InvalidTopologyException(msg: error.description)
        } catch let error as ComponentRegistry.Failure {
            throw InvalidTopologyException(msg: error.description)
        }
        let plan = TopologyPlan(topology: topology, conf: fullConf)

        try writes.withLock { counter in
            if try blockingAwait({ [state] in try await state.stormId(named: name) }) != nil {
                throw AlreadyAliveException(msg: "topology '\(name)' is already alive")
            }
            let archive: String
            do {
                archive = try transfers.finishedUpload(uploadedJarLocation)
            } catch let error as FileTransfers.TransferError {
                throw InvalidTopologyException(msg: error.description)
            }
            counter += 1
            let launch = Int32(clamping: Int(Date().timeIntervalSince1970))
            let id = "\(name)-\(counter)-\(launch)"
            var stored = userConf
            stored[ConfigKey.stormId] = .string(id)
            stored[ConfigKey.topologyName] = .string(name)
            stored[ConfigKey.topologyWorkers] = fullConf[ConfigKey.topologyWorkers]
            stored[ConfigKey.topologyAckerExecutors] = .int(Int64(TopologyPlan.ackerExecutors(fullConf)))
            let owner = userConf[ConfigKey.topologySubmitterUser]?.stringValue ?? Self.processUser
            // The structure and conf go to the cluster state first, where every nimbus can schedule from them;
            // the base last, since it makes the topology alive. Whatever fails undoes what came before.
            let confJSON = try JSON.encode(.map(stored))
            do {
                try blockingAwait { [state] in try await state.setTopologyRecords(id, topology: topology, confJSON: confJSON) }
            } catch let error as ClusterStateError {
                throw InvalidTopologyException(msg: "topology '\(name)' cannot be stored: \(error)")
            }
            do {
                try code.save(id: id, archive: archive, topology: topology, conf: stored)
            } catch {
                try? blockingAwait { [state] in try await state.removeTopologyRecords(id) }
                throw InvalidTopologyException(msg: "nimbus could not store the topology: \(error.localizedDescription)")
            }
            let base = StormBase(
                name: name, status: options.initialStatus == .inactive ? .inactive : .active,
                numWorkers: Int32(clamping: fullConf.intOrDefault(ConfigKey.topologyWorkers)),
                componentExecutors: plan.executors, launchTimeSecs: launch, owner: owner)
            do {
                try blockingAwait { [state] in try await state.setStormBase(id, base) }
            } catch {
                code.remove(id)
                try? blockingAwait { [state] in try await state.removeTopologyRecords(id) }
                throw error
            }
            plans.withLock { $0[id] = plan }
            awaitingReplication.withLock { _ = $0.insert(id) }
            logger.info("submitted topology \(id) (\(base.status.thriftName))")
            // Says at once that this nimbus holds the files; the monitor round retries if this fails.
            try? registerHolding(id)
        }
        monitorSoon()
    }

    /// Records a component's error in the topology's errors (LocalCluster's runtimes report through here).
    public func recordError(_ id: String, component: String, _ message: String) {
        let info = ErrorInfo(error: message, errorTimeSecs: Int32(clamping: Int(Date().timeIntervalSince1970)), host: host, port: Int32(port))
        Task { [state] in try? await state.reportError(id, component: component, info) }
    }

    /// Components named by class must be ones this cluster has (shell components bring their own program).
    static func checkComponentClasses(_ topology: StormTopology) throws(ComponentRegistry.Failure) {
        for (id, spout) in topology.spouts.sorted(by: { $0.key < $1.key }) {
            if case .javaObject(let object) = spout.spoutObject { try ComponentRegistry.shared.check(object, as: .spout, component: id) }
        }
        for (id, bolt) in topology.bolts.sorted(by: { $0.key < $1.key }) {
            if case .javaObject(let object) = bolt.boltObject { try ComponentRegistry.shared.check(object, as: .bolt, component: id) }
            for (source, grouping) in bolt.common.inputs.sorted(by: { $0.key.componentId < $1.key.componentId }) {
                if case .customObject(let object) = grouping {
                    try ComponentRegistry.shared.checkGrouping(object, subscriber: id, source: source.componentId)
                }
            }
        }
    }

    // MARK: lifecycle transitions

    public func killTopology(name: String) throws {
        try killTopologyWithOpts(name: name, options: KillOptions())
    }

    public func killTopologyWithOpts(name: String, options: KillOptions) throws {
        try requireLeader()
        let (id, wait) = try writes.withLock { _ -> (String, Int) in
            let (id, base): (String, StormBase)
            do {
                (id, base) = try aliveBase(named: name)
            } catch let error as ClusterStateError {
                // Its status and options are unknown, so there is nothing to wait on: it goes at once.
                guard let id = try blockingAwait({ [state] in try await state.stormId(named: name) }) else { throw error }
                try blockingAwait { [state] in try await state.removeStorm(id) }
                code.remove(id)
                plans.withLock { $0[id] = nil }
                logger.info("removed topology \(id) at once: \(error)")
                return (id, -1)
            }
            let wait: Int
            if let w = options.waitSecs {
                wait = max(Int(w), 0)
            } else {
                wait = try defaultWait(id)
            }
            var updated = base
            updated.status = .killed
            updated.topologyActionOptions = .killOptions(KillOptions(waitSecs: Int32(clamping: wait)))
            try blockingAwait { [state, updated] in try await state.setStormBase(id, updated) }
            logger.info("killing topology \(id) in \(wait)s")
            return (id, wait)
        }
        if wait >= 0 { schedule(after: wait) { self.finishKill(id) } } else { monitorSoon() }
    }

    func finishKill(_ id: String) {
        writes.withLock { _ in
            do {
                // A follower leaves it to the leader (which resumes pending kills when it takes over).
                guard try blockingAwait({ [election] in try await election.isLeader() }) else { return }
                guard let base = try blockingAwait({ [state] in try await state.stormBase(id) }), base.status == .killed
                else { return }
                try blockingAwait { [state] in try await state.removeStorm(id) }
                code.remove(id)
                plans.withLock { $0[id] = nil }
                logger.info("removed killed topology \(id)")
            } catch {
                logger.error("could not remove killed topology \(id): \(error); retrying in 5s")
                schedule(after: 5) { self.finishKill(id) }
            }
        }
    }

    public func activate(name: String) throws { try setStatus(name, .active) }
    public func deactivate(name: String) throws { try setStatus(name, .inactive) }

    private func setStatus(_ name: String, _ status: TopologyStatus) throws {
        try requireLeader()
        try writes.withLock { _ in
            let (id, base) = try aliveBase(named: name)
            var updated = base
            switch base.status {
            case .killed:
                throw NotAliveException(msg: "topology '\(name)' is being killed")
            case .rebalancing:
                // Takes effect when the rebalance ends.
                updated.prevStatus = status
            case .active, .inactive:
                updated.status = status
            }
            try blockingAwait { [state, updated] in try await state.setStormBase(id, updated) }
            logger.info("topology \(id) is now \(status.thriftName)")
        }
    }

    public func rebalance(name: String, options: RebalanceOptions) throws {
        try requireLeader()
        let (id, wait) = try writes.withLock { _ -> (String, Int) in
            let (id, base) = try aliveBase(named: name)
            switch base.status {
            case .killed: throw NotAliveException(msg: "topology '\(name)' is being killed")
            case .rebalancing: throw InvalidTopologyException(msg: "topology '\(name)' is already rebalancing")
            case .active, .inactive: break
            }
            let topology = try blockingAwait { [self] in try await self.stored(id).topology }
            let components = Set(topology.components.map(\.id))
            if let w = options.waitSecs, w < 0 {
                throw InvalidTopologyException(msg: "rebalance wait must not be negative, got \(w)")
            }
            if let n = options.numWorkers, n <= 0 {
                throw InvalidTopologyException(msg: "number of workers must be greater than 0, got \(n)")
            }
            for (component, n) in (options.numExecutors ?? [:]).sorted(by: { $0.key < $1.key }) {
                if !components.contains(component) {
                    throw InvalidTopologyException(
                        msg: "invalid component '\(component)' for topology '\(name)'; valid values are \(components.sorted().joined(separator: ","))")
                }
                if n <= 0 {
                    throw InvalidTopologyException(msg: "number of executors for '\(component)' must be greater than 0, got \(n)")
                }
            }
            if let overrides = options.topologyConfOverrides {
                do {
                    _ = try JSON.decodeObject(overrides)
                } catch {
                    throw InvalidTopologyException(msg: "topology_conf_overrides is \(error)")
                }
            }
            let wait: Int
            if let w = options.waitSecs {
                wait = Int(w)
            } else {
                wait = try defaultWait(id)
            }
            var stored = options
            stored.principal = nil
            stored.waitSecs = Int32(clamping: wait)
            var updated = base
            updated.prevStatus = base.status
            updated.status = .rebalancing
            updated.topologyActionOptions = .rebalanceOptions(stored)
            try blockingAwait { [state, updated] in try await state.setStormBase(id, updated) }
            logger.info("rebalancing topology \(id) in \(wait)s")
            return (id, wait)
        }
        schedule(after: wait) { self.finishRebalance(id) }
    }

    func finishRebalance(_ id: String) {
        let done = writes.withLock { _ -> Bool in
            do {
                guard try blockingAwait({ [election] in try await election.isLeader() }) else { return false }
                guard var base = try blockingAwait({ [state] in try await state.stormBase(id) }),
                    base.status == .rebalancing, case .rebalanceOptions(let options)? = base.topologyActionOptions
                else { return false }
                var topoConf = try blockingAwait { [self] in try await stored(id).conf }
                if let n = options.numWorkers {
                    base.numWorkers = n
                    topoConf[ConfigKey.topologyWorkers] = .int(Int64(n))
                }
                if let overrides = options.topologyConfOverrides, let map = try? JSON.decodeObject(overrides) {
                    topoConf.merge(map) { _, new in new }
                }
                var executors = base.componentExecutors ?? [:]
                for (component, n) in options.numExecutors ?? [:] { executors[component] = n }
                base.componentExecutors = executors
                base.status = base.prevStatus ?? .active
                base.prevStatus = nil
                base.topologyActionOptions = nil
                let confJSON = try JSON.encode(.map(topoConf))
                try blockingAwait { [state] in try await state.setTopologyConf(id, confJSON: confJSON) }
                if code.has(id) { try code.updateConf(id, topoConf) }
                // Rebalancing spreads the topology anew. The old assignment stays until the new one replaces it,
                // so workers whose slots are kept never see their topology unassigned.
                respread.withLock { _ = $0.insert(id) }
                try blockingAwait { [state, base] in try await state.setStormBase(id, base) }
                plans.withLock { $0[id] = nil }
                logger.info("rebalanced topology \(id); it is \(base.status.thriftName) again")
                return true
            } catch {
                logger.error("could not finish rebalancing \(id): \(error); retrying in 5s")
                schedule(after: 5) { self.finishRebalance(id) }
                return false
            }
        }
        if done { monitorSoon() }
    }

    /// Kill and rebalance wait the topology's message timeout by default, as Storm does.
    private func defaultWait(_ id: String) throws -> Int {
        let topoConf = try? blockingAwait { [self] in try await stored(id).conf }
        if let timeout = topoConf?[ConfigKey.topologyMessageTimeoutSecs]?.intValue { return Int(timeout) }
        return try conf.int(ConfigKey.topologyMessageTimeoutSecs)
    }

    func schedule(after seconds: Int, _ work: @escaping @Sendable () -> Void) {
        timers.asyncAfter(deadline: .now() + .seconds(max(seconds, 0)), execute: work)
    }

    // MARK: files

    // Uploads go to the leader, which is where the submit that uses them must go too.
    public func beginFileUpload() throws -> String {
        try requireLeader()
        return try transfers.beginUpload(for: ThriftConnection.current)
    }

    public func uploadChunk(location: String, chunk: [UInt8]) throws { try transfers.uploadChunk(location, chunk) }

    public func finishFileUpload(location: String) throws { try transfers.finishUpload(location) }

    public func beginFileDownload(file: String) throws -> String {
        guard let path = code.resolveDownload(file) else {
            throw FileTransfers.TransferError(description: "'\(file)' is not a topology file this nimbus serves")
        }
        return try transfers.beginDownload(path)
    }

    public func downloadChunk(id: String) throws -> [UInt8] { try transfers.downloadChunk(id) }

    // MARK: queries

    public func getNimbusConf() throws -> String { try conf.json() }

    public func getClusterInfo() throws -> ClusterSummary {
        try blockingAwait { [self] in
            // Each assignment read once, for both the supervisors' used slots and the topologies' workers.
            let assignments = try await readableAssignments()
            var usedSlots: [String: Set<Int64>] = [:]
            for assignment in assignments.records.values {
                for node in assignment.executorNodePort?.values ?? [:].values { usedSlots[node.node, default: []].formUnion(node.port) }
            }
            let registered = try await state.supervisors()
            for (_, error) in registered.unreadable {
                noteUnreadable(error, topology: nil, remedy: "the supervisor is left out of cluster queries until it writes it again")
            }
            let supervisors = registered.records.map { id, info in
                SupervisorSummary(
                    host: info.hostname, uptimeSecs: Int32(clamping: info.uptimeSecs ?? 0),
                    numWorkers: Int32(clamping: info.meta?.count ?? 0),
                    numUsedWorkers: Int32(clamping: usedSlots[id]?.count ?? 0), supervisorId: id,
                    version: info.version ?? "VERSION_NOT_PROVIDED")
            }
            return ClusterSummary(
                supervisors: supervisors.sorted { $0.supervisorId < $1.supervisorId },
                topologies: try await summaries(assignments: assignments), nimbuses: try await nimbusSummaries())
        }
    }

    public func getTopologySummaries() throws -> [TopologySummary] {
        try blockingAwait { [self] in try await summaries() }
    }

    public func getTopologySummaryByName(name: String) throws -> TopologySummary {
        try blockingAwait { [self] in
            guard let id = try await state.stormId(named: name) else {
                throw NotAliveException(msg: "topology '\(name)' is not alive")
            }
            return try await summary(id)
        }
    }

    public func getTopologySummary(id: String) throws -> TopologySummary {
        try blockingAwait { [self] in try await summary(id) }
    }

    public func getLeader() throws -> NimbusSummary {
        try blockingAwait { [self] in
            guard let leader = try await election.leader() else { throw NotLeaderError(this: address, leader: nil) }
            if let summary = try await nimbusSummaries().first(where: { "\($0.host):\($0.port)" == leader }) { return summary }
            // A registration that cannot be read (the leader rewrites it): what the election says is enough to reach it.
            guard try await state.nimbuses().unreadable[leader] != nil else { throw NotLeaderError(this: address, leader: nil) }
            let (host, port) = NimbusSeeds.split(leader, defaultPort: self.port)
            return NimbusSummary(host: host, port: Int32(clamping: port), uptimeSecs: 0, isLeader: true, version: "VERSION_NOT_PROVIDED")
        }
    }

    public func isTopologyNameAllowed(name: String) throws -> Bool {
        guard (try? TopologyName.validate(name)) != nil else { return false }
        return try blockingAwait { [state] in try await state.stormId(named: name) } == nil
    }

    public func getTopologyInfo(id: String) throws -> TopologyInfo {
        try getTopologyInfoWithOpts(id: id, options: GetInfoOptions())
    }

    public func getTopologyInfoByName(name: String) throws -> TopologyInfo {
        try getTopologyInfoByNameWithOpts(name: name, options: GetInfoOptions())
    }

    public func getTopologyInfoByNameWithOpts(name: String, options: GetInfoOptions) throws -> TopologyInfo {
        guard let id = try blockingAwait({ [state] in try await state.stormId(named: name) }) else {
            throw NotAliveException(msg: "topology '\(name)' is not alive")
        }
        return try getTopologyInfoWithOpts(id: id, options: options)
    }

    public func getTopologyInfoWithOpts(id: String, options: GetInfoOptions) throws -> TopologyInfo {
        try blockingAwait { [self] in
            // Each record read on its own: one that cannot be read shows in the status and errors, and hides no other.
            var base: StormBase?
            var trouble: ClusterStateError?
            do {
                guard let read = try await state.stormBase(id) else { throw notAlive(id: id) }
                base = read
            } catch let error as ClusterStateError {
                noteUnreadable(error, topology: id, remedy: Self.brokenBaseRemedy)
                trouble = error
            }
            var errors: [String: [ErrorInfo]] = [:]
            let choice = options.numErrChoice ?? .all
            if choice != NumErrorsChoice.none {
                for component in try await state.componentsWithErrors(id) {
                    let read = try await state.errors(id, component: component)
                    for (_, error) in read.unreadable {
                        noteUnreadable(error, topology: id, remedy: "it is left out of the topology's errors")
                    }
                    if !read.errors.isEmpty { errors[component] = choice == .one ? Array(read.errors.suffix(1)) : read.errors }
                }
            }
            var assignment: Assignment?
            do {
                assignment = try await state.assignment(id)
            } catch let error as ClusterStateError {
                noteUnreadable(error, topology: id, remedy: Self.assignmentRemedy)
                trouble = trouble ?? error
            }
            var executors: [ExecutorSummary] = []
            var taskToComponent: [Int32: String] = [:]
            do {
                let plan = try await plan(id)
                for (component, range) in TaskLayout.taskRanges(plan.tasks) { for t in range { taskToComponent[t] = component } }
            } catch let error as ClusterStateError {
                trouble = trouble ?? error
            }
            // Each executor's counts, as its worker last reported them.
            var beats: [String: ClusterWorkerHeartbeat] = [:]
            if assignment != nil {
                let read = try await state.workerHeartbeats(id)
                for (_, error) in read.unreadable {
                    noteUnreadable(error, topology: id, remedy: "its worker's counts are left out until the worker writes it again")
                }
                beats = read.records
            }
            for (executor, node) in assignment?.executorNodePort ?? [:] where executor.count == 2 {
                let start = Int32(clamping: executor[0])
                let info = ExecutorInfo(taskStart: start, taskEnd: Int32(clamping: executor[1]))
                let port = Int32(clamping: node.port.first ?? 0)
                var summary = ExecutorSummary(
                    executorInfo: info, componentId: taskToComponent[start] ?? "", host: assignment?.nodeHost?[node.node] ?? node.node,
                    port: port,
                    uptimeSecs: Int32(clamping: Int64(Date().timeIntervalSince1970) - (assignment?.executorStartTimeSecs?[executor] ?? 0)))
                summary.stats = beats["\(node.node)-\(port)"]?.executorStats[info]
                executors.append(summary)
            }
            var info = TopologyInfo(
                id: id, name: base?.name ?? TopologyName.name(ofId: id) ?? id,
                uptimeSecs: base.map(uptime) ?? Self.uptime(ofId: id),
                executors: executors.sorted { $0.executorInfo.taskStart < $1.executorInfo.taskStart },
                status: base?.status.thriftName ?? Self.unknownStatus, errors: errors, stormVersion: Self.version, owner: base?.owner)
            if let trouble {
                info.schedStatus = trouble.description
            } else if let base {
                info.schedStatus = schedulingStatus(id, base: base, assignment: assignment)
            }
            info.replicationCount = Int32(clamping: try await state.codeHolders(id).count)
            return info
        }
    }

    public func getTopologyConf(id: String) throws -> String {
        try JSON.encode(.map(try blockingAwait { [self] in try await stored(id).conf }))
    }

    public func getTopology(id: String) throws -> StormTopology {
        let (user, topoConf) = try blockingAwait { [self] in try await stored(id) }
        return SystemTopology.build(user, conf: conf.merging(topoConf))
    }

    public func getUserTopology(id: String) throws -> StormTopology {
        try blockingAwait { [self] in try await stored(id).topology }
    }

    // MARK: helpers

    /// Every registered nimbus, with its uptime and whether it leads now.
    private func nimbusSummaries() async throws -> [NimbusSummary] {
        let leader = try await election.leader()
        let now = Int32(clamping: Int(Date().timeIntervalSince1970))
        let registered = try await state.nimbuses()
        for (_, error) in registered.unreadable {
            noteUnreadable(error, topology: nil, remedy: "that nimbus is left out of cluster queries until it registers again")
        }
        return registered.records.values.map { stored in
            var s = stored
            s.isLeader = "\(s.host):\(s.port)" == leader
            s.uptimeSecs = max(0, now - stored.uptimeSecs)
            return s
        }.sorted { ($0.host, $0.port) < ($1.host, $1.port) }
    }

    /// Every topology's summary; `assignments`, when the caller has read them already, saves reading them again.
    private func summaries(assignments: Records<Assignment>? = nil) async throws -> [TopologySummary] {
        let assignments = if let assignments { assignments } else { try await readableAssignments() }
        var out: [TopologySummary] = []
        for id in try await state.activeStorms() {
            if let summary = try await summary(id, assignments: assignments) { out.append(summary) }
        }
        return out.sorted { $0.name < $1.name }
    }

    private func summary(_ id: String) async throws -> TopologySummary {
        var assignments = Records<Assignment>()
        do {
            assignments.records[id] = try await state.assignment(id)
        } catch let error as ClusterStateError {
            assignments.unreadable[id] = error
        }
        guard let summary = try await summary(id, assignments: assignments) else { throw notAlive(id: id) }
        return summary
    }

    /// A topology's summary, or nil when it is gone; a record that cannot be read shows in its `sched_status`.
    private func summary(_ id: String, assignments: Records<Assignment>) async throws -> TopologySummary? {
        let base: StormBase
        do {
            guard let read = try await state.stormBase(id) else { return nil }
            base = read
        } catch let error as ClusterStateError {
            noteUnreadable(error, topology: id, remedy: Self.brokenBaseRemedy)
            return await brokenSummary(id, error, assignment: assignments.records[id])
        }
        var summary = await summary(id, base, assignment: assignments.records[id])
        if let error = assignments.unreadable[id] { summary.schedStatus = error.description }
        return summary
    }

    /// Every assignment that can be read; those that cannot are noted (the leader rewrites them).
    private func readableAssignments() async throws -> Records<Assignment> {
        let read = try await state.readableAssignments()
        for (id, error) in read.unreadable { noteUnreadable(error, topology: id, remedy: Self.assignmentRemedy) }
        return read
    }

    static let assignmentRemedy = "the leader recomputes the assignment and rewrites it"
    static let brokenBaseRemedy = "nimbus cannot rebuild a topology's base: the topology keeps its workers but is not scheduled until it is killed"

    private func summary(_ id: String, _ base: StormBase, assignment: Assignment?) async -> TopologySummary {
        // Counts come from the StormBase when the topology's records cannot be read.
        let plan = try? await plan(id)
        let executors = base.componentExecutors?.values.reduce(0, +) ?? plan?.totalExecutors ?? 0
        let workers = Set((assignment?.executorNodePort ?? [:]).values.map { "\($0.node):\($0.port.sorted())" })
        var summary = TopologySummary(
            id: id, name: base.name, numTasks: plan?.totalTasks ?? executors, numExecutors: executors,
            numWorkers: Int32(workers.count), uptimeSecs: uptime(base), status: base.status.thriftName,
            stormVersion: Self.version, schedStatus: schedulingStatus(id, base: base, assignment: assignment),
            owner: base.owner)
        var count = replicationCounts.withLock { $0.counts[id] }
        if count == nil, let read = try? await state.codeHolders(id).count {
            count = read
            replicationCounts.withLock { $0.counts[id] = read }
        }
        summary.replicationCount = count.map { Int32(clamping: $0) }
        return summary
    }

    /// Storm's sched_status: how many of the requested workers the topology has, or why it has none yet.
    func schedulingStatus(_ id: String, base: StormBase, assignment: Assignment?) -> String {
        let workers = Set((assignment?.executorNodePort ?? [:]).values.map { "\($0.node):\($0.port.sorted())" }).count
        if workers == 0, let held = schedulingHolds.withLock({ $0[id] }) { return held }
        return EvenScheduler.status(workers: workers, requested: Int(base.numWorkers))
    }

    /// What scheduling a topology needs: its executors and tasks, from its structure and conf.
    func plan(_ id: String) async throws -> TopologyPlan {
        if let cached = plans.withLock({ $0[id] }) { return cached }
        let (topology, topoConf) = try await stored(id)
        let plan = TopologyPlan(topology: topology, conf: conf.merging(topoConf))
        plans.withLock { $0[id] = plan }
        return plan
    }

    /// A topology as submitted and its conf: from the cluster state, where every nimbus finds them whatever its
    /// own disk holds; from this nimbus' files for a topology submitted before the cluster state kept them.
    /// An unreadable record falls back on the files here (the leader rewrites the record from its own).
    func stored(_ id: String) async throws -> (topology: StormTopology, conf: [String: ConfigValue]) {
        do {
            if let topology = try await state.topologyCode(id), let text = try await state.topologyConfJSON(id) {
                do {
                    return (topology, try JSON.decodeObject(text))
                } catch {
                    throw ClusterStateError.corrupt(state.stormConfPath + "/" + id, "\(error)")
                }
            }
        } catch let error as ClusterStateError {
            guard let topology = try? code.topology(id), let topoConf = try? code.conf(id) else {
                noteUnreadable(error, topology: id, remedy: "no copy of the topology's files here can replace it")
                throw error
            }
            noteUnreadable(error, topology: id, remedy: "this nimbus reads its own copy of the topology's files instead")
            return (topology, topoConf)
        }
        guard let topology = try? code.topology(id), let topoConf = try? code.conf(id) else { throw notAlive(id: id) }
        return (topology, topoConf)
    }


    private func uptime(_ base: StormBase) -> Int32 {
        Int32(clamping: Int(Date().timeIntervalSince1970) - Int(base.launchTimeSecs ?? 0))
    }

    private func aliveBase(named name: String) throws -> (String, StormBase) {
        try blockingAwait { [state] in
            guard let id = try await state.stormId(named: name), let base = try await state.stormBase(id) else {
                throw NotAliveException(msg: "topology '\(name)' is not alive")
            }
            return (id, base)
        }
    }

    private func notAlive(id: String) -> NotAliveException {
        NotAliveException(msg: "topology id '\(id)' is not alive")
    }

    static var processUser: String {
        ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
    }
}
