import ClusterState
import Components
import Foundation
import Locking
import Logging
import Multilang
import Runtime
import ServiceLifecycle
import StormCore
import StormMetrics
import StormThrift
import Transport
import Tuples

/// Which slot a worker runs: given by its supervisor on the command line.
public struct WorkerSlot: Sendable {
    public let topologyId: String
    public let supervisorId: String
    public let port: Int
    public let workerId: String

    public init(topologyId: String, supervisorId: String, port: Int, workerId: String) {
        self.topologyId = topologyId
        self.supervisorId = supervisorId
        self.port = port
        self.workerId = workerId
    }
}

public struct WorkerError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// A part of the worker could not start (its port, its components): the worker never ran.
public struct WorkerStartFailure: Error, CustomStringConvertible, Sendable {
    public let reason: any Error
    public var description: String { "\(reason)" }
}

/// A worker process: runs the executors its slot is assigned, receives tuples for them on the slot's port and
/// sends tuples for other tasks to their workers; heartbeats to its supervisor (local disk) and to the cluster
/// state; follows the topology's status (active or not) and its assignment.
///
/// `load` reads what the slot runs and builds the parts; nothing runs until the parts' services do (`services`).
/// When its executors change or its slot is no longer assigned, the worker stops: its supervisor starts the
/// right one. When only other workers move, it repoints its connections and goes on.
public final class Worker: Sendable {
    public let slot: WorkerSlot
    let conf: StormConfig
    let state: StormClusterState
    let logger: Logger
    let local: WorkerLocalState
    let startTime = Date()
    /// The executors this slot was assigned when the worker started: any change ends the worker.
    let executors: [ExecutorInfo]
    let initialRoutes: PeerRoutes
    let listening: TransportSettings
    public let runtime: TopologyRuntime
    let transfer: WorkerTransfer
    let server: FrameServer
    let backpressure: BackpressureMonitor
    let errors: ErrorRecorder
    let metrics: WorkerMetrics
    let reporters: [MetricsReporterSpec]
    /// `worker.metrics.export.secs`, from the topology's conf over the supervisor's.
    let metricsExportSeconds: Int
    let logRoller: LogRoller
    /// The executors' counts a bucket apart, for the windowed stats of the cluster heartbeats.
    let statsWindows = Locked(StatsWindows())

