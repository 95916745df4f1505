import ArgumentParser
import StormCore
import StormThrift

/// `storm set_log_level`: Storm's command, changing a running topology's log levels (for a time, or until
/// cleared).
struct SetLogLevelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set_log_level", abstract: "Change a running topology's log levels, optionally for a time.",
        discussion: """
            Levels: \(LogLevelConfig.levels.joined(separator: ", ")). ROOT names the root logger.
              storm set_log_level -l ROOT=DEBUG:30 wordcount     every logger at DEBUG for 30 seconds
              storm set_log_level -l com.example=WARN wordcount  com.example and the loggers under it at WARN
              storm set_log_level -r com.example wordcount       com.example back to its own level
            """)
    @Option(name: .customShort("l"), help: "LOGGER=LEVEL[:TIMEOUT_SECONDS] (repeatable).") var levels: [String] = []
    @Option(name: .customShort("r"), help: "A logger to put back to its own level (repeatable).") var reset: [String] =
        []
    @Argument(help: "The topology's name.") var name: String
    @OptionGroup var global: GlobalOptions

    func run() throws {
        var named: [String: LogLevel] = [:]
        for spec in levels {
            guard let eq = spec.firstIndex(of: "=") else {
                throw CLIFailure(message: "bad -l '\(spec)': expected LOGGER=LEVEL[:TIMEOUT_SECONDS]")
            }
            let logger = String(spec[..<eq])
            let parts = spec[spec.index(after: eq)...].split(separator: ":", omittingEmptySubsequences: false)
            guard let level = LogLevelConfig.canonicalLevel(String(parts[0])) else {
                throw CLIFailure(
                    message:
                        "bad -l '\(spec)': level '\(parts[0])' is not one of \(LogLevelConfig.levels.joined(separator: ", "))"
                )
            }
            var timeout: Int32 = 0
            if parts.count > 1 {
                guard parts.count == 2, let secs = Int32(parts[1]), secs >= 0 else {
                    throw CLIFailure(message: "bad -l '\(spec)': the timeout must be a whole number of seconds")
                }
                timeout = secs
            }
            named[logger] = LogLevel(action: .update, targetLogLevel: level, resetLogLevelTimeoutSecs: timeout)
        }
        for logger in reset { named[logger] = LogLevel(action: .remove) }
        guard !named.isEmpty else { throw CLIFailure(message: "nothing to change: give -l LOGGER=LEVEL or -r LOGGER") }
        try withNimbus(try global.load()) { nimbus in
            let id = try nimbus.getTopologySummaryByName(name: name).id
            try nimbus.setLogConfig(name: id, config: LogConfig(namedLoggerLevel: named))
        }
        let shown = named.sorted { $0.key < $1.key }.map { name, level in
            level.action == .remove
                ? "\(name) reset"
                : "\(name)=\(level.targetLogLevel!)"
                    + ((level.resetLogLevelTimeoutSecs ?? 0) > 0 ? " for \(level.resetLogLevelTimeoutSecs!) s" : "")
        }
        print("Sent log config \(shown.joined(separator: ", ")) for topology \(name)")
    }
}
