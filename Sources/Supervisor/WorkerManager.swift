import ClusterState
import Foundation
import Locking
import Logging
import StormCore
import StormThrift

#if canImport(Glibc)
import Glibc
#endif

/// Runs one worker process per assigned port and keeps it right, once a second on a thread of its own:
/// - starts a worker for a port that is assigned and has none (once the topology's files are here);
/// - restarts one that exited, or whose local heartbeat is older than `supervisor.worker.timeout.secs`
///   (`supervisor.worker.start.timeout.secs` before its first heartbeat);
/// - stops one whose port is no longer assigned, or is assigned other executors (SIGTERM, then SIGKILL after
///   `supervisor.worker.shutdown.sleep.secs`).
/// A supervisor that restarts adopts the workers its previous run left (their folders under
/// `storm.local.dir/workers/` name the slot and the pid), rather than starting duplicates.
final class WorkerManager: Sendable {
    struct Running: Sendable {
        let workerId: String
        let pid: pid_t
        let topologyId: String
        let executors: [ExecutorInfo]
        let launched: Date
        /// Started by this run (so it is reaped with waitpid), not adopted.
        let isChild: Bool
    }

    let supervisorId: String
    let conf: StormConfig
    /// What its workers are given: `conf` without the daemons' ZooKeeper password.
    let workerConf: StormConfig
    let localDir: String
    let logDir: URL
    let logger: Logger
    let executable: String
    /// Storm's `supervisor.run.worker.as.user`: each topology's workers run as its owner's Unix account.
    let runAsOwner: Bool
    let workerTimeout: TimeInterval
    let startTimeout: TimeInterval
    let shutdownWait: TimeInterval
    let assignments: @Sendable () -> [Int32: LocalAssignment]
    let hasTopology: @Sendable (String) -> Bool

    /// What the manager's thread keeps between ticks; `current` is the copy others read.
    struct Book {
        var workers: [Int32: Running] = [:]
        var failures: [Int32: (count: Int, retryAt: Date)] = [:]
    }

    private let published = Locked<[Int32: Running]>([:])
    /// Workers launched, and workers that ended or hung without being asked to stop, since this supervisor started.
    let events = Locked((launched: 0, failed: 0))
    private let stopping = Locked(false)
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(
        supervisorId: String, conf: StormConfig, logger: Logger,
        assignments: @escaping @Sendable () -> [Int32: LocalAssignment],
        hasTopology: @escaping @Sendable (String) -> Bool
    ) throws {
        self.supervisorId = supervisorId
        self.conf = conf
        workerConf = try ZooKeeperStorage.workerConf(from: conf)
        self.logger = logger
        self.assignments = assignments
        self.hasTopology = hasTopology
        localDir = try conf.string(ConfigKey.localDir)
        logDir = URL(fileURLWithPath: conf.logDirectory, isDirectory: true)
        executable = WorkerProcess.currentExecutable()
        runAsOwner = try UnixUser.runsWorkersAsOwner(conf)
        workerTimeout = Double(try conf.int(ConfigKey.supervisorWorkerTimeoutSecs))
        startTimeout = Double(conf.intOrDefault(ConfigKey.supervisorWorkerStartTimeoutSecs))
        shutdownWait = Double(conf.intOrDefault(ConfigKey.supervisorWorkerShutdownSleepSecs))
    }

    /// The workers running now, by port.
    var current: [Int32: Running] { published.withLock { $0 } }

    func start() {
        let thread = Thread { [self] in
            var book = Book()
            adopt(&book)
            while !stopping.withLock({ $0 }) {
                tick(&book)
                _ = wake.wait(timeout: .now() + 1)
            }
            finished.signal()
        }
        thread.name = "worker-manager"
        thread.start()
    }

    /// Checks the workers now rather than at the next tick (the assignments changed).
    func poke() { wake.signal() }

    /// Stops managing. The workers go on: a supervisor restart must not interrupt the topologies.
    func shutdown() {
        stopping.withLock { $0 = true }
        wake.signal()
        finished.wait()
    }

    // MARK: the loop

