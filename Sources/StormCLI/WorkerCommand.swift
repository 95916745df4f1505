import ArgumentParser
import ClusterState
import Foundation
import Logging
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

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "worker")
        logger[metadataKey: "worker"] = "\(topologyId):\(port)"
        let conf: StormConfig
        do {
            conf = StormConfig(try JSON.decodeObject(String(contentsOfFile: confFile, encoding: .utf8)))
        } catch {
            throw CLIFailure(message: "worker cannot read its configuration \(confFile): \(error)")
        }
        let stop = StopSignals()
        let slot = WorkerSlot(topologyId: topologyId, supervisorId: supervisorId, port: port, workerId: workerId)
        let worker: Worker
        do {
            let storage = try makeClusterStorage(conf, logger: logger)
            let state = StormClusterState(storage: storage, root: try conf.string(ConfigKey.zookeeperRoot))
            worker = try Worker(slot: slot, conf: conf, state: state, logger: logger)
            try await worker.start()
        } catch {
            logger.error("worker cannot start: \(error)")
            throw CLIFailure(message: "worker cannot start: \(error)")
        }
        let reason = await worker.run { stop.stopRequested }
        logger.info("worker \(workerId) stopping: \(reason)")
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                worker.stop()
                done.resume()
            }
        }
        stop.cancel()
    }
}
