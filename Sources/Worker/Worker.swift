import ClusterState
import Components
import Foundation
import Locking
import Logging
import Multilang
import Runtime
import StormCore
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

/// A worker process: runs the executors its slot is assigned, receives tuples for them on the slot's port and
/// sends tuples for other tasks to their workers; heartbeats to its supervisor (local disk) and to the cluster
/// state; follows the topology's status (active or not) and its assignment.
///
/// When its executors change or its slot is no longer assigned, the worker stops: its supervisor starts the
/// right one. When only other workers move, it repoints its connections and goes on.
public final class Worker: @unchecked Sendable {
    public let slot: WorkerSlot
    let conf: StormConfig
    let state: StormClusterState
    let logger: Logger
    let local: WorkerLocalState
    let startTime = Date()
    let registry: ComponentRegistry
    private(set) var runtime: TopologyRuntime?
    private var transfer: WorkerTransfer?
    private var server: FrameServer?
    private var backpressure: BackpressureMonitor?
    private var executors: [ExecutorInfo] = []
    private var routes = PeerRoutes()
    private let isActive = Locked(false)
    /// Set by a watch on the topology's assignment or status: re-read them now rather than at the next poll.
    private let refreshDue: Locked<Bool>
    /// The watches on the topology's assignment and status (one each: arming one per poll would pile them up).
    private let watches: PathWatches
    private let errorTimes = Locked<[String: [Date]]>([:])
    /// `topology.max.error.report.per.interval` and `topology.error.throttle.interval.secs` from the topology's
    /// conf (it may set its own), read at start.
    private let errorThrottle = Locked((limit: 5, interval: 10.0))
    private let errorWrites = PendingWrites()
    var hostname: String { conf.localHostname }

    /// - Parameter conf: the supervisor's configuration (the topology's own is read from its files).
    public init(slot: WorkerSlot, conf: StormConfig, state: StormClusterState, registry: ComponentRegistry = .shared, logger: Logger) throws {
        self.slot = slot
        self.conf = conf
        self.state = state
        registry.registerMultilang()
        self.registry = registry
        self.logger = logger
        local = WorkerLocalState(localDir: try conf.string(ConfigKey.localDir), workerId: slot.workerId)
        let refreshDue = Locked(true)
        self.refreshDue = refreshDue
        watches = PathWatches(storage: state.storage) { _ in refreshDue.withLock { $0 = true } }
    }

    /// The executors this slot is assigned, from an assignment.
    func myExecutors(_ assignment: Assignment?) -> [ExecutorInfo] {
        var out: [ExecutorInfo] = []
        for (executor, node) in assignment?.executorNodePort ?? [:] where executor.count == 2 {
            if node.node == slot.supervisorId && node.port.contains(Int64(slot.port)) {
                out.append(ExecutorInfo(taskStart: Int32(executor[0]), taskEnd: Int32(executor[1])))
            }
        }
        return out.sorted { $0.taskStart < $1.taskStart }
    }