    private func tick(_ book: inout Book) {
        let desired = assignments()
        let now = Date()
        for port in Set(desired.keys).union(book.workers.keys).sorted() {
            let want = desired[port]
            if let w = book.workers[port] {
                if let exit = exitStatus(w) {
                    logger.warning("worker \(w.workerId) on port \(port) (pid \(w.pid)) ended with \(exit)")
                    cleanUp(w.workerId)
                    book.workers[port] = nil
                    events.withLock { $0.failed += 1 }
                    noteFailure(port, launched: w.launched, &book)
                } else if want == nil || want!.topologyId != w.topologyId || want!.executors != w.executors {
                    let why = want == nil ? "the port is no longer assigned" : "the port's assignment changed"
                    stop(w, port: port, why: why)
                    book.workers[port] = nil
                } else if let why = staleness(w, now: now) {
                    logger.warning("restarting worker \(w.workerId) on port \(port): \(why)")
                    stop(w, port: port, why: why, force: true)
                    book.workers[port] = nil
                    events.withLock { $0.failed += 1 }
                    // A worker that hangs soon after its launch is failing too: it backs off like one that exits.
                    noteFailure(port, launched: w.launched, &book)
                }
            }
            if book.workers[port] == nil, let want, hasTopology(want.topologyId) {
                if let failed = book.failures[port], failed.retryAt > now { continue }
                launch(port, want, &book)
            }
        }
        published.withLock { $0 = book.workers }
    }

    private func exitStatus(_ w: Running) -> String? {
        if w.isChild { return WorkerProcess.reap(w.pid) }
        return WorkerProcess.isRunning(w.pid, marker: w.workerId) ? nil : "its process gone"
    }

    /// Why a worker's heartbeat counts as stale, if it does.
    private func staleness(_ w: Running, now: Date) -> String? {
        let beat = WorkerLocalState(localDir: localDir, workerId: w.workerId).heartbeat()
        if let beat {
            let age = now.timeIntervalSince1970 - Double(beat.timeSecs)
            return age > workerTimeout
                ? "its heartbeat is \(Int(age)) s old (supervisor.worker.timeout.secs \(Int(workerTimeout)))" : nil
        }
        let age = now.timeIntervalSince(w.launched)
        return age > startTimeout
            ? "no heartbeat \(Int(age)) s after launch (supervisor.worker.start.timeout.secs \(Int(startTimeout)))"
            : nil
    }

    /// A worker that dies soon after its launch is retried after a growing pause (1 s doubling to 30 s), so a
    /// topology that cannot start does not spin.
    private func noteFailure(_ port: Int32, launched: Date, _ book: inout Book) {
        guard Date().timeIntervalSince(launched) < 30 else {
            book.failures[port] = nil
            return
        }
        let count = (book.failures[port]?.count ?? 0) + 1
        let pause = min(30, pow(2, Double(count - 1)))
        book.failures[port] = (count, Date().addingTimeInterval(pause))
        logger.warning(
            "the worker on port \(port) failed \(count) time(s) in a row within 30 s of its launch: starting it again in \(Int(pause)) s"
        )
    }

    private func launch(_ port: Int32, _ want: LocalAssignment, _ book: inout Book) {
        let workerId = UUID().uuidString.lowercased()
        let local = WorkerLocalState(localDir: localDir, workerId: workerId)
        do {
            try local.create()
            try local.writeLaunch(
                LSWorkerHeartbeat(
                    timeSecs: Int64(Date().timeIntervalSince1970), topologyId: want.topologyId,
                    executors: want.executors, port: port))
            try local.writeConf(workerConf)
            let logFolder = logDir.appendingPathComponent(
                "workers-artifacts/\(want.topologyId)/\(port)", isDirectory: true)
            try FileManager.default.createDirectory(at: logFolder, withIntermediateDirectories: true)
            let topoConf = try topologyConf(want.topologyId)
            // Who may read this worker's logs, for the log viewer.
            try WorkerLogMeta.render(workerId: workerId, topologyConf: topoConf).write(
                to: logFolder.appendingPathComponent(WorkerLogMeta.fileName), atomically: true, encoding: .utf8)
            let logFile = logFolder.appendingPathComponent("worker.log")
            var arguments = [
                "worker", "--conf-file", local.confFile.path, "--topology-id", want.topologyId, "--supervisor-id",
                supervisorId, "--port", "\(port)", "--worker-id", workerId,
            ]
            var environment: [String: String] = [:]
            if runAsOwner {
                let owner = try handOver(
                    want.topologyId, topoConf, worker: local, logFolder: logFolder, logFile: logFile)
                arguments += ["--user", owner.name]
                environment = ["HOME": owner.home, "USER": owner.name, "LOGNAME": owner.name]
            }
            let pid = try WorkerProcess.spawn(
                executable: executable, arguments: arguments, logFile: logFile.path, environment: environment)
            // The worker writes it too, as it starts; written here as well, a supervisor killed right after this
            // launch still finds the worker to adopt.
            try? local.writePid(pid)
            events.withLock { $0.launched += 1 }
            book.workers[port] = Running(
                workerId: workerId, pid: pid, topologyId: want.topologyId, executors: want.executors, launched: Date(),
                isChild: true)
            logger.info(
                "launched worker \(workerId) (pid \(pid)) for \(want.topologyId) on port \(port), log \(logFolder.path)/worker.log"
            )
        } catch {
            logger.error("cannot launch a worker for \(want.topologyId) on port \(port): \(error)")
            local.remove()
            noteFailure(port, launched: Date(), &book)
        }
    }

