import ClusterState
import Dispatch
import Foundation
import Locking
import Logging
import StormCore
import StormThrift
import TestSupport

@testable import Nimbus

/// A nimbus serving on a free loopback port over an in-memory store, with its own storm.local.dir.
final class NimbusFixture: Sendable {
    let nimbus: Nimbus
    let server: ThriftServer
    let state: StormClusterState
    let localDir: URL

    /// Nimbuses given the same `store` form one cluster: they elect a leader and copy files from each other.
    /// `wrap` puts a storage of the test's around the store's session (to count what nimbus reads, say).
    init(
        _ overrides: [String: ConfigValue] = [:], store: InMemoryStore = InMemoryStore(),
        wrap: (any ClusterStorage) -> any ClusterStorage = { $0 }
    ) async throws {
        localDir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-test-\(UUID().uuidString)")
        let conf = StormConfig.defaults.merging([ConfigKey.localDir: .string(localDir.path)]).merging(overrides)
        state = StormClusterState(storage: wrap(store.session()))
        // The server first, so that nimbus knows the port it is reached at (other nimbuses copy files from it).
        let serving = Locked<Nimbus?>(nil)
        server = try ThriftServer(
            host: "127.0.0.1", port: 0, threads: 32, maxFrameSize: 1_048_576, logger: Logger(label: "nimbus-test")
        ) { method, input in
            guard let nimbus = serving.withLock({ $0 }) else { throw ThriftApplicationException.unsupported(method) }
            return try NimbusDispatcher.dispatch(method, input: input, handler: nimbus)
        }
        let nimbus = try Nimbus(
            conf: conf, state: state, host: "127.0.0.1", port: server.port, logger: Logger(label: "nimbus-test"))
        serving.withLock { $0 = nimbus }
        await nimbus.start()
        self.nimbus = nimbus
    }

    /// Ends this nimbus' cluster state session, as its death would: its leadership and what it said it holds go.
    func die() async {
        await state.storage.close()
    }

    deinit {
        let server = self.server
        let localDir = self.localDir
        Thread.detachNewThread {
            server.stop()
            try? FileManager.default.removeItem(at: localDir)
        }
    }

    /// Runs blocking client calls on a thread of their own: nimbus answers them as Swift tasks, so the test must
    /// not hold a thread of the cooperative pool while it waits.
    func client<T: Sendable>(_ body: @escaping @Sendable (NimbusClient) throws -> T) async throws -> T {
        let port = server.port
        return try await onOwnThread {
            let client = try NimbusClient(host: "127.0.0.1", port: port)
            defer { client.close() }
            return try body(client)
        }
    }

    /// Uploads bytes as a topology archive and returns the location.
    func upload(_ bytes: [UInt8] = Array("archive".utf8), finish: Bool = true) async throws -> String {
        try await client { c in
            let location = try c.beginFileUpload()
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + 100_000, bytes.count)
                try c.uploadChunk(location: location, chunk: Array(bytes[offset..<end]))
                offset = end
            }
            if finish { try c.finishFileUpload(location: location) }
            return location
        }
    }

    func submit(
        _ name: String, topology: StormTopology = NimbusFixture.wordCount(), conf: String = "{}",
        status: TopologyInitialStatus = .active,
        location: String? = nil
    ) async throws {
        let where_ = if let location { location } else { try await upload() }
        try await client { c in
            try c.submitTopologyWithOpts(
                name: name, uploadedJarLocation: where_, jsonConf: conf, topology: topology,
                options: SubmitOptions(initialStatus: status))
        }
    }

    /// What must not change when nimbus refuses something: the topologies and the files they own.
    func storedState() async throws -> [String] {
        let ids = try await state.activeStorms()
        let dirs =
            (try? FileManager.default.contentsOfDirectory(
                atPath: localDir.appendingPathComponent("nimbus/stormdist").path)) ?? []
        return ids.map { "storm:\($0)" } + dirs.sorted().map { "dir:\($0)" }
    }

    static func wordCount() -> StormTopology {
        let spout = SpoutSpec(
            spoutObject: .shell(ShellComponent(executionCommand: "python3", script: "spout.py")),
            common: ComponentCommon(
                inputs: [:], streams: ["default": StreamInfo(outputFields: ["sentence"], direct: false)]))
        let split = Bolt(
            boltObject: .shell(ShellComponent(executionCommand: "python3", script: "split.py")),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: "sentences", streamId: "default"): .shuffle(NullStruct())],
                streams: ["default": StreamInfo(outputFields: ["word"], direct: false)], parallelismHint: 4))
        let count = Bolt(
            boltObject: .shell(ShellComponent(executionCommand: "python3", script: "count.py")),
            common: ComponentCommon(
                inputs: [GlobalStreamId(componentId: "split", streamId: "default"): .fields(["word"])],
                streams: ["default": StreamInfo(outputFields: ["word", "count"], direct: false)], parallelismHint: 2))
        return StormTopology(spouts: ["sentences": spout], bolts: ["split": split, "count": count], stateSpouts: [:])
    }
}
