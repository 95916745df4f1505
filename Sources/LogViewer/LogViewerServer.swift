import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import StormCore

/// `storm logviewer`: serves this node's logs over HTTP on `logviewer.port`, as Storm's log viewer: worker logs
/// (`<storm.log.dir>/workers-artifacts/<topology>/<port>/`) and the daemons' logs in `storm.log.dir`, paged,
/// searched and downloaded. Nothing outside those folders is served, whatever a request names.
public struct LogViewerServer: Service {
    /// The port could not be taken (in use, not ours, not permitted).
    public struct ListenFailure: Error, CustomStringConvertible {
        public let description: String
    }

    let conf: StormConfig
    let logger: Logger
    let onListening: @Sendable (Int) -> Void

    public init(conf: StormConfig, logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.conf = conf
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let port = try conf.int(ConfigKey.logviewerPort)
        let logs = conf.logDirectory
        try? FileManager.default.createDirectory(atPath: logs + "/workers-artifacts", withIntermediateDirectories: true)
        let application = LogViewerHTTP.application(
            workers: LogDirectory(root: logs + "/workers-artifacts"), daemons: LogDirectory(root: logs), port: port,
            hostname: conf.localHostname, logger: logger, onListening: onListening)
        logger.info("logviewer serving \(logs) on port \(port)")
        do {
            try await application.run()
        } catch let error as IOError {
            throw ListenFailure(
                description: "cannot listen on logviewer.port \(port): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}
