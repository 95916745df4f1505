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
        let host = conf.localHostname
        nimbus = try Nimbus(
            conf: conf,
            state: StormClusterState(storage: storage, root: try conf.string(ConfigKey.zookeeperRoot))
                .cachingQueriedRecords(),
            host: host, port: try conf.int(ConfigKey.nimbusThriftPort), logger: logger)
    }

    public func run() async throws {
        let nimbus = self.nimbus
        let bindAddress = try bindAddress()
        let port = try conf.int(ConfigKey.nimbusThriftPort)
        let authentication = try ThriftSecurity.serverAuthentication(conf, .nimbus)
        let impersonation = try ImpersonationACL(conf: conf)
        let server: ThriftServer
        do {
            server = try ThriftServer(
                host: bindAddress ?? "", port: port, threads: try conf.int(ConfigKey.nimbusThriftThreads),
                maxFrameSize: try conf.int(ConfigKey.nimbusThriftMaxBufferSize),
                ioTimeoutMillis: try conf.int(ConfigKey.thriftSocketTimeoutMs),
                maxConnections: try conf.int(ConfigKey.nimbusThriftMaxConnections), authentication: authentication,
                mayActFor: { impersonation.permits($0, actingFor: $1, from: $2) }, logger: logger
            ) { method, input in
                try NimbusDispatcher.dispatch(method, input: input, handler: nimbus)
            }
        } catch let error as ThriftTransportError where bindAddress != nil {
            throw ConfigError.invalid(
                ConfigKey.nimbusThriftBindAddress,
                reason: "'\(bindAddress!)': cannot listen there on port \(port) (\(error))")
        }
        let users = authentication.map { "\($0.users.count) users, SASL DIGEST-MD5" } ?? "no authentication"
        logger.info(
            "nimbus \(Nimbus.version) serving the Thrift API on \(bindAddress ?? "all interfaces"), port \(server.port) (\(users))"
        )
        // The port first, so a port in use fails at once; then the cluster state, which may take retries.
        await nimbus.start()
        let period = Duration.seconds(max(1, conf.intOrDefault(ConfigKey.nimbusMonitorFreqSecs)))
        try? await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await nimbus.followClusterChanges() }
                while true {
                    await nimbus.monitor()
                    try await Task.sleep(for: period)
                }
            }
        }
        logger.info("nimbus shutting down")
        await server.shutdown()
    }

    /// The address the Thrift port listens on; nil: every interface, as Storm's nimbus does.
    private func bindAddress() throws -> String? {
        guard let value = conf[ConfigKey.nimbusThriftBindAddress], !value.isNull else { return nil }
        let address = try conf.string(ConfigKey.nimbusThriftBindAddress).trimmingCharacters(in: .whitespaces)
        guard !address.isEmpty else {
            throw ConfigError.invalid(
                ConfigKey.nimbusThriftBindAddress, reason: "is empty; leave it unset to listen on all interfaces")
        }
        return address
    }
}
