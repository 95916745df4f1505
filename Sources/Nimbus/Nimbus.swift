import ClusterState
import Components
import Foundation
import Locking
import Logging
import StormCore
import StormMetrics
import StormThrift

/// The Nimbus service: accepts, stores and controls topologies and answers cluster queries.
///
/// An actor: its bookkeeping is its own state, and each call (a task the Thrift server starts per request, or a
/// LocalCluster's call) awaits the cluster state directly. Calls interleave at their awaits; changes to topology
/// state run one at a time (`writeSection`), so checks such as "is this name alive" and the writes that follow are
/// atomic, while queries go on meanwhile.
public actor Nimbus: NimbusHandler {
    public static let version = StormVersion.storm

    nonisolated let conf: StormConfig
    nonisolated let state: StormClusterState
    nonisolated let code: TopologyCodeStore
    nonisolated let transfers: FileTransfers
    nonisolated let logger: Logger
    public nonisolated let host: String
    public nonisolated let port: Int
    nonisolated let startTime = Date()
    nonisolated let election: LeaderElection
    /// `nimbus.authorizer`; nil: every caller may do everything.
    nonisolated let authorizer: SimpleACLAuthorizer?
    /// The watches on `supervisors/` and `storms/` (one each, however often they are armed).
    nonisolated let watches: PathWatches
    /// One element whenever one of `watches` fired or the session that held them ended (a burst is one).
    nonisolated let clusterChanges: AsyncStream<Void>
    nonisolated let clusterChanged: AsyncStream<Void>.Continuation

    /// Topologies submitted to this nimbus since it started (the middle part of a topology id).
    var submits: Int64 = 0
    /// Whether a write section runs, and the sections waiting for it, first come first served.
    private var writing = false
    private var waitingWriters: [CheckedContinuation<Void, Never>] = []
    var plans: [String: TopologyPlan] = [:]
    /// Topologies just rebalanced: the next scheduling round spreads them anew instead of keeping their slots.
    var respread: Set<String> = []
    /// Whether this nimbus led at the last monitor round (to notice taking over).
    var leadership = false
    var monitorFailing = false
    /// Each topology's scheduling or replication trouble as last logged, so each is logged once, not every round.
    var troubles: [String: String] = [:]
    /// Why the leader holds back a topology it has not assigned yet (its sched_status meanwhile).
    var schedulingHolds: [String: String] = [:]
    /// Topologies submitted here that wait for `topology.min.replication.count` nimbuses to hold their files before
    /// their first assignment. As in Storm, only the submit waits: a nimbus that takes over schedules at once.
    var awaitingReplication: Set<String> = []
    /// Topologies this nimbus has said, in this cluster state session, that it holds the files of.
    var heldCode: Set<String> = []
    /// The topology history's kill times by topology id, as this leader read and wrote them, so that a kill adds
    /// its entry and drops the expired ones without reading every entry again. Nil until read, and again when this
    /// nimbus takes the lead (another leader may have written meanwhile).
    var historyKillTimes: [String: Int64]?
    /// Each topology's replication count as last read, for the topology lists (getClusterInfo reads one per
    /// topology on every call otherwise); refreshed every monitor period and when this nimbus registers a copy.
    var replicationCounts: (readAt: Date, counts: [String: Int]) = (.distantPast, [:])
    /// Archive uploads that restore a topology's files here (`beginUpdateBlob`): session -> topology id.
    var archiveRestores: [String: String] = [:]
    /// Whether a monitor round is due to start soon (`monitorSoon`).
    var monitorQueued = false
    /// Each supervisor's last heartbeat time and when nimbus saw it change (by nimbus' clock).
    var supervisorBeats: [String: (timeSecs: Int64, seenAt: Date)] = [:]
    /// Live supervisors whose node vanished, with their last info and since when: a restarting supervisor
    /// replaces the node its previous run left (delete, then create), and must not look dead in between.
    var vanishedSupervisors: [String: (info: SupervisorInfo, since: Date)] = [:]
    /// The supervisors the last scheduling round counted as live.
    var lastLive: [String: SupervisorInfo] = [:]
    /// Cluster state records found unreadable, by path, with why: each is logged once, not at every read.
    var unreadableRecords: [String: String] = [:]
    /// When the leader last checked that the topology code and conf records can be read.
    var lastRecordsCheck = Date.distantPast

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
                uploads: try conf.int(ConfigKey.nimbusUploadMaxOpen),
                downloads: try conf.int(ConfigKey.nimbusDownloadMaxOpen)))
        election = LeaderElection(state: state, address: "\(host):\(port)")
        authorizer = try SimpleACLAuthorizer.configured(conf)
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        (clusterChanges, clusterChanged) = (changes, changed)
        watches = PathWatches(storage: state.storage) { _ in changed.yield() }
    }

    /// Runs `body` as a write section: one at a time, in the order they came. Its awaits let queries and the
    /// rest of nimbus' work run, but no other write section.
    func writeSection<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        if writing {
            // The section that ends hands over to this one, `writing` staying set.
            await withCheckedContinuation { waitingWriters.append($0) }
        } else {
            writing = true
        }
        defer {
            if waitingWriters.isEmpty { writing = false } else { waitingWriters.removeFirst().resume() }
        }
        return try await body()
    }

    // MARK: submitting

    public func submitTopology(
        name: String, uploadedJarLocation: String, jsonConf: String, topology: StormTopology
    ) async throws {
        try await submitTopologyWithOpts(
            name: name, uploadedJarLocation: uploadedJarLocation, jsonConf: jsonConf, topology: topology,
            options: SubmitOptions(initialStatus: .active))
    }

    public func submitTopologyWithOpts(
        name: String, uploadedJarLocation: String, jsonConf: String, topology: StormTopology, options: SubmitOptions
    ) async throws {
        do {
            try TopologyName.validate(name)
        } catch {
            throw InvalidTopologyException(msg: error.description)
        }
        try authorize("submitTopology")
        var userConf: [String: ConfigValue]
        do {
            userConf = try JSON.decodeObject(jsonConf.isEmpty ? "{}" : jsonConf)
        } catch {
            throw InvalidTopologyException(msg: "topology conf (jsonConf) is \(error)")
        }
        for key in [
            ConfigKey.topologyUsers, ConfigKey.topologyGroups, "topology.readonly.users", "topology.readonly.groups",
        ] {
            if let value = userConf[key], !value.isNull, (try? StormConfig(userConf).stringList(key)) == nil {
                throw InvalidTopologyException(
                    msg: "topology conf key '\(key)' must be a list of names, not \(value.display)")
            }
        }
        if let principal = caller, ThriftConnection.current != nil {
            userConf = Self.recordingSubmitter(principal, in: userConf)
        } else {
            // Only nimbus says who authenticated: a principal the client's conf claims is dropped.
            userConf[ConfigKey.topologySubmitterPrincipal] = nil
        }
        do {
            // Each topology gets a secret of its own, whatever its conf brought: its workers prove it to each other
            // and, on a secured ZooKeeper, log in with it there, where they reach their own topology's nodes alone.
            let linksAuthenticate = try WorkerLinkAuthentication.enabled(conf.merging(userConf))
            // Only a ZooKeeper cluster state has identities (local mode and tests keep it in memory).
            var zooKeeperSecured = false
            if (try? ClusterStoreKind(conf)) == .zookeeper { zooKeeperSecured = try ZooKeeperStorage.auth(conf) != nil }
            userConf[WorkerLinkAuthentication.payloadKey] = nil
            userConf[ZooKeeperStorage.topologySchemeKey] = nil
            if linksAuthenticate || zooKeeperSecured {
                userConf[WorkerLinkAuthentication.payloadKey] = .string(WorkerLinkAuthentication.newSecret())
            }
            if linksAuthenticate { userConf[WorkerLinkAuthentication.key] = true }
            if zooKeeperSecured { userConf[ZooKeeperStorage.topologySchemeKey] = "digest" }
        } catch {
            throw InvalidTopologyException(msg: error.description)
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

        try await writeSection {
            if try await state.stormId(named: name) != nil {
                throw AlreadyAliveException(msg: "topology '\(name)' is already alive")
            }
            let archive: String
            do {
                archive = try transfers.finishedUpload(uploadedJarLocation)
            } catch let error as FileTransfers.TransferError {
                throw InvalidTopologyException(msg: error.description)
            }
            submits += 1
            let launch = Int32(clamping: Int(Date().timeIntervalSince1970))
            let id = "\(name)-\(submits)-\(launch)"
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
                try await state.setTopologyRecords(id, topology: topology, confJSON: confJSON)
            } catch let error as ClusterStateError {
                throw InvalidTopologyException(msg: "topology '\(name)' cannot be stored: \(error)")
            }
            do {
                // The archive may be large: copied on a thread of its own, off the cooperative pool.
                try await onOwnThread { [code, stored] in
                    try code.save(id: id, archive: archive, topology: topology, conf: stored)
                }
            } catch {
                try? await state.removeTopologyRecords(id)
                throw InvalidTopologyException(
                    msg: "nimbus could not store the topology: \(error.localizedDescription)")
            }
            let base = StormBase(
                name: name, status: options.initialStatus == .inactive ? .inactive : .active,
                numWorkers: Int32(clamping: fullConf.intOrDefault(ConfigKey.topologyWorkers)),
                componentExecutors: plan.executors, launchTimeSecs: launch, owner: owner)
            do {
                try await state.setUpWorkerFolders(id)
                try await state.setStormBase(id, base)
            } catch {
                code.remove(id)
                try? await state.removeTopologyRecords(id)
                throw error
            }
            plans[id] = plan
            awaitingReplication.insert(id)
            logger.info("submitted topology \(id) (\(base.status.thriftName))")
            // Says at once that this nimbus holds the files; the monitor round retries if this fails.
            try? await registerHolding(id)
        }
        monitorSoon()
    }

    /// Records a component's error in the topology's errors (LocalCluster's runtimes report through here).
    public nonisolated func recordError(_ id: String, component: String, _ message: String) {
        let info = ErrorInfo(
            error: message, errorTimeSecs: Int32(clamping: Int(Date().timeIntervalSince1970)), host: host,
            port: Int32(port))
        Task { [state] in try? await state.reportError(id, component: component, info) }
    }

    /// Components named by class must be ones this cluster has (shell components bring their own program).
    static func checkComponentClasses(_ topology: StormTopology) throws(ComponentRegistry.Failure) {
        for (id, spout) in topology.spouts.sorted(by: { $0.key < $1.key }) {
            if case .javaObject(let object) = spout.spoutObject {
                try ComponentRegistry.shared.check(object, as: .spout, component: id)
            }
        }
        for (id, bolt) in topology.bolts.sorted(by: { $0.key < $1.key }) {
            if case .javaObject(let object) = bolt.boltObject {
                try ComponentRegistry.shared.check(object, as: .bolt, component: id)
            }
            for (source, grouping) in bolt.common.inputs.sorted(by: { $0.key.componentId < $1.key.componentId }) {
                if case .customObject(let object) = grouping {
                    try ComponentRegistry.shared.checkGrouping(object, subscriber: id, source: source.componentId)
                }
            }
        }
    }

    // MARK: lifecycle transitions

    public func killTopology(name: String) async throws {
        try await killTopologyWithOpts(name: name, options: KillOptions())
    }

    public func killTopologyWithOpts(name: String, options: KillOptions) async throws {
        try await authorize("killTopology", topologyNamed: name)
        try await requireLeader()
        let (id, wait) = try await writeSection { () async throws -> (String, Int) in
            let (id, base): (String, StormBase)
            do {
                (id, base) = try await aliveBase(named: name)
            } catch let error as ClusterStateError {
                // Its status and options are unknown, so there is nothing to wait on: it goes at once.
                guard let id = try await state.stormId(named: name) else { throw error }
                await recordKill(id)
                try await state.removeStorm(id)
                code.remove(id)
                heldCode.remove(id)
                plans[id] = nil
                logger.info("removed topology \(id) at once: \(error)")
                return (id, -1)
            }
            let wait: Int
            if let w = options.waitSecs {
                wait = max(Int(w), 0)
            } else {
                wait = try await defaultWait(id)
            }
            var updated = base
            updated.status = .killed
            updated.topologyActionOptions = .killOptions(KillOptions(waitSecs: Int32(clamping: wait)))
            try await state.setStormBase(id, updated)
            await recordKill(id)
            logger.info("killing topology \(id) in \(wait)s")
            return (id, wait)
        }
        if wait >= 0 { schedule(after: wait) { await self.finishKill(id) } } else { monitorSoon() }
    }

    func finishKill(_ id: String) async {
        await writeSection {
            do {
                // A follower leaves it to the leader (which resumes pending kills when it takes over).
                guard try await election.isLeader() else { return }
                guard let base = try await state.stormBase(id), base.status == .killed else { return }
                try await state.removeStorm(id)
                code.remove(id)
                heldCode.remove(id)
                plans[id] = nil
                logger.info("removed killed topology \(id)")
            } catch {
                logger.error("could not remove killed topology \(id): \(error); retrying in 5s")
                schedule(after: 5) { await self.finishKill(id) }
            }
        }
    }

    public func activate(name: String) async throws {
        try await authorize("activate", topologyNamed: name)
        try await setStatus(name, .active)
    }

    public func deactivate(name: String) async throws {
        try await authorize("deactivate", topologyNamed: name)
        try await setStatus(name, .inactive)
    }

    private func setStatus(_ name: String, _ status: TopologyStatus) async throws {
        try await requireLeader()
        try await writeSection {
            let (id, base) = try await aliveBase(named: name)
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
            try await state.setStormBase(id, updated)
            logger.info("topology \(id) is now \(status.thriftName)")
        }
    }

    public func rebalance(name: String, options: RebalanceOptions) async throws {
        try await authorize("rebalance", topologyNamed: name)
        try await requireLeader()
        let (id, wait) = try await writeSection { () async throws -> (String, Int) in
            let (id, base) = try await aliveBase(named: name)
            switch base.status {
            case .killed: throw NotAliveException(msg: "topology '\(name)' is being killed")
            case .rebalancing: throw InvalidTopologyException(msg: "topology '\(name)' is already rebalancing")
            case .active, .inactive: break
            }
            let topology = try await stored(id).topology
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
                        msg:
                            "invalid component '\(component)' for topology '\(name)'; valid values are \(components.sorted().joined(separator: ","))"
                    )
                }
                if n <= 0 {
                    throw InvalidTopologyException(
                        msg: "number of executors for '\(component)' must be greater than 0, got \(n)")
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
                wait = try await defaultWait(id)
            }
            var stored = options
            stored.principal = nil
            stored.waitSecs = Int32(clamping: wait)
            var updated = base
            updated.prevStatus = base.status
            updated.status = .rebalancing
            updated.topologyActionOptions = .rebalanceOptions(stored)
            try await state.setStormBase(id, updated)
            logger.info("rebalancing topology \(id) in \(wait)s")
            return (id, wait)
        }
        schedule(after: wait) { await self.finishRebalance(id) }
    }

    func finishRebalance(_ id: String) async {
        let done = await writeSection { () async -> Bool in
            do {
                guard try await election.isLeader() else { return false }
                guard var base = try await state.stormBase(id),
                    base.status == .rebalancing, case .rebalanceOptions(let options)? = base.topologyActionOptions
                else { return false }
                var topoConf = try await stored(id).conf
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
                try await state.setTopologyConf(id, confJSON: confJSON)
                if code.has(id) { try code.updateConf(id, topoConf) }
                // Rebalancing spreads the topology anew. The old assignment stays until the new one replaces it,
                // so workers whose slots are kept never see their topology unassigned.
                respread.insert(id)
                try await state.setStormBase(id, base)
                plans[id] = nil
                logger.info("rebalanced topology \(id); it is \(base.status.thriftName) again")
                return true
            } catch {
                logger.error("could not finish rebalancing \(id): \(error); retrying in 5s")
                schedule(after: 5) { await self.finishRebalance(id) }
                return false
            }
        }
        if done { monitorSoon() }
    }

    /// Kill and rebalance wait the topology's message timeout by default, as Storm does.
    private func defaultWait(_ id: String) async throws -> Int {
        let topoConf = try? await stored(id).conf
        if let timeout = topoConf?[ConfigKey.topologyMessageTimeoutSecs]?.intValue { return Int(timeout) }
        return try conf.int(ConfigKey.topologyMessageTimeoutSecs)
    }

    /// Runs `work` after `seconds`, as a task of its own (kill and rebalance waits, retries).
    func schedule(after seconds: Int, _ work: @escaping @Sendable () async -> Void) {
        Task {
            try? await Task.sleep(for: .seconds(max(seconds, 0)))
            await work()
        }
    }

    // MARK: files

    // Uploads go to the leader, which is where the submit that uses them must go too.
    public nonisolated func beginFileUpload() async throws -> String {
        try authorize("fileUpload")
        try await requireLeader()
        return try transfers.beginUpload(for: ThriftConnection.current)
    }

    // Transfers keep their own book, so chunks need nothing of the actor's and run side by side.
    public nonisolated func uploadChunk(location: String, chunk: [UInt8]) async throws {
        try authorize("fileUpload")
        try transfers.uploadChunk(location, chunk)
    }

    public nonisolated func finishFileUpload(location: String) async throws {
        try authorize("fileUpload")
        try transfers.finishUpload(location)
    }

    /// Topology files go to supervisors and other nimbuses (and admins): Storm's "fileDownload".
    public nonisolated func beginFileDownload(file: String) async throws -> String {
        try authorize("fileDownload")
        guard let path = code.resolveDownload(file) else {
            throw FileTransfers.TransferError(description: "'\(file)' is not a topology file this nimbus serves")
        }
        return try transfers.beginDownload(path)
    }

    public nonisolated func downloadChunk(id: String) async throws -> [UInt8] {
        try authorize("fileDownload")
        return try transfers.downloadChunk(id)
    }

    // MARK: queries

    /// Nimbus' conf, its secrets masked (`SecretKeys`).
    public nonisolated func getNimbusConf() async throws -> String {
        try authorize("getNimbusConf")
        return try JSON.encode(.map(SecretKeys.redacted(conf.values)))
    }

    public func getClusterInfo() async throws -> ClusterSummary {
        try authorize("getClusterInfo")
        // Each assignment read once, for both the supervisors' used slots and the topologies' workers.
        let assignments = try await readableAssignments()
        let usedSlots = Self.usedSlots(assignments.records.values)
        let supervisors = try await readableSupervisors().map { id, info in
            Self.supervisorSummary(id, info, usedSlots: usedSlots[id]?.count ?? 0)
        }
        return ClusterSummary(
            supervisors: supervisors.sorted { $0.supervisorId < $1.supervisorId },
            topologies: try await summaries(assignments: assignments), nimbuses: try await nimbusSummaries())
    }

    public func getTopologySummaries() async throws -> [TopologySummary] {
        try authorize("getTopologySummaries")
        return try await summaries()
    }

    public func getTopologySummaryByName(name: String) async throws -> TopologySummary {
        try authorize("getTopologySummaryByName")
        guard let id = try await state.stormId(named: name) else {
            throw NotAliveException(msg: "topology '\(name)' is not alive")
        }
        return try await summary(id)
    }

    public func getTopologySummary(id: String) async throws -> TopologySummary {
        try authorize("getTopologySummary")
        return try await summary(id)
    }

    public func getLeader() async throws -> NimbusSummary {
        try authorize("getLeader")
        guard let leader = try await election.leader() else { throw NotLeaderError(this: address, leader: nil) }
        if let summary = try await nimbusSummaries().first(where: { "\($0.host):\($0.port)" == leader }) {
            return summary
        }
        // A registration that cannot be read (the leader rewrites it): what the election says is enough to reach it.
        guard try await state.nimbuses().unreadable[leader] != nil else {
            throw NotLeaderError(this: address, leader: nil)
        }
        let (host, port) = NimbusSeeds.split(leader, defaultPort: self.port)
        return NimbusSummary(
            host: host, port: Int32(clamping: port), uptimeSecs: 0, isLeader: true, version: "VERSION_NOT_PROVIDED")
    }

    public nonisolated func isTopologyNameAllowed(name: String) async throws -> Bool {
        try authorize("isTopologyNameAllowed")
        guard (try? TopologyName.validate(name)) != nil else { return false }
        return try await state.stormId(named: name) == nil
    }

    public func getTopologyInfo(id: String) async throws -> TopologyInfo {
        try await getTopologyInfoWithOpts(id: id, options: GetInfoOptions())
    }

    public func getTopologyInfoByName(name: String) async throws -> TopologyInfo {
        try await getTopologyInfoByNameWithOpts(name: name, options: GetInfoOptions())
    }

    public func getTopologyInfoByNameWithOpts(name: String, options: GetInfoOptions) async throws -> TopologyInfo {
        try await authorize("getTopologyInfo", topologyNamed: name)
        guard let id = try await state.stormId(named: name) else {
            throw NotAliveException(msg: "topology '\(name)' is not alive")
        }
        return try await getTopologyInfoWithOpts(id: id, options: options)
    }

    public func getTopologyInfoWithOpts(id: String, options: GetInfoOptions) async throws -> TopologyInfo {
        try await authorize("getTopologyInfo", topologyId: id)
        let reading = try await readTopology(id, errors: options.numErrChoice ?? .all)
        var info = TopologyInfo(
            id: id, name: reading.name, uptimeSecs: reading.base.map(uptime) ?? Self.uptime(ofId: id),
            executors: reading.executors.map(\.summary), status: reading.status, errors: reading.errors,
            stormVersion: Self.version, owner: reading.base?.owner)
        info.schedStatus = reading.schedStatus
        info.replicationCount = Int32(clamping: reading.replicationCount)
        return info
    }

    /// The topology's conf as submitted, its secrets masked (`SecretKeys`) for all but its owner: its workers read
    /// the real one from its files.
    public func getTopologyConf(id: String) async throws -> String {
        try await authorize("getTopologyConf", topologyId: id)
        let topoConf = try await stored(id).conf
        return try JSON.encode(.map(callerOwns(topoConf) ? topoConf : SecretKeys.redacted(topoConf)))
    }

    public func getTopology(id: String) async throws -> StormTopology {
        try await authorize("getTopology", topologyId: id)
        let (user, topoConf) = try await stored(id)
        let topology = SystemTopology.build(user, conf: conf.merging(topoConf))
        return callerOwns(topoConf) ? topology : Self.maskingSecrets(topology)
    }

    public func getUserTopology(id: String) async throws -> StormTopology {
        try await authorize("getUserTopology", topologyId: id)
        let (topology, topoConf) = try await stored(id)
        return callerOwns(topoConf) ? topology : Self.maskingSecrets(topology)
    }

    /// The topology and its conf as stored, secrets and all: for a runner in this process (LocalCluster), never
    /// served over Thrift.
    public func storedTopology(id: String) async throws -> (topology: StormTopology, conf: [String: ConfigValue]) {
        try await stored(id)
    }

    /// `topology` with the secrets in its components' confs masked.
    nonisolated static func maskingSecrets(_ topology: StormTopology) -> StormTopology {
        var out = topology
        for id in out.spouts.keys {
            out.spouts[id]!.common.jsonConf = out.spouts[id]!.common.jsonConf.map(SecretKeys.redacted(json:))
        }
        for id in out.bolts.keys {
            out.bolts[id]!.common.jsonConf = out.bolts[id]!.common.jsonConf.map(SecretKeys.redacted(json:))
        }
        return out
    }

    // MARK: helpers

    /// Every registered nimbus, with its uptime and whether it leads now.
    private func nimbusSummaries() async throws -> [NimbusSummary] {
        let leader = try await election.leader()
        let now = Int32(clamping: Int(Date().timeIntervalSince1970))
        let registered = try await state.nimbuses()
        for (_, error) in registered.unreadable {
            noteUnreadable(
                error, topology: nil, remedy: "that nimbus is left out of cluster queries until it registers again")
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
        for (id, read) in try await Self.bases(of: try await state.activeStorms(), in: state) {
            if let summary = try await summary(id, read, assignments: assignments) { out.append(summary) }
        }
        return out.sorted { $0.name < $1.name }
    }

    /// Every topology's StormBase, read off the actor: awaited from it one by one, each read would hop back to
    /// the actor between reads (a third of getClusterInfo's rate with 100 topologies).
    nonisolated static func bases(
        of ids: [String], in state: StormClusterState
    ) async throws -> [(String, Result<StormBase?, ClusterStateError>)] {
        var out: [(String, Result<StormBase?, ClusterStateError>)] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            do {
                out.append((id, .success(try await state.stormBase(id))))
            } catch let error as ClusterStateError {
                out.append((id, .failure(error)))
            }
        }
        return out
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
        let read: Result<StormBase?, ClusterStateError>
        do {
            read = .success(try await state.stormBase(id))
        } catch let error as ClusterStateError {
            read = .failure(error)
        }
        return try await summary(id, read, assignments: assignments)
    }

    private func summary(
        _ id: String, _ read: Result<StormBase?, ClusterStateError>, assignments: Records<Assignment>
    ) async throws -> TopologySummary? {
        let base: StormBase
        switch read {
        case .success(let found):
            guard let found else { return nil }
            base = found
        case .failure(let error):
            noteUnreadable(error, topology: id, remedy: Self.brokenBaseRemedy)
            return await brokenSummary(id, error, assignment: assignments.records[id])
        }
        var summary = await summary(id, base, assignment: assignments.records[id])
        if let error = assignments.unreadable[id] { summary.schedStatus = error.description }
        return summary
    }

    /// Every assignment that can be read; those that cannot are noted (the leader rewrites them).
    func readableAssignments() async throws -> Records<Assignment> {
        let read = try await state.readableAssignments()
        for (id, error) in read.unreadable { noteUnreadable(error, topology: id, remedy: Self.assignmentRemedy) }
        return read
    }

    static let assignmentRemedy = "the leader recomputes the assignment and rewrites it"
    static let brokenBaseRemedy =
        "nimbus cannot rebuild a topology's base: the topology keeps its workers but is not scheduled until it is killed"

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
        var count = replicationCounts.counts[id]
        if count == nil, let read = try? await state.codeHolders(id).count {
            count = read
            replicationCounts.counts[id] = read
        }
        summary.replicationCount = count.map { Int32(clamping: $0) }
        return summary
    }

    /// Storm's sched_status: how many of the requested workers the topology has, or why it has none yet.
    func schedulingStatus(_ id: String, base: StormBase, assignment: Assignment?) -> String {
        let workers = Set((assignment?.executorNodePort ?? [:]).values.map { "\($0.node):\($0.port.sorted())" }).count
        if workers == 0, let held = schedulingHolds[id] { return held }
        return EvenScheduler.status(workers: workers, requested: Int(base.numWorkers))
    }

    /// What scheduling a topology needs: its executors and tasks, from its structure and conf.
    func plan(_ id: String) async throws -> TopologyPlan {
        if let cached = plans[id] { return cached }
        let (topology, topoConf) = try await stored(id)
        let plan = TopologyPlan(topology: topology, conf: conf.merging(topoConf))
        plans[id] = plan
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
            noteUnreadable(
                error, topology: id, remedy: "this nimbus reads its own copy of the topology's files instead")
            return (topology, topoConf)
        }
        guard let topology = try? code.topology(id), let topoConf = try? code.conf(id) else { throw notAlive(id: id) }
        return (topology, topoConf)
    }

    nonisolated func uptime(_ base: StormBase) -> Int32 {
        Int32(clamping: Int(Date().timeIntervalSince1970) - Int(base.launchTimeSecs ?? 0))
    }

    private nonisolated func aliveBase(named name: String) async throws -> (String, StormBase) {
        guard let id = try await state.stormId(named: name), let base = try await state.stormBase(id) else {
            throw NotAliveException(msg: "topology '\(name)' is not alive")
        }
        return (id, base)
    }

    nonisolated func notAlive(id: String) -> NotAliveException {
        NotAliveException(msg: "topology id '\(id)' is not alive")
    }

    static var processUser: String {
        ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName
    }
}