    /// Reads the slot's topology (from the files its supervisor downloaded) and assignment, and builds the
    /// runtime, the transfer, the frame server and the backpressure monitor, started by `services`.
    /// - Parameter conf: the supervisor's configuration (the topology's own is read from its files).
    public init(
        slot: WorkerSlot, conf: StormConfig, state: StormClusterState, registry: ComponentRegistry = .shared,
        logger: Logger
    ) async throws {
        self.slot = slot
        self.conf = conf
        self.state = state
        self.logger = logger
        registry.registerMultilang()
        // Read first: a bad value stops the worker before it runs anything.
        listening = try TransportSettings(conf)
        let localDir = try conf.string(ConfigKey.localDir)
        local = WorkerLocalState(localDir: localDir, workerId: slot.workerId)
        try local.create()
        try local.writePid(getpid())
        let dist = StormDist.directory(localDir: localDir, topologyId: slot.topologyId)
        let topology: StormTopology
        let topologyConf: StormConfig
        do {
            let code = try Data(contentsOf: dist.appendingPathComponent("stormcode.ser"))
            topology = try ThriftSerialization.deserialize(StormTopology.self, from: [UInt8](code))
            topologyConf = conf.merging(try StormDist.conf(localDir: localDir, topologyId: slot.topologyId))
        } catch {
            throw WorkerError(description: "cannot read topology \(slot.topologyId) from \(dist.path): \(error)")
        }
        // Relative paths in components (and shell components' resources) resolve in the topology's folder.
        _ = FileManager.default.changeCurrentDirectoryPath(dist.path)
        let assignment = try await state.assignment(slot.topologyId)
        executors = Self.executors(of: slot, in: assignment)
        guard !executors.isEmpty, let assignment else {
            throw WorkerError(
                description: "slot \(slot.supervisorId):\(slot.port) has no executors of \(slot.topologyId)")
        }
        initialRoutes = PeerRoutes(assignment: assignment, node: slot.supervisorId, port: slot.port)
        let linkSecret = try WorkerLinkAuthentication.secret(topologyConf).flatMap(LinkSecret.init)
        let linkTLS = try WorkerLinkTLS.configured(topologyConf)
        let transfer = WorkerTransfer(
            name: slot.topologyId, secret: linkSecret, tls: linkTLS, routes: initialRoutes, logger: logger)
        self.transfer = transfer
        let errors = ErrorRecorder(slot: slot, hostname: conf.localHostname, state: state, conf: topologyConf)
        self.errors = errors
        // Shell components run in the topology's resources/ and leave their pids where the supervisor looks
        // when it cleans up after this worker.
        let shell = ShellEnvironment(
            resourcesDirectory: dist.appendingPathComponent("resources").path, pidDirectory: local.pidsDirectory.path)
        let backpressureSignal = BackpressureSignal()
        let hooks = RuntimeHooks(
            errorSink: { component, _, message in errors.record(component, message) },
            onFatal: { component, task, message in
                // As Storm's worker dies: record it, then exit; the supervisor starts this slot's worker again.
                logger.critical("\(component):\(task) cannot go on: \(message); the worker exits")
                let done = DispatchSemaphore(value: 0)
                Task {
                    await errors.writes.wait(timeoutSeconds: 5)
                    done.signal()
                }
                _ = done.wait(timeout: .now() + 6)
                exit(20)
            },
            onBackpressureChange: { backpressureSignal.poke() })
        let runtime = try TopologyRuntime(
            topologyId: slot.topologyId, topology: topology, conf: topologyConf, registry: registry,
            executors: Set(executors.map { Executor($0.taskStart, $0.taskEnd) }), transfer: transfer, shell: shell,
            hooks: hooks,
            metrics: WorkerMetrics.scope(topologyId: slot.topologyId, conf: topologyConf, port: slot.port),
            workerPort: slot.port, logger: logger)
        self.runtime = runtime
        metricsExportSeconds = topologyConf.intOrDefault(ConfigKey.workerMetricsExportSecs)
        logRoller = LogRoller(conf: topologyConf)
        do {
            reporters = try MetricsReporterSpec.parse(topologyConf)
        } catch {
            logger.error("no metrics reporters run: \(error)")
            reporters = []
        }
        // Spouts wait for activation: tuples sent before the peers are connected would be dropped.
        runtime.deactivate()
        let codec = TupleBatchCodec(streams: runtime.streams)
        server = FrameServer(
            host: listening.bindAddress, port: slot.port, name: slot.topologyId, secret: linkSecret, tls: linkTLS,
            limits: listening.limits, logger: logger
        ) { bytes, remote in
            do {
                if BackpressureFrame.isStatus(bytes) {
                    transfer.apply(try BackpressureFrame.decode(bytes), from: remote)
                    return
                }
                runtime.receive(try codec.decode(bytes))
            } catch {
                logger.error("dropped a malformed batch of \(bytes.count) bytes from \(remote): \(error)")
            }
        }
        backpressure = BackpressureMonitor(runtime: runtime, transfer: transfer, signal: backpressureSignal)
        metrics = WorkerMetrics(runtime: runtime, transfer: transfer, server: server)
    }

    /// The executors `slot` is assigned in `assignment`.
    static func executors(of slot: WorkerSlot, in assignment: Assignment?) -> [ExecutorInfo] {
        var out: [ExecutorInfo] = []
        for (executor, node) in assignment?.executorNodePort ?? [:] where executor.count == 2 {
            if node.node == slot.supervisorId && node.port.contains(Int64(slot.port)) {
                out.append(ExecutorInfo(taskStart: Int32(executor[0]), taskEnd: Int32(executor[1])))
            }
        }
        return out.sorted { $0.taskStart < $1.taskStart }
    }