    /// Gives what a worker of `topologyId` reads and writes (the topology's files, the worker's folder and its log
    /// folder) to the topology's owner, readable by the owner alone, and returns the owner's account.
    private func handOver(
        _ topologyId: String, _ topoConf: [String: ConfigValue], worker: WorkerLocalState, logFolder: URL,
        logFile: URL
    ) throws -> UnixUser {
        let dist = StormDist.directory(localDir: localDir, topologyId: topologyId)
        let owner = try UnixUser.owner(ofTopologyConf: topoConf, id: topologyId)
        if !FileManager.default.fileExists(atPath: logFile.path) {
            _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        }
        for url in [dist, worker.directory, logFolder] { try owner.own(url) }
        return owner
    }

    private func topologyConf(_ topologyId: String) throws -> [String: ConfigValue] {
        try StormDist.conf(localDir: localDir, topologyId: topologyId)
    }

    /// Asks a worker to stop, kills it if it has not after the shutdown wait (or at once with `force`), and
    /// removes its folder.
    private func stop(_ w: Running, port: Int32, why: String, force: Bool = false) {
        logger.info("stopping worker \(w.workerId) (pid \(w.pid)) on port \(port): \(why)")
        if !force {
            kill(w.pid, SIGTERM)
            let deadline = Date().addingTimeInterval(shutdownWait)
            while Date() < deadline && exitStatus(w) == nil { usleep(50_000) }
        }
        if exitStatus(w) == nil {
            kill(w.pid, SIGKILL)
            if w.isChild {
                var status: Int32 = 0
                waitpid(w.pid, &status, 0)
            } else {
                while WorkerProcess.isRunning(w.pid, marker: w.workerId) { usleep(10_000) }
            }
        }
        cleanUp(w.workerId)
    }

    /// Removes a gone worker's folder, first killing the shell components it left (their pids are in its pid
    /// folder): no child outlives its worker.
    private func cleanUp(_ workerId: String) {
        let local = WorkerLocalState(localDir: localDir, workerId: workerId)
        for pid in local.shellPids() where kill(pid, 0) == 0 {
            kill(pid, SIGKILL)
            logger.info("killed shell process \(pid) of worker \(workerId)")
        }
        local.remove()
    }

    /// Takes over the workers a previous run of this supervisor left running; clears the folders of the rest.
    private func adopt(_ book: inout Book) {
        for workerId in WorkerLocalState.all(localDir) {
            let local = WorkerLocalState(localDir: localDir, workerId: workerId)
            guard let launch = local.launch(), let pid = local.pid(), WorkerProcess.isRunning(pid, marker: workerId)
            else {
                cleanUp(workerId)
                continue
            }
            let port = launch.port
            if book.workers[port] != nil {
                logger.warning("two workers claim port \(port); stopping \(workerId)")
                stop(
                    Running(
                        workerId: workerId, pid: pid, topologyId: launch.topologyId, executors: launch.executors,
                        launched: Date(), isChild: false),
                    port: port, why: "duplicate")
                continue
            }
            book.workers[port] = Running(
                workerId: workerId, pid: pid, topologyId: launch.topologyId, executors: launch.executors,
                launched: Date(timeIntervalSince1970: Double(launch.timeSecs)), isChild: false)
            logger.info("adopted worker \(workerId) (pid \(pid)) of \(launch.topologyId) on port \(port)")
        }
        published.withLock { $0 = book.workers }
    }
}
