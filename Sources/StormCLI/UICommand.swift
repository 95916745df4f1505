import ArgumentParser
import Logging
import ServiceLifecycle
import StormCore
import UI

struct UICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui", abstract: "Run the UI daemon: Storm's REST API and web pages on ui.host:ui.port.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "ui")
        let server: UIServer
        do {
            server = try UIServer(conf: conf, logger: logger) { port in
                logger.info("ui serves http://\(conf["ui.host"]?.stringValue ?? "0.0.0.0"):\(port)/")
            }
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
        do {
            try await runUntilSignalled(server, logger: logger)
        } catch let error as UIServer.ListenFailure {
            throw CLIFailure(message: "ui \(error.description)")
        } catch {
            throw CLIFailure(message: "ui cannot serve: \(error)")
        }
    }
}

/// Runs a daemon's service until SIGTERM or SIGINT, which shut it down gracefully.
func runUntilSignalled(_ service: some Service, logger: Logger) async throws {
    let group = ServiceGroup(
        configuration: .init(
            services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    try await group.run()
}
