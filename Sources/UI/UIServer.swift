import Foundation
import Hummingbird
import Logging
import MetricsHTTP
import NIOCore
import ServiceLifecycle
import StormCore
import StormMetrics

/// `storm ui`: Storm's REST API and our web pages on `ui.host`:`ui.port`, read through the leader nimbus. Runs as
/// a service: it stops when its service group shuts down.
public struct UIServer: Service {
    /// The address could not be taken (in use, not ours, not permitted).
    public struct ListenFailure: Error, CustomStringConvertible {
        public let description: String
    }

    private let address: String
    private let application: Application<RouterResponder<BasicRequestContext>>
    private let nimbus: LeaderNimbus

    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public init(conf: StormConfig, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) throws {
        let host = try conf.string(ConfigKey.uiHost)
        let port = try conf.int(ConfigKey.uiPort)
        address = "\(host):\(port)"
        let defaultNimbusPort = try conf.int(ConfigKey.nimbusThriftPort)
        let seeds = try conf.stringList(ConfigKey.nimbusSeeds).map {
            NimbusSeeds.split($0, defaultPort: defaultNimbusPort)
        }
        nimbus = LeaderNimbus(conf: conf)
        let api = RestAPI(
            nimbus: nimbus,
            cluster: ClusterJSON(
                links: LogLinks(port: conf.intOrDefault(ConfigKey.logviewerPort)),
                seeds: seeds.map { (host: $0.0, port: $0.1) }),
            actionsEnabled: conf.boolOrDefault(ConfigKey.uiActionsEnabled),
            cache: AnswerCache(ttl: .milliseconds(conf.intOrDefault(ConfigKey.uiApiCacheMs))), logger: logger)
        let router = Router()
        let process = ProcessMetrics(labels: [Label("daemon", "ui"), Label("host", conf.localHostname)])
        router.addMetricsRoute { PrometheusText.render(process.families()) }
        api.register(on: router)
        StaticPages.register(on: router)
        application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "storm-ui"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    public func run() async throws {
        defer { nimbus.close() }
        do {
            try await application.run()
        } catch let error as IOError {
            throw ListenFailure(
                description: "cannot listen on \(address): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}
