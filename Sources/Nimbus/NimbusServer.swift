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
        let threads = try conf.int(ConfigKey.nimbusThriftThreads)
        let maxFrame = try conf.int(ConfigKey.nimbusThriftMaxBufferSize)
        let ioTimeout = try conf.int(ConfigKey.thriftSocketTimeoutMs)
        let maxConnections = try conf.int(ConfigKey.nimbusThriftMaxConnections)
        let dispatch: ThriftServer.Dispatch = { method, input in
            try NimbusDispatcher.dispatch(method, input: input, handler: nimbus)
        }
        var servers: [ThriftServer] = []
        if !(try NimbusTLS.serverOnly(conf)) {
            let server: ThriftServer
            do {
                server = try ThriftServer(
                    host: bindAddress ?? "", port: port, threads: threads, maxFrameSize: maxFrame,
                    ioTimeoutMillis: ioTimeout, maxConnections: maxConnections, authentication: authentication,
                    mayActFor: { impersonation.permits($0, actingFor: $1, from: $2) }, logger: logger,
                    dispatch: dispatch)
            } catch let error as ThriftTransportError where bindAddress != nil {
                throw ConfigError.invalid(
                    ConfigKey.nimbusThriftBindAddress,
                    reason: "'\(bindAddress!)': cannot listen there on port \(port) (\(error))")
            }
            servers.append(server)
            let users = authentication.map { "\($0.users.count) users, SASL DIGEST-MD5" } ?? "no authentication"
            logger.info(
                "nimbus \(Nimbus.version) serving the Thrift API on \(bindAddress ?? "all interfaces"), port \(server.port) (\(users))"
            )
        }
        if let tlsPort = try NimbusTLS.port(conf), let tls = try NimbusTLS.server(conf) {
            do {
                servers.append(
                    try ThriftServer(
                        host: bindAddress ?? "", port: tlsPort, threads: threads, maxFrameSize: maxFrame,
                        ioTimeoutMillis: try conf.int(ConfigKey.thriftTLSSocketTimeoutMs),
                        maxConnections: maxConnections, tls: tls, logger: logger,
                        dispatch: dispatch))
            } catch let error as ThriftTransportError {
                for server in servers { server.stop() }
                throw ConfigError.invalid(NimbusTLS.portKey, reason: "\(tlsPort): cannot serve TLS there (\(error))")
            }
            let clients =
                tls.requirePeerCertificate ? "clients known by their certificates" : "client certificates optional"
            logger.info("nimbus serving the Thrift API over TLS on port \(tlsPort) (\(clients))")
        }
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
        for server in servers { await server.shutdown() }
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
