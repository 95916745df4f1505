import DRPC
import Logging
import StormCore
import StormThrift

/// A DRPC server for tests and local mode, as Storm's LocalDRPC: topologies reach it as they reach any DRPC server
/// (its invocations port on loopback, which `topologyConf` names), and the test calls functions directly.
///
/// ```swift
/// let drpc = try LocalDRPC()
/// try await cluster.submitTopology("reverse", conf: drpc.topologyConf, topology: topology)
/// let answer = try await drpc.execute("reverse", "hello")
/// ```
public final class LocalDRPC: Sendable {
    public let requests: DRPCRequests
    private let invocations: ThriftServer

    /// - Parameter timeoutSeconds: how long a call waits for the topology (drpc.request.timeout.secs).
    public init(timeoutSeconds: Int = 600, logger: Logger = Logger(label: "local-drpc")) throws {
        let requests = DRPCRequests(
            timeout: .seconds(timeoutSeconds), queueSize: StormConfig.defaults.intOrDefault(ConfigKey.drpcQueueSize),
            logger: logger)
        let handler = DRPCThriftHandler(requests: requests)
        self.requests = requests
        invocations = try ThriftServer(
            host: "127.0.0.1", port: 0, threads: 8,
            maxFrameSize: StormConfig.defaults.intOrDefault(ConfigKey.drpcMaxBufferSize), logger: logger
        ) { method, input in
            try DistributedRPCInvocationsDispatcher.dispatch(method, input: input, handler: handler)
        }
    }

    /// What a topology's conf needs to reach this server: give it to `submitTopology`.
    public var topologyConf: [String: ConfigValue] {
        [ConfigKey.drpcServers: ["127.0.0.1"], ConfigKey.drpcInvocationsPort: .int(Int64(invocations.port))]
    }

    /// Calls `function` with `args` and waits for the topology's answer; throws `DRPCExecutionException` as a DRPC
    /// server's callers get it.
    public func execute(_ function: String, _ args: String) async throws -> String {
        try await requests.execute(function: function, args: args)
    }

    /// Fails what is waiting (SERVER_SHUTDOWN) and stops serving the topologies.
    public func shutdown() async {
        await requests.shutdown()
        await invocations.shutdown()
    }
}
