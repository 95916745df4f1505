import DRPC
import DaemonHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StormCore
import StormThrift

/// `storm drpc`: Storm's DRPC server. Callers' `execute` on `drpc.port` (Thrift's DistributedRPC) and over HTTP on
/// `drpc.http.port`; topologies fetch requests and return results on `drpc.invocations.port`
/// (DistributedRPCInvocations). Runs as a service until its group shuts down, then fails what is still waiting
/// with SERVER_SHUTDOWN.
public struct DRPCServer: Service {
    /// A port could not be taken (in use, not ours, not permitted).
    public struct ListenFailure: Error, CustomStringConvertible {
        public let description: String
    }

    public let requests: DRPCRequests
    let authorizer: DRPCAuthorizer?
    let conf: StormConfig
    let logger: Logger
    let onListening: @Sendable (DRPCPorts) -> Void

    /// - Parameter onListening: called with the bound ports once all of them accept connections.
    public init(
        conf: StormConfig, logger: Logger, onListening: @escaping @Sendable (DRPCPorts) -> Void = { _ in }
    ) throws {
        let timeout = try conf.int(ConfigKey.drpcRequestTimeoutSecs)
        let queueSize = try conf.int(ConfigKey.drpcQueueSize)
        guard timeout > 0 else {
            throw ConfigError.invalid(ConfigKey.drpcRequestTimeoutSecs, reason: "must be a positive number of seconds")
        }
        guard queueSize > 0 else { throw ConfigError.invalid(ConfigKey.drpcQueueSize, reason: "must be positive") }
        requests = DRPCRequests(timeout: .seconds(timeout), queueSize: queueSize, logger: logger)
        authorizer = try DRPCAuthorizer.configured(conf, logger: logger)
        self.conf = conf
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let handler = DRPCThriftHandler(requests: requests, authorizer: authorizer)
        let maxFrame = try conf.int(ConfigKey.drpcMaxBufferSize)
        let callers = try listen(
            "drpc.port", ConfigKey.drpcPort, .drpc, threads: ConfigKey.drpcWorkerThreads, maxFrame
        ) {
            method, input in try DistributedRPCDispatcher.dispatch(method, input: input, handler: handler)
        }
        defer { callers.stop() }
        let invocations = try listen(
            "drpc.invocations.port", ConfigKey.drpcInvocationsPort, .drpcInvocations,
            threads: ConfigKey.drpcInvocationsThreads, maxFrame
        ) { method, input in
            try DistributedRPCInvocationsDispatcher.dispatch(method, input: input, handler: handler)
        }
        defer { invocations.stop() }
        let http = try HTTPDaemonSettings(.drpc, conf: conf, httpPort: try conf.int(ConfigKey.drpcHttpPort))
        let serveHTTP = http.httpPort != nil || http.https != nil
        logger.info(
            "drpc serving execute on port \(callers.port), invocations on port \(invocations.port), \(serveHTTP ? http.summary : "no HTTP")"
        )
        let ports = DRPCPorts(execute: callers.port, invocations: invocations.port, http: nil)
        let sweep = Duration.seconds(1)
        let requests = requests
        // At a graceful shutdown, waiting callers are failed first (SERVER_SHUTDOWN): the HTTP server waits for
        // the requests it is answering before it stops.
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    try? await cancelWhenGracefulShutdown {
                        while true {
                            try await Task.sleep(for: sweep)
                            await requests.expire()
                        }
                    }
                }
                guard serveHTTP else { return onListening(ports) }
                let server = HTTPDaemonServer(http, host: "0.0.0.0", logger: logger)
                let router = server.makeRouter()
                DRPCHTTP.register(
                    on: router, requests: requests, authorizer: authorizer, hostname: conf.localHostname)
                group.addTask {
                    do {
                        try await server.run(router) { bound in
                            onListening(DRPCPorts(execute: ports.execute, invocations: ports.invocations, http: bound))
                        }
                    } catch let error as HTTPDaemonServer.ListenFailure {
                        throw ListenFailure(description: error.description)
                    }
                }
            }
        } onGracefulShutdown: {
            Task { await requests.shutdown() }
        }
        logger.info("drpc stopped")
        await requests.shutdown()
    }

    private func listen(
        _ name: String, _ key: String, _ endpoint: ThriftEndpoint, threads: String, _ maxFrame: Int,
        dispatch: @escaping ThriftServer.Dispatch
    ) throws -> ThriftServer {
        let port = try conf.int(key)
        let authentication = try ThriftSecurity.serverAuthentication(conf, endpoint)
        do {
            return try ThriftServer(
                host: "", port: port, threads: try conf.int(threads), maxFrameSize: maxFrame,
                ioTimeoutMillis: try conf.int(ConfigKey.thriftSocketTimeoutMs),
                // A caller gone gives up its request (execute is the one long call, and a cancelled one ends cleanly).
                cancellingCallsOfClosedConnections: true, authentication: authentication, logger: logger,
                dispatch: dispatch)
        } catch {
            throw ListenFailure(description: "cannot listen on \(name) \(port): \(error)")
        }
    }
}

/// The ports a DRPC server listens on (`http` nil when it serves no HTTP).
public struct DRPCPorts: Sendable, Equatable {
    public let execute: Int
    public let invocations: Int
    public let http: Int?
}
