import DaemonHTTP
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StormCore

/// `storm logviewer`: serves this node's logs over HTTP on `logviewer.port` (and `logviewer.https.port`), as Storm's
/// log viewer: worker logs (`<storm.log.dir>/workers-artifacts/<topology>/<port>/`) and the daemons' logs in
/// `storm.log.dir`, paged, searched and downloaded. Nothing outside those folders is served, whatever a request
/// names; once users authenticate, each sees only the logs `LogAccess` lets them.
public struct LogViewerServer: Service {
    public typealias ListenFailure = HTTPDaemonServer.ListenFailure

    let conf: StormConfig
    let logger: Logger
    let onListening: @Sendable (Int) -> Void

    public init(conf: StormConfig, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.conf = conf
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let settings = try HTTPDaemonSettings(.logviewer, conf: conf, httpPort: try conf.int(ConfigKey.logviewerPort))
        let logs = conf.logDirectory
        try? FileManager.default.createDirectory(atPath: logs + "/workers-artifacts", withIntermediateDirectories: true)
        let workers = LogDirectory(root: logs + "/workers-artifacts")
        var enforced = true
        if case .anyone = settings.authentication { enforced = false }
        let server = HTTPDaemonServer(settings, host: "0.0.0.0", logger: logger)
        let router = server.makeRouter()
        LogViewerHTTP.register(
            on: router, workers: workers, daemons: LogDirectory(root: logs),
            access: LogAccess(conf: conf, workers: workers, enforced: enforced), hostname: conf.localHostname,
            scheme: settings.https != nil ? "https" : "http")
        logger.info("logviewer serving \(logs) with \(settings.summary)")
        try await server.run(router, onListening: onListening)
    }
}
