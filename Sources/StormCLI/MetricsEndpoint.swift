import Foundation
import Hummingbird
import Logging
import MetricsHTTP
import NIOCore
import ServiceLifecycle
import StormCore
import StormMetrics

/// A daemon's `/metrics` for Prometheus, on its metrics port (`nimbus.metrics.port`, `supervisor.metrics.port`):
/// what `render` gives at each scrape, in Prometheus' text format.
struct MetricsEndpoint: Service {
    let daemon: String
    let portKey: String
    let port: Int
    let logger: Logger
    let render: @Sendable () async -> String

    /// The endpoint `conf` asks for, or nil when its port is 0 (not served).
    static func configured(
        daemon: String, portKey: String, conf: StormConfig, logger: Logger,
        render: @escaping @Sendable () async -> String
    ) throws -> MetricsEndpoint? {
        let port = try conf.int(portKey)
        guard port != 0 else { return nil }
        guard (1...65535).contains(port) else {
            throw ConfigError.invalid(portKey, reason: "must be a port from 1 to 65535, or 0 to serve no metrics")
        }
        return MetricsEndpoint(daemon: daemon, portKey: portKey, port: port, logger: logger, render: render)
    }

    func run() async throws {
        let router = Router()
        router.addMetricsRoute(render)
        let application = Application(
            router: router,
            configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "storm-\(daemon)-metrics"),
            logger: logger)
        logger.info("\(daemon) serves its metrics for Prometheus at :\(port)/metrics")
        do {
            try await application.run()
        } catch let error as IOError {
            throw CLIFailure(
                message:
                    "\(daemon) cannot listen on \(portKey) \(port): \(String(cString: strerror(error.errnoCode))); set \(portKey) to a free port, or 0 to serve no metrics"
            )
        }
    }
}
