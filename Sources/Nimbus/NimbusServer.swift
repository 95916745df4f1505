import ClusterState
import Foundation
import Logging
import ServiceLifecycle
import StormCore
import StormThrift

/// `storm nimbus` as a service: serves the Thrift API until a graceful shutdown, then closes connections.
public struct NimbusServer: Service {
    public let nimbus: Nimbus
    let conf: StormConfig
    let logger: Logger

    public init(conf: StormConfig, storage: any ClusterStorage, logger: Logger) throws {
        self.conf = conf
        self.logger = logger
        let host = conf["storm.local.hostname"]?.stringValue ?? ProcessInfo.processInfo.hostName
        nimbus = try Nimbus(
            conf: conf, state: StormClusterState(storage: storage, root: try conf.string(ConfigKey.zookeeperRoot)),
            host: host, port: try conf.int(ConfigKey.nimbusThriftPort), logger: logger)
    }

    public func run() async throws {
        let nimbus = self.nimbus
        let server = try ThriftServer(
            host: "", port: try conf.int(ConfigKey.nimbusThriftPort), threads: try conf.int(ConfigKey.nimbusThriftThreads),
            maxFrameSize: try conf.int(ConfigKey.nimbusThriftMaxBufferSize),
            ioTimeoutMillis: try conf.int(ConfigKey.thriftSocketTimeoutMs), logger: logger
        ) { method, input in
            try NimbusDispatcher.dispatch(method, input: input, handler: nimbus)
        }
        logger.info("nimbus \(Nimbus.version) serving the Thrift API on port \(server.port)")
        // The port first, so a port in use fails at once; then the cluster state, which may take retries.
        await nimbus.start()
        let period = Duration.seconds(max(1, (try? conf.int(ConfigKey.nimbusMonitorFreqSecs)) ?? 10))
        try? await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await nimbus.followClusterChanges() }
                while true {
                    await onOwnThread { nimbus.monitor() }
                    try await Task.sleep(for: period)
                }
            }
        }
        logger.info("nimbus shutting down")
        await server.shutdown()
    }
}

/// Runs blocking work (nimbus waits on the cluster state from its own threads) outside the cooperative pool.
func onOwnThread(_ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
        Thread.detachNewThread {
            body()
            done.resume()
        }
    }
}
