import DaemonHTTP
import Foundation
import Hummingbird
import Logging
import MetricsHTTP
import NIOCore
import ServiceLifecycle
import StormCore
import StormMetrics

/// `storm ui`: Storm's REST API and our web pages on `ui.host`:`ui.port` (and `ui.https.port`), read through the
/// leader nimbus, each request authenticated as `ui.http.authentication` says and sent to nimbus as that user's.
/// Runs as a service: it stops when its service group shuts down.
public struct UIServer: Service {
    public typealias ListenFailure = HTTPDaemonServer.ListenFailure

    private let server: HTTPDaemonServer
    private let api: RestAPI
    private let process: ProcessMetrics
    private let nimbus: LeaderNimbus
    private let onListening: @Sendable (Int) -> Void
    private let logger: Logger

    /// - Parameter onListening: called with the bound port once the server accepts connections (the HTTPS port
    ///   when the UI serves HTTPS).
    public init(conf: StormConfig, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        let host = try conf.string(ConfigKey.uiHost)
        let settings = try HTTPDaemonSettings(.ui, conf: conf, httpPort: try conf.int(ConfigKey.uiPort))
        let defaultNimbusPort = try conf.int(ConfigKey.nimbusThriftPort)
        let seeds = try conf.stringList(ConfigKey.nimbusSeeds).map {
            NimbusSeeds.split($0, defaultPort: defaultNimbusPort)
        }
        nimbus = LeaderNimbus(conf: conf)
        api = RestAPI(
            nimbus: nimbus,
            cluster: ClusterJSON(
                links: Self.logLinks(conf),
                seeds: seeds.map { (host: $0.0, port: $0.1) }),
            actionsEnabled: conf.boolOrDefault(ConfigKey.uiActionsEnabled),
            cache: AnswerCache(ttl: .milliseconds(conf.intOrDefault(ConfigKey.uiApiCacheMs))), logger: logger)
        process = ProcessMetrics(labels: [Label("daemon", "ui"), Label("host", conf.localHostname)])
        server = HTTPDaemonServer(settings, host: host, logger: logger)
        self.onListening = onListening
        self.logger = logger
    }

    /// Where the UI's log links point: the log viewers' HTTPS port when they serve one.
    static func logLinks(_ conf: StormConfig) -> LogLinks {
        if let https = conf["logviewer.https.port"]?.intValue, https > 0 {
            return LogLinks(port: Int(https), scheme: "https")
        }
        return LogLinks(port: conf.intOrDefault(ConfigKey.logviewerPort))
    }

    public func run() async throws {
        defer { nimbus.close() }
        let router = server.makeRouter()
        let process = self.process
        router.addMetricsRoute { PrometheusText.render(process.families()) }
        api.register(on: router)
        StaticPages.register(on: router)
        let (logger, onListening, summary) = (self.logger, self.onListening, server.settings.summary)
        try await server.run(router) { port in
            logger.info("ui serving \(summary)")
            onListening(port)
        }
    }
}
