import ClusterState
import Logging
import ServiceLifecycle
import StormCore

/// `storm supervisor` as a service: registers, heartbeats, follows assignments, and on a graceful shutdown
/// leaves the cluster (its ephemeral node goes with its session).
public struct SupervisorService: Service {
    public let supervisor: Supervisor
    let logger: Logger

    public init(supervisor: Supervisor, logger: Logger) {
        self.supervisor = supervisor
        self.logger = logger
    }

    public func run() async throws {
        let s = supervisor
        await retryUntilAvailable("registering supervisor \(s.id)", logger: logger) { try await s.register() }
        logger.info("supervisor \(s.id) on \(s.hostname) offers slots \(s.ports)")
        s.state.storage.onNewSession { [logger] in
            // The old session's watches went with it: the next sync arms them again.
            s.watches.sessionEnded()
            logger.info("new cluster state session: registering supervisor \(s.id) again")
            await retryUntilAvailable("registering supervisor \(s.id) again", logger: logger) { try await s.register() }
            try? await s.syncAssignments()
        }
        s.workers.start()
        let heartbeatPeriod = Duration.seconds(max(1, s.conf.intOrDefault(ConfigKey.supervisorHeartbeatFrequencySecs)))
        let syncPeriod = Duration.seconds(max(1, s.conf.intOrDefault(ConfigKey.supervisorMonitorFrequencySecs)))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: heartbeatPeriod)
                        try? await s.heartbeat()
                    }
                }
                group.addTask {
                    // The first sync arms the watches; later ones re-arm any that was lost.
                    while !Task.isCancelled {
                        try? await s.syncAssignments()
                        try? await Task.sleep(for: syncPeriod)
                    }
                }
                group.addTask {
                    for await _ in s.assignmentsChanged { try? await s.syncAssignments() }
                }
            }
        }
        logger.info("supervisor \(s.id) shutting down; its workers keep running")
        s.workers.shutdown()
        await s.state.storage.close()
    }
}
