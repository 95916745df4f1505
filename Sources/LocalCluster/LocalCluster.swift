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
/// Nimbus blocks on its store, so every call runs on a thread of its own; the API is async for that reason.
public final class LocalCluster: Sendable {
    public let nimbus: Nimbus
    let conf: StormConfig
    let registry: ComponentRegistry
    let logger: Logger
    let localDir: URL
    private let running = Locked<[String: TopologyRuntime]>([:])
    private let stopping = Locked(false)
    private let followerDone = DispatchSemaphore(value: 0)

    public init(conf: StormConfig = .defaults, registry: ComponentRegistry = .shared, logger: Logger = Logger(label: "local-cluster")) async throws {
        localDir = FileManager.default.temporaryDirectory.appendingPathComponent("storm-local-\(UUID().uuidString)", isDirectory: true)
        let conf = conf.merging([ConfigKey.localDir: .string(localDir.path), ConfigKey.clusterStateStore: "memory"])
        self.conf = conf
        registry.registerMultilang()
        self.registry = registry
        self.logger = logger
        let state = StormClusterState(storage: InMemoryStore().session())
        nimbus = try Nimbus(conf: conf, state: state, host: "127.0.0.1", port: 0, logger: logger)
        await nimbus.start()
        let thread = Thread { [self] in
            while !stopping.withLock({ $0 }) {
                follow()
                usleep(100_000)
            }
            followerDone.signal()
        }
        thread.name = "local-cluster"
        thread.start()
    }

    /// Submits a topology as a client would (an empty archive), and starts running it here; its shell
    /// components run in `resources` (default: `resources/` under the working directory if there is one).
    @discardableResult
    public func submitTopology(
        _ name: String, conf topologyConf: [String: ConfigValue] = [:], topology: StormTopology, active: Bool = true,
        resources: String? = nil
    ) async throws -> String {
        try await onOwnThread { [self] in
            let location = try nimbus.beginFileUpload()
            try nimbus.uploadChunk(location: location, chunk: Self.emptyZip)
            try nimbus.finishFileUpload(location: location)
            try nimbus.submitTopologyWithOpts(
                name: name, uploadedJarLocation: location, jsonConf: try JSON.encode(.map(topologyConf)), topology: topology,
                options: SubmitOptions(initialStatus: active ? .active : .inactive))
            let id = try nimbus.getTopologySummaryByName(name: name).id
            try start(id, resources: resources)
            return id
        }
    }

    public func killTopology(_ name: String, waitSecs: Int32 = 0) async throws {
        try await onOwnThread { [self] in try nimbus.killTopologyWithOpts(name: name, options: KillOptions(waitSecs: waitSecs)) }
    }

    public func activate(_ name: String) async throws { try await onOwnThread { [self] in try nimbus.activate(name: name) } }
    public func deactivate(_ name: String) async throws { try await onOwnThread { [self] in try nimbus.deactivate(name: name) } }

    /// The runtime of a running topology (by id), for its counts and components.
    public func runtime(_ id: String) -> TopologyRuntime? { running.withLock { $0[id] } }

    /// Stops every topology and nimbus' bookkeeping here.
    public func shutdown() async {
        stopping.withLock { $0 = true }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [self] in
                followerDone.wait()
                let all = running.withLock { r -> [TopologyRuntime] in
                    defer { r = [:] }
                    return Array(r.values)
                }
                for runtime in all { runtime.stop() }
                try? FileManager.default.removeItem(at: localDir)
                done.resume()
            }
        }
    }

    // MARK: running topologies

    private func start(_ id: String, resources: String?) throws {
        let topology = try nimbus.getUserTopology(id: id)
        let topologyConf = conf.merging(try JSON.decodeObject(try nimbus.getTopologyConf(id: id)))
        let shell = resources.map {
            ShellEnvironment(resourcesDirectory: $0, pidDirectory: localDir.appendingPathComponent("pids/\(id)").path)
        }
        let hooks = RuntimeHooks(errorSink: { [nimbus] component, _, message in nimbus.recordError(id, component: component, message) })
        let runtime = try TopologyRuntime(
            topologyId: id, topology: topology, conf: topologyConf, registry: registry, shell: shell, hooks: hooks, logger: logger)
        // Spouts start once the topology's status says active (the follower reads it within 100 ms).
        runtime.deactivate()
        try runtime.start()
        running.withLock { $0[id] = runtime }
    }

    /// Matches each runtime to its topology's status: spouts run while it is active; a topology nimbus has
    /// removed (killed, after its wait) stops.
    private func follow() {
        for (id, runtime) in running.withLock({ $0 }) {
            let status: String?
            do {
                status = try nimbus.getTopologySummary(id: id).status
            } catch is NotAliveException {
                status = nil
            } catch {
                continue
            }
            guard let status else {
                running.withLock { $0[id] = nil }
                runtime.stop()
                logger.info("topology \(id) stopped")
                continue
            }
            if status == TopologyStatus.active.thriftName { runtime.activate() } else { runtime.deactivate() }
        }
    }

    /// An empty zip archive: a topology of built-in or registered Swift components ships no files.
    static let emptyZip: [UInt8] = [0x50, 0x4b, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
}
