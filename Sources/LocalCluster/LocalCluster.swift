import ClusterState
import Components
import Foundation
import Locking
import Logging
import Multilang
import Nimbus
import Runtime
import StormCore
import StormThrift

/// Storm's LocalCluster: a nimbus on an in-memory store and the topologies it accepts, each run by a runtime in
/// this process. Submissions go through nimbus' own checks, and kill, activate, deactivate and rebalance waits
/// behave as on a cluster (a killed topology's spouts stop first, its executors after the wait).
///
/// Nimbus is an actor, so the API is async and awaits its calls directly. A runtime's start and stop block until
/// its executor threads are ready or gone, so those run on a thread of their own.
public final class LocalCluster: Sendable {
    public let nimbus: Nimbus
    let conf: StormConfig
    let registry: ComponentRegistry
    let logger: Logger
    let localDir: URL
    private let running: Locked<[String: TopologyRuntime]>
    /// Matches each runtime to its topology's status, every 100 ms, until shutdown.
    private let follower: Task<Void, Never>

    public init(
        conf: StormConfig = .defaults, registry: ComponentRegistry = .shared,
        logger: Logger = Logger(label: "local-cluster")
    ) async throws {
        localDir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "storm-local-\(UUID().uuidString)", isDirectory: true)
        let conf = conf.merging([ConfigKey.localDir: .string(localDir.path), ConfigKey.clusterStateStore: "memory"])
        self.conf = conf
        registry.registerMultilang()
        self.registry = registry
        self.logger = logger
        let state = StormClusterState(storage: InMemoryStore().session())
        let nimbus = try Nimbus(conf: conf, state: state, host: "127.0.0.1", port: 0, logger: logger)
        self.nimbus = nimbus
        let running = Locked<[String: TopologyRuntime]>([:])
        self.running = running
        await nimbus.start()
        follower = Task {
            while !Task.isCancelled {
                await Self.follow(nimbus, running, logger)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// Submits a topology as a client would (an empty archive), and starts running it here; its shell
    /// components run in `resources` (default: `resources/` under the working directory if there is one).
    @discardableResult
    public func submitTopology(
        _ name: String, conf topologyConf: [String: ConfigValue] = [:], topology: StormTopology, active: Bool = true,
        resources: String? = nil
    ) async throws -> String {
        let location = try await nimbus.beginFileUpload()
        try await nimbus.uploadChunk(location: location, chunk: Self.emptyZip)
        try await nimbus.finishFileUpload(location: location)
        try await nimbus.submitTopologyWithOpts(
            name: name, uploadedJarLocation: location, jsonConf: try JSON.encode(.map(topologyConf)),
            topology: topology,
            options: SubmitOptions(initialStatus: active ? .active : .inactive))
        let id = try await nimbus.getTopologySummaryByName(name: name).id
        try await start(id, resources: resources)
        return id
    }

    public func killTopology(_ name: String, waitSecs: Int32 = 0) async throws {
        try await nimbus.killTopologyWithOpts(name: name, options: KillOptions(waitSecs: waitSecs))
    }

    public func activate(_ name: String) async throws { try await nimbus.activate(name: name) }
    public func deactivate(_ name: String) async throws { try await nimbus.deactivate(name: name) }

    /// The runtime of a running topology (by id), for its counts and components.
    public func runtime(_ id: String) -> TopologyRuntime? { running.withLock { $0[id] } }

    /// Stops every topology and nimbus' bookkeeping here.
    public func shutdown() async {
        follower.cancel()
        await follower.value
        let all = running.withLock { r -> [TopologyRuntime] in
            defer { r = [:] }
            return Array(r.values)
        }
        await onOwnThread { [localDir] in
            for runtime in all { runtime.stop() }
            try? FileManager.default.removeItem(at: localDir)
        }
    }

    // MARK: running topologies

    private func start(_ id: String, resources: String?) async throws {
        let (topology, submitted) = try await nimbus.storedTopology(id: id)
        let topologyConf = conf.merging(submitted)
        let shell = resources.map {
            ShellEnvironment(resourcesDirectory: $0, pidDirectory: localDir.appendingPathComponent("pids/\(id)").path)
        }
        let hooks = RuntimeHooks(errorSink: { [nimbus] component, _, message in
            nimbus.recordError(id, component: component, message)
        })
        let (registry, logger) = (self.registry, self.logger)
        let runtime = try await onOwnThread {
            let runtime = try TopologyRuntime(
                topologyId: id, topology: topology, conf: topologyConf, registry: registry, shell: shell, hooks: hooks,
                logger: logger)
            // Spouts start once the topology's status says active (the follower reads it within 100 ms).
            runtime.deactivate()
            try runtime.start()
            return runtime
        }
        running.withLock { $0[id] = runtime }
    }

    /// Matches each runtime to its topology's status: spouts run while it is active; a topology nimbus has
    /// removed (killed, after its wait) stops.
    private static func follow(_ nimbus: Nimbus, _ running: Locked<[String: TopologyRuntime]>, _ logger: Logger) async {
        for (id, runtime) in running.withLock({ $0 }) {
            let status: String?
            do {
                status = try await nimbus.getTopologySummary(id: id).status
            } catch is NotAliveException {
                status = nil
            } catch {
                continue
            }
            guard let status else {
                running.withLock { $0[id] = nil }
                await onOwnThread { runtime.stop() }
                logger.info("topology \(id) stopped")
                continue
            }
            if status == TopologyStatus.active.thriftName { runtime.activate() } else { runtime.deactivate() }
        }
    }

    /// An empty zip archive: a topology of built-in or registered Swift components ships no files.
    static let emptyZip: [UInt8] = [0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
}
