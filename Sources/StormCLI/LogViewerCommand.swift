import ArgumentParser
import LogViewer
import Logging
import StormCore

struct LogViewerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logviewer",
        abstract: "Run the log viewer: this node's worker and daemon logs over HTTP on logviewer.port.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "logviewer")
        do {
            try await runUntilSignalled(LogViewerServer(conf: conf, logger: logger), logger: logger)
        } catch let error as LogViewerServer.ListenFailure {
            throw CLIFailure(message: "logviewer \(error.description)")
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
    }
}