extension Nimbus {
    /// Nimbus' own metrics for its `/metrics`: whether it leads, and what the cluster holds as it sees it.
    public func metricFamilies(labels: [Label]) async -> [MetricFamily] {
        var out = [
            MetricFamily(
                name: "storm_nimbus_leader", help: "1 while this nimbus is the leader.", kind: .gauge,
                samples: [.init(labels: labels, value: leadership ? 1 : 0)])
        ]
        guard let cluster = try? await getClusterInfo() else { return out }
        let slots = cluster.supervisors.reduce(into: (total: 0, used: 0)) {
            $0.total += Int($1.numWorkers)
            $0.used += Int($1.numUsedWorkers)
        }
        out += [
            MetricFamily(
                name: "storm_cluster_topologies", help: "Topologies in the cluster.", kind: .gauge,
                samples: [.init(labels: labels, value: Double(cluster.topologies.count))]),
            MetricFamily(
                name: "storm_cluster_supervisors", help: "Supervisors registered.", kind: .gauge,
                samples: [.init(labels: labels, value: Double(cluster.supervisors.count))]),
            MetricFamily(
                name: "storm_cluster_slots", help: "Worker slots the supervisors offer, and those in use.",
                kind: .gauge,
                samples: [
                    .init(labels: labels + [Label("state", "offered")], value: Double(slots.total)),
                    .init(labels: labels + [Label("state", "used")], value: Double(slots.used)),
                ]),
        ]
        return out
    }
}
