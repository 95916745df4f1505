import Components
import DRPC
import DRPCDaemon
import Flux
import Logging
import ServiceLifecycle
import StormCore
import StormThrift

/// `storm local`'s DRPC server: a topology with Storm's DRPCSpout and no `drpc.servers` gets a DRPC server in this
/// process, on the configured ports (drpc.port, drpc.invocations.port, drpc.http.port), so `storm drpc-client`,
/// Storm's clients and HTTP reach the topology while it runs.
final class LocalDRPCServer: Sendable {
    let ports: DRPCPorts
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(ports: DRPCPorts, group: ServiceGroup, running: Task<Void, any Error>) {
        self.ports = ports
        self.group = group
        self.running = running
    }

    /// What the topology's conf needs to reach this server.
    var topologyConf: [String: ConfigValue] {
        [ConfigKey.drpcServers: ["127.0.0.1"], ConfigKey.drpcInvocationsPort: .int(Int64(ports.invocations))]
    }

    var banner: String {
        "DRPC server in this process: execute on port \(ports.execute)"
            + (ports.http.map { ", HTTP on port \($0)" } ?? "") + ", invocations on port \(ports.invocations)"
    }

    /// Starts a server when `flux` needs one: it has a DRPCSpout and neither it nor `conf` names drpc.servers.
    static func start(
        for flux: FluxTopology, conf: StormConfig, source: String, logger: Logger
    ) async throws -> LocalDRPCServer? {
        let merged = conf.merging(flux.conf)
        let named = merged[ConfigKey.drpcServers].map { !$0.isNull } ?? false
        let hasDRPCSpout = flux.topology.spouts.values.contains {
            if case .javaObject(let object) = $0.spoutObject { return object.fullClassName == DRPCSpout.className }
            return false
        }
        guard hasDRPCSpout && !named else { return nil }
        let bound = AsyncStream.makeStream(of: DRPCPorts.self)
        let server: DRPCServer
        do {
            server = try DRPCServer(conf: merged, logger: logger) { bound.continuation.yield($0) }
        } catch let error as ConfigError {
            throw CLIFailure(message: "\(source): \(error)")
        }
        let group = ServiceGroup(services: [server], logger: logger)
        let running = Task {
            defer { bound.continuation.finish() }
            try await group.run()
        }
        var iterator = bound.stream.makeAsyncIterator()
        guard let ports = await iterator.next() else {
            do {
                try await running.value
            } catch let error as DRPCServer.ListenFailure {
                throw CLIFailure(message: "\(source): drpc \(error.description)")
            }
            throw CLIFailure(message: "\(source): the DRPC server stopped before it served")
        }
        return LocalDRPCServer(ports: ports, group: group, running: running)
    }

    func stop() {
        let group = group
        Task { await group.triggerGracefulShutdown() }
    }
}
