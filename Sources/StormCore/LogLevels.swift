import StormThrift

/// Storm's dynamic log levels (`setLogConfig`), as nimbus keeps them and workers apply them: named loggers set to
/// a level, each until an optional time, after which the logger goes back to the level it had.
public enum LogLevelConfig {
    /// The levels Storm's log4j names, most verbose last.
    public static let levels = ["OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL"]

    /// Why a request cannot be stored, in one line.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// `current` with `request` applied, as Storm's nimbus merges them: an UPDATE sets the logger (its timeout
    /// counted from `nowMillis`), a REMOVE drops it, UNCHANGED leaves it. A logger name that is empty or holds
    /// whitespace, and a level log4j does not have, are refused, and nothing is changed.
    public static func merge(
        _ request: LogConfig, into current: LogConfig?, nowMillis: Int64
    ) throws(Refusal)
        -> LogConfig
    {
        var merged = current?.namedLoggerLevel ?? [:]
        for name in merged.keys { merged[name]?.action = .unchanged }
        for (name, level) in (request.namedLoggerLevel ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !name.isEmpty else {
                throw Refusal(description: "Named loggers need a valid name. Use ROOT for the root logger")
            }
            guard !name.contains(where: { $0.isWhitespace || $0.isNewline }) else {
                throw Refusal(
                    description: "logger name '\(name)' has whitespace; loggers are named like com.example.MyBolt")
            }
            switch level.action {
            case .update:
                guard let target = level.targetLogLevel, let canonical = canonicalLevel(target) else {
                    throw Refusal(
                        description:
                            "logger '\(name)': level '\(level.targetLogLevel ?? "")' is not one of \(levels.joined(separator: ", "))"
                    )
                }
                var stored = level
                stored.targetLogLevel = canonical
                let seconds = Int64(level.resetLogLevelTimeoutSecs ?? 0)
                stored.resetLogLevelTimeoutEpoch = seconds > 0 ? nowMillis + seconds * 1000 : nil
                merged[name] = stored
            case .remove:
                merged[name] = nil
            case .unchanged:
                continue
            }
        }
        return LogConfig(namedLoggerLevel: merged)
    }

    /// The level log4j would read `name` as, in its spelling; nil for a name it does not know.
    public static func canonicalLevel(_ name: String) -> String? {
        let upper = name.uppercased()
        if upper == "WARNING" { return "WARN" }
        return levels.contains(upper) ? upper : nil
    }

    /// The loggers a worker sets now: the config's entries whose time has not passed, by name ("ROOT" for the
    /// root logger, whatever its case), with their levels.
    public static func active(_ config: LogConfig?, nowMillis: Int64) -> [String: String] {
        var out: [String: String] = [:]
        for (name, level) in config?.namedLoggerLevel ?? [:] {
            guard let target = level.targetLogLevel.flatMap(canonicalLevel) else { continue }
            if let until = level.resetLogLevelTimeoutEpoch, until <= nowMillis { continue }
            out[name.uppercased() == "ROOT" ? "ROOT" : name] = target
        }
        return out
    }
}
