import ArgumentParser
import ClusterState
import Foundation
import Logging
import ServiceLifecycle
import StormCore
import Worker

/// `storm worker`: one worker process, started by a supervisor for one slot (not for people to run).
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run one worker for a slot (started by supervisors).", shouldDisplay: false)
    @Option(help: "The supervisor's configuration, as JSON.") var confFile: String
    @Option var topologyId: String
    @Option var supervisorId: String
    @Option var port: Int
    @Option var workerId: String
    @Option(help: "The Unix user to become before anything else (supervisor.run.worker.as.user).") var user: String?

    func run() async throws {
        if let user {
            guard let account = UnixUser.named(user) else {
                throw CLIFailure(message: "worker cannot run as '\(user)': no such user on this host")
            }
            do {
                try account.become()
            } catch {
                throw CLIFailure(message: "worker \(error)")
            }
        }
        // Levels a topology's LogConfig may change while it runs (`storm set_log_level`).
        LoggingSystem.bootstrap { DynamicLevelLogHandler(label: $0, base: StreamLogHandler.standardError(label: $0)) }
        var logger = Logger(label: "worker")
        logger[metadataKey: "worker"] = "\(topologyId):\(port)"
        let conf: StormConfig
        do {
            conf = StormConfig(try JSON.decodeObject(String(contentsOfFile: confFile, encoding: .utf8)))
        } catch {
            throw CLIFailure(message: "worker cannot read its configuration \(confFile): \(error)")
        }
        let slot = WorkerSlot(topologyId: topologyId, supervisorId: supervisorId, port: port, workerId: workerId)
        let worker: Worker
        do {
            let storage = try makeWorkerClusterStorage(conf, topologyId: topologyId, logger: logger)
            let state = StormClusterState(storage: storage, root: try conf.string(ConfigKey.zookeeperRoot))
            worker = try await Worker(slot: slot, conf: conf, state: state, logger: logger)
        } catch {
            logger.error("worker cannot start: \(error)")
            throw CLIFailure(message: "worker cannot start: \(error)")
        }
        // SIGTERM (the supervisor stopping it) or SIGINT: the parts stop in reverse order of their start.
        let group = ServiceGroup(
            configuration: .init(
                services: worker.services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let failure as WorkerStartFailure {
            logger.error("worker cannot start: \(failure)")
            throw CLIFailure(message: "worker cannot start: \(failure)")
        } catch {
            logger.error("worker cannot go on: \(error)")
            throw CLIFailure(message: "worker cannot go on: \(error)")
        }
        logger.info("worker \(workerId) stopped")
    }
}