    /// Loads the topology, starts its executors and the transport, and activates the spouts once every peer
    /// is connected (or `worker.connections.wait.secs` has passed), if the topology is active.
    public func start() async throws {
        // Read first: a bad value stops the worker before it runs anything.
        let listening = try TransportSettings(conf)
        try local.create()
        try local.writePid(getpid())
        let localDir = try conf.string(ConfigKey.localDir)
        let dist = StormDist.directory(localDir: localDir, topologyId: slot.topologyId)
        let topology: StormTopology
        let topologyConf: StormConfig
        do {
            let code = try Data(contentsOf: dist.appendingPathComponent("stormcode.ser"))
            topology = try ThriftSerialization.deserialize(StormTopology.self, from: [UInt8](code))
            let text = try String(contentsOf: dist.appendingPathComponent("stormconf.ser"), encoding: .utf8)
            topologyConf = conf.merging(try JSON.decodeObject(text))
        } catch {
            throw WorkerError(description: "cannot read topology \(slot.topologyId) from \(dist.path): \(error)")
        }
        errorThrottle.withLock {
            $0 = (
                topologyConf.intOrDefault(ConfigKey.topologyMaxErrorReportPerInterval),
                Double(topologyConf.intOrDefault(ConfigKey.topologyErrorThrottleIntervalSecs))
            )
        }
        // Relative paths in components (and shell components' resources) resolve in the topology's folder.
        _ = FileManager.default.changeCurrentDirectoryPath(dist.path)
        state.storage.onNewSession { [self] in
            // The old session's watches are gone.
            watches.sessionEnded()
            refreshDue.withLock { $0 = true }
        }
        let assignment = try await state.assignment(slot.topologyId)
        executors = myExecutors(assignment)
        guard !executors.isEmpty, let assignment else {
            throw WorkerError(description: "slot \(slot.supervisorId):\(slot.port) has no executors of \(slot.topologyId)")
        }
        routes = PeerRoutes(assignment: assignment, node: slot.supervisorId, port: slot.port)
        let transfer = WorkerTransfer(name: slot.topologyId, routes: routes, logger: logger)
        self.transfer = transfer
        // Shell components run in the topology's resources/ and leave their pids where the supervisor looks
        // when it cleans up after this worker.
        let shell = ShellEnvironment(
            resourcesDirectory: dist.appendingPathComponent("resources").path, pidDirectory: local.pidsDirectory.path)
        let backpressureSignal = BackpressureSignal()
        let hooks = RuntimeHooks(
            errorSink: { [self] component, _, message in recordError(component, message) },
            onFatal: { [self] component, task, message in
                // As Storm's worker dies: record it, then exit; the supervisor starts this slot's worker again.
                logger.critical("\(component):\(task) cannot go on: \(message); the worker exits")
                let done = DispatchSemaphore(value: 0)
                Task {
                    await errorWrites.wait(timeoutSeconds: 5)
                    done.signal()
                }
                _ = done.wait(timeout: .now() + 6)
                exit(20)
            },
            onBackpressureChange: { backpressureSignal.poke() })
        let runtime = try TopologyRuntime(
            topologyId: slot.topologyId, topology: topology, conf: topologyConf, registry: registry,
            executors: Set(executors.map { Executor($0.taskStart, $0.taskEnd) }), transfer: transfer, shell: shell, hooks: hooks,
            logger: logger)
        self.runtime = runtime
        // Spouts wait for activation: tuples sent before the peers are connected would be dropped.
        runtime.deactivate()
        try runtime.start()
        let codec = TupleBatchCodec(streams: runtime.streams)
        let log = logger
        let server = FrameServer(
            host: listening.bindAddress, port: slot.port, name: slot.topologyId, limits: listening.limits, logger: logger
        ) { bytes, remote in
            do {
                if BackpressureFrame.isStatus(bytes) {
                    transfer.apply(try BackpressureFrame.decode(bytes), from: remote)
                    return
                }
                runtime.receive(try codec.decode(bytes))
            } catch {
                log.error("dropped a malformed batch of \(bytes.count) bytes from \(remote): \(error)")
            }
        }
        do {
            try server.start()
        } catch {
            throw WorkerError(description: "cannot open the tuple port (\(ConfigKey.messagingBindAddress) \(listening.bindAddress)): \(error)")
        }
        if let warning = listening.reachabilityWarning(announcedHost: hostname) { logger.warning("\(warning)") }
        self.server = server
        let monitor = BackpressureMonitor(runtime: runtime, transfer: transfer, signal: backpressureSignal)
        monitor.start()
        backpressure = monitor
        try writeLocalHeartbeat()
        logger.info(
            "worker \(slot.workerId) runs \(executors.count) executors of \(slot.topologyId) on port \(slot.port); \(routes.endpoints.count) peers")

        let wait = Double(conf.intOrDefault(ConfigKey.workerConnectionsWaitSecs))
        let deadline = Date().addingTimeInterval(wait)
        while !transfer.allConnected && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if !transfer.allConnected { logger.warning("not every peer answered within \(Int(wait)) s; starting anyway") }
        try await refreshStatus()
    }