    /// The worker's parts as services, in the order they start: a group shuts them down in reverse, so the
    /// assignment follower and the heartbeats stop first, the spouts stop and the bolts drain before the
    /// transfer closes, and the tuple port closes last. The follower ending (the assignment changed) shuts
    /// the group down.
    public func services() -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let (server, transfer, runtime, backpressure, listening, slot, logger) =
            (server, transfer, runtime, backpressure, listening, slot, logger)
        let parts: [any Service] = [
            ThreadedPart(
                start: {
                    do {
                        try server.start()
                    } catch {
                        throw WorkerError(
                            description:
                                "cannot open the tuple port (\(ConfigKey.messagingBindAddress) \(listening.bindAddress)): \(error)"
                        )
                    }
                }, stop: { server.stop() }),
            ThreadedPart(start: { transfer.start() }, stop: { transfer.close() }),
            ThreadedPart(
                start: {
                    try runtime.start()
                    logger.info(
                        "worker \(slot.workerId) runs \(runtime.executorCounts().count) executors of \(slot.topologyId) on port \(slot.port)"
                    )
                }, stop: { runtime.stop(drainTimeout: 2) }),
            ThreadedPart(start: { backpressure.start() }, stop: { backpressure.stop() }),
            WorkerHeartbeats(worker: self),
            WorkerMetricsExport(
                metrics: metrics, local: local, exportSeconds: metricsExportSeconds,
                reporters: reporters, logger: logger),
            WorkerLogRolling(roller: logRoller, logger: logger),
            LogConfigFollower(
                state: state, topologyId: slot.topologyId,
                refreshSeconds: conf.intOrDefault(ConfigKey.taskRefreshPollSecs),
                resetPollSeconds: conf.intOrDefault(ConfigKey.workerLogLevelResetPollSecs), overrides: .shared,
                logger: logger),
            AssignmentFollower(worker: self),
        ]
        return parts.map {
            .init(
                service: $0, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
    }

    func writeLocalHeartbeat() throws {
        try local.writeHeartbeat(
            LSWorkerHeartbeat(
                timeSecs: Int64(Date().timeIntervalSince1970), topologyId: slot.topologyId, executors: executors,
                port: Int32(slot.port)))
    }

    func writeClusterHeartbeat() async throws {
        let beat = ClusterWorkerHeartbeat(
            stormId: slot.topologyId, executorStats: heartbeatStats(now: DispatchTime.now().uptimeNanoseconds),
            timeSecs: Int64(Date().timeIntervalSince1970), uptimeSecs: Int32(Date().timeIntervalSince(startTime)))
        try await state.setWorkerHeartbeat(slot.topologyId, node: slot.supervisorId, port: Int64(slot.port), beat)
    }

    /// Each executor's stats in Storm's windows, as of `now` (a monotonic clock's nanoseconds).
    func heartbeatStats(now: UInt64) -> [ExecutorInfo: ExecutorStats] {
        statsWindows.withLock { ExecutorStatsRendering.executorStats(runtime, windows: &$0, now: now) }
    }
}

/// A part that runs on threads of its own, started and stopped by blocking calls (the frame server, the
/// transfer, the runtime, the backpressure monitor), as a service: started in `run`, stopped when the group
/// shuts down.
struct ThreadedPart: Service {
    let start: @Sendable () throws -> Void
    let stop: @Sendable () -> Void

    func run() async throws {
        do {
            try await onOwnThread { try start() }
        } catch {
            throw WorkerStartFailure(reason: error)
        }
        // Ends on a graceful shutdown, or with a CancellationError when the group is cancelled: stop either way.
        try? await gracefulShutdown()
        await onOwnThread { stop() }
    }
}

/// Writes the worker's heartbeats: to its supervisor's disk every `worker.heartbeat.frequency.secs`, to the
/// cluster state (with its executors' stats) every `task.heartbeat.frequency.secs`.
struct WorkerHeartbeats: Service {
    let worker: Worker

    func run() async throws {
        let local = Duration.seconds(max(1, worker.conf.intOrDefault(ConfigKey.workerHeartbeatFrequencySecs)))
        let cluster = Duration.seconds(max(1, worker.conf.intOrDefault(ConfigKey.taskHeartbeatFrequencySecs)))
        let worker = worker
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        do { try worker.writeLocalHeartbeat() } catch {
                            worker.logger.error("cannot write the local heartbeat: \(error)")
                        }
                        try? await Task.sleep(for: local)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            try await worker.writeClusterHeartbeat()
                        } catch {
                            worker.logger.warning("cannot write the cluster heartbeat: \(error)")
                        }
                        try? await Task.sleep(for: cluster)
                    }
                }
            }
        }
    }
}

/// Follows the topology's status (spouts run only while it is active) and its assignment: moved peers are
/// repointed; a change to this slot's own executors ends the service, and with it the worker. Driven by
/// ZooKeeper watch events, with a look every `task.refresh.poll.secs` in case one was missed.
struct AssignmentFollower: Service {
    let worker: Worker

    func run() async throws {
        let worker = worker
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watches = PathWatches(storage: worker.state.storage) { _ in changed.yield() }
        worker.state.storage.onNewSession {
            // The old session's watches are gone.
            watches.sessionEnded()
            changed.yield()
        }
        let poll = Duration.seconds(max(1, worker.conf.intOrDefault(ConfigKey.taskRefreshPollSecs)))
        let reason: String? = await cancelWhenGracefulShutdown {
            await worker.waitForPeers()
            return await withTaskGroup(of: String?.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        changed.yield()
                        try? await Task.sleep(for: poll)
                    }
                    return nil
                }
                group.addTask {
                    var following = Following(routes: worker.initialRoutes)
                    for await _ in changes {
                        do {
                            // A watch that cannot be armed now is armed at the next look.
                            try? await watches.watchNode(worker.state.assignmentsPath + "/" + worker.slot.topologyId)
                            try? await watches.watchNode(worker.state.stormsPath + "/" + worker.slot.topologyId)
                            if let reason = try await worker.refreshAssignment(&following) { return reason }
                            try await worker.refreshStatus(&following)
                        } catch {
                            worker.logger.warning("cannot read the cluster state (retrying): \(error)")
                            try? await Task.sleep(for: .seconds(1))
                            changed.yield()
                        }
                    }
                    return nil
                }
                let first = await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
        worker.logger.info("worker \(worker.slot.workerId) stopping: \(reason ?? "asked to stop")")
    }
}

/// What the assignment follower has seen: the peers tuples go to, whether the spouts run.
struct Following {
    var routes: PeerRoutes
    var active = false
}

extension Worker {
    /// Waits until every peer is connected, or `worker.connections.wait.secs` has passed.
    func waitForPeers() async {
        let wait = Double(conf.intOrDefault(ConfigKey.workerConnectionsWaitSecs))
        let deadline = Date().addingTimeInterval(wait)
        while !transfer.allConnected && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if !transfer.allConnected { logger.warning("not every peer answered within \(Int(wait)) s; starting anyway") }
    }

    /// Follows the topology's status (spouts run only while it is active) and its `debug` sampling.
    func refreshStatus(_ following: inout Following) async throws {
        let base = try await state.stormBase(slot.topologyId)
        let sampling = runtime.debugSampling
        runtime.applyDebug(base?.componentDebug ?? [:])
        if runtime.debugSampling != sampling {
            let shown = runtime.debugSampling.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map {
                "\($0.key) \($0.value)%"
            }
            logger.info(
                "debug sampling of \(slot.topologyId) now \(shown.isEmpty ? "off" : shown.joined(separator: ", "))")
        }
        let active = base?.status == .active
        guard active != following.active else { return }
        following.active = active
        if active { runtime.activate() } else { runtime.deactivate() }
        logger.info(
            "topology \(slot.topologyId) is \(base.map { "\($0.status)" } ?? "gone"): spouts \(active ? "activated" : "deactivated")"
        )
    }

    /// Nil while this worker should go on; otherwise why it should stop.
    func refreshAssignment(_ following: inout Following) async throws -> String? {
        guard let assignment = try await state.assignment(slot.topologyId) else {
            return "topology \(slot.topologyId) has no assignment any more"
        }
        let mine = Self.executors(of: slot, in: assignment)
        if mine.isEmpty { return "slot \(slot.port) is no longer assigned to \(slot.topologyId)" }
        if mine != executors { return "the executors of slot \(slot.port) changed" }
        let updated = PeerRoutes(assignment: assignment, node: slot.supervisorId, port: slot.port)
        if updated != following.routes {
            following.routes = updated
            transfer.update(updated)
            logger.info("peers changed: now \(updated.endpoints.map(\.description).sorted())")
        }
        return nil
    }
}

/// Writes components' errors to the topology's errors, at most `topology.max.error.report.per.interval` per
/// component every `topology.error.throttle.interval.secs` (the rest are only logged).
final class ErrorRecorder: Sendable {
    let slot: WorkerSlot
    let hostname: String
    let state: StormClusterState
    let limit: Int
    let interval: TimeInterval
    private let times = Locked<[String: [Date]]>([:])
    /// Writes in flight: a worker about to exit waits for its last error report.
    let writes = PendingWrites()

    /// - Parameter conf: the topology's conf (it may set its own throttle).
    init(slot: WorkerSlot, hostname: String, state: StormClusterState, conf: StormConfig) {
        self.slot = slot
        self.hostname = hostname
        self.state = state
        limit = conf.intOrDefault(ConfigKey.topologyMaxErrorReportPerInterval)
        interval = Double(conf.intOrDefault(ConfigKey.topologyErrorThrottleIntervalSecs))
    }

    func record(_ component: String, _ message: String) {
        let now = Date()
        let allowed = times.withLock { times -> Bool in
            var recent = (times[component] ?? []).filter { now.timeIntervalSince($0) < interval }
            defer { times[component] = recent }
            guard recent.count < limit else { return false }
            recent.append(now)
            return true
        }
        guard allowed else { return }
        let info = ErrorInfo(
            error: message, errorTimeSecs: Int32(clamping: Int(now.timeIntervalSince1970)), host: hostname,
            port: Int32(slot.port))
        writes.add { [state, slot] in try? await state.reportError(slot.topologyId, component: component, info) }
    }
}

/// Writes in flight to the cluster state, so a worker about to exit can wait for its last error report.
final class PendingWrites: Sendable {
    private let count = Locked(0)

    func add(_ write: @escaping @Sendable () async -> Void) {
        count.withLock { $0 += 1 }
        Task {
            await write()
            count.withLock { $0 -= 1 }
        }
    }

    func wait(timeoutSeconds: Double) async {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while count.withLock({ $0 }) > 0 && Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