    /// Runs until the slot's assignment changes or `stop` is asked for; returns why it ended.
    public func run(until stopRequested: @escaping @Sendable () -> Bool) async -> String {
        let heartbeatEvery = Double(conf.intOrDefault(ConfigKey.workerHeartbeatFrequencySecs))
        let clusterHeartbeatEvery = Double(conf.intOrDefault(ConfigKey.taskHeartbeatFrequencySecs))
        var lastLocal = Date.distantPast
        var lastCluster = Date.distantPast
        let pollEvery = Double(conf.intOrDefault(ConfigKey.taskRefreshPollSecs))
        var lastRefresh = Date.distantPast
        while !stopRequested() {
            let now = Date()
            if now.timeIntervalSince(lastLocal) >= heartbeatEvery {
                lastLocal = now
                do { try writeLocalHeartbeat() } catch { logger.error("cannot write the local heartbeat: \(error)") }
            }
            if now.timeIntervalSince(lastCluster) >= clusterHeartbeatEvery {
                lastCluster = now
                do { try await writeClusterHeartbeat() } catch { logger.warning("cannot write the cluster heartbeat: \(error)") }
            }
            let due = refreshDue.withLock { d -> Bool in
                defer { d = false }
                return d
            }
            if due || now.timeIntervalSince(lastRefresh) >= pollEvery {
                lastRefresh = now
                do {
                    await watch(state.assignmentsPath + "/" + slot.topologyId)
                    await watch(state.stormsPath + "/" + slot.topologyId)
                    if let reason = try await refreshAssignment() { return reason }
                    try await refreshStatus()
                } catch {
                    refreshDue.withLock { $0 = true }
                    logger.warning("cannot read the cluster state (retrying): \(error)")
                    try? await Task.sleep(for: .seconds(1))
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return "asked to stop"
    }

    /// Writes a component's error to the topology's errors, at most `topology.max.error.report.per.interval`
    /// per component every `topology.error.throttle.interval.secs` (the rest are only logged).
    func recordError(_ component: String, _ message: String) {
        let (limit, interval) = errorThrottle.withLock { $0 }
        let now = Date()
        let allowed = errorTimes.withLock { times -> Bool in
            var recent = (times[component] ?? []).filter { now.timeIntervalSince($0) < interval }
            defer { times[component] = recent }
            guard recent.count < limit else { return false }
            recent.append(now)
            return true
        }
        guard allowed else { return }
        let info = ErrorInfo(
            error: message, errorTimeSecs: Int32(clamping: Int(now.timeIntervalSince1970)), host: hostname, port: Int32(slot.port))
        errorWrites.add { [state, slot] in try? await state.reportError(slot.topologyId, component: component, info) }
    }

    /// Arms a one-shot watch on `path` unless one is armed: its firing makes the next loop re-read the state.
    func watch(_ path: String) async {
        // A failure leaves it unarmed: the next poll tries again.
        try? await watches.watchNode(path)
    }

    /// Follows the topology's status: spouts run only while it is active.
    func refreshStatus() async throws {
        let base = try await state.stormBase(slot.topologyId)
        let active = base?.status == .active
        let changed = isActive.withLock { a -> Bool in
            defer { a = active }
            return a != active
        }
        guard changed, let runtime else { return }
        if active { runtime.activate() } else { runtime.deactivate() }
        logger.info("topology \(slot.topologyId) is \(base.map { "\($0.status)" } ?? "gone"): spouts \(active ? "activated" : "deactivated")")
    }

    /// Nil while this worker should go on; otherwise why it should stop.
    func refreshAssignment() async throws -> String? {
        guard let assignment = try await state.assignment(slot.topologyId) else {
            return "topology \(slot.topologyId) has no assignment any more"
        }
        let mine = myExecutors(assignment)
        if mine.isEmpty { return "slot \(slot.port) is no longer assigned to \(slot.topologyId)" }
        if mine != executors { return "the executors of slot \(slot.port) changed" }
        let updated = PeerRoutes(assignment: assignment, node: slot.supervisorId, port: slot.port)
        if updated != routes {
            routes = updated
            transfer?.update(updated)
            logger.info("peers changed: now \(updated.endpoints.map(\.description).sorted())")
        }
        return nil
    }

    func writeLocalHeartbeat() throws {
        try local.writeHeartbeat(
            LSWorkerHeartbeat(
                timeSecs: Int64(Date().timeIntervalSince1970), topologyId: slot.topologyId, executors: executors,
                port: Int32(slot.port)))
    }

    func writeClusterHeartbeat() async throws {
        var stats: [ExecutorInfo: ExecutorStats] = [:]
        if let runtime {
            let streams = runtime.streams.all
            for entry in runtime.executorCounts() {
                stats[ExecutorInfo(taskStart: entry.executor.start, taskEnd: entry.executor.end)] = Self.executorStats(
                    entry.counts, isSpout: entry.isSpout, streams: streams)
            }
        }
        let beat = ClusterWorkerHeartbeat(
            stormId: slot.topologyId, executorStats: stats, timeSecs: Int64(Date().timeIntervalSince1970),
            uptimeSecs: Int32(Date().timeIntervalSince(startTime)))
        try await state.setWorkerHeartbeat(slot.topologyId, node: slot.supervisorId, port: Int64(slot.port), beat)
    }

    /// Storm's ExecutorStats from our counts, in the ":all-time" window. A spout's acked and failed are its
    /// trees by root stream, with their mean complete latency; a bolt's are the tuples it acked and failed by
    /// input stream.
    static func executorStats(_ counts: ExecutorCounts, isSpout: Bool, streams: [TupleStream]) -> ExecutorStats {
        var emitted: [String: Int64] = [:]
        for (i, n) in counts.emittedByStream.enumerated() where n > 0 { emitted[streams[i].stream] = n }
        let window = ":all-time"
        let specific: ExecutorSpecificStats
        if isSpout {
            var acked: [String: Int64] = [:], failed: [String: Int64] = [:], completeMs: [String: Double] = [:]
            for (i, n) in counts.ackedByStream.enumerated() where n > 0 {
                acked[streams[i].stream] = n
                if i < counts.completeNanosByStream.count {
                    completeMs[streams[i].stream] = Double(counts.completeNanosByStream[i]) / Double(n) / 1e6
                }
            }
            for (i, n) in counts.failedByStream.enumerated() where n > 0 { failed[streams[i].stream] = n }
            specific = .spout(SpoutStats(acked: [window: acked], failed: [window: failed], completeMsAvg: [window: completeMs]))
        } else {
            func byInput(_ list: [Int64]) -> [GlobalStreamId: Int64] {
                var out: [GlobalStreamId: Int64] = [:]
                for (i, n) in list.enumerated() where n > 0 {
                    out[GlobalStreamId(componentId: streams[i].component, streamId: streams[i].stream)] = n
                }
                return out
            }
            specific = .bolt(
                BoltStats(
                    acked: [window: byInput(counts.ackedByStream)], failed: [window: byInput(counts.failedByStream)],
                    processMsAvg: [window: [:]], executed: [window: byInput(counts.executedByStream)], executeMsAvg: [window: [:]]))
        }
        return ExecutorStats(emitted: [window: emitted], transferred: [window: emitted], specific: specific, rate: 0)
    }

    /// Stops the spouts, lets in-flight tuples finish (briefly), stops the executors and closes the transport.
    public func stop() {
        backpressure?.stop()
        runtime?.stop(drainTimeout: 2)
        transfer?.close()
        server?.stop()
        logger.info("worker \(slot.workerId) stopped")
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
