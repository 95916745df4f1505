import DaemonHTTP
import Foundation
import Hummingbird
import StormCore
import StormThrift

/// Storm's `/api/v1/topology/:id/logconfig`: a topology's log levels read (GET) and changed (POST, refused when
/// `ui.actions.enabled` is false), in Storm's shapes.
struct TopologyLogLevels {
    let api: RestAPI

    func register(on group: RouterGroup<DaemonRequestContext>) {
        let (api, nimbus) = (api, api.nimbus)
        group.get("topology/:id/logconfig") { request, context in
            await api.respond(request) {
                let id = try RestAPI.path(context, "id")
                return Self.json(try await nimbus.call { try $0.getLogConfig(name: id) })
            }
        }
        group.post("topology/:id/logconfig") { request, context in
            var request = request
            let body = try? await request.collectBody(upTo: 1 << 20)
            return await api.respond(request) {
                guard api.actionsEnabled else {
                    throw APIError(
                        status: .forbidden, message: "actions are disabled on this UI (ui.actions.enabled is false)")
                }
                let id = try RestAPI.path(context, "id")
                let change = try Self.request(body.map { String(buffer: $0) } ?? "")
                do {
                    return Self.json(
                        try await nimbus.call {
                            try $0.setLogConfig(name: id, config: change)
                            return try $0.getLogConfig(name: id)
                        })
                } catch let refusal as ThriftApplicationException {
                    // setLogConfig declares no exceptions: what nimbus refuses comes back this way.
                    throw APIError.badRequest(refusal.message)
                }
            }
        }
    }

    /// Storm's answer: `{"namedLoggerLevels": {"ROOT": {"target_level", "reset_level", "timeout", "timeout_epoch"}}}`.
    static func json(_ config: LogConfig) -> ConfigValue {
        var loggers: [String: ConfigValue] = [:]
        for (name, level) in config.namedLoggerLevel ?? [:] {
            loggers[name] = .map([
                "target_level": level.targetLogLevel.map { .string($0) } ?? .null,
                "reset_level": level.resetLogLevel.map { .string($0) } ?? .null,
                "timeout": .int(Int64(level.resetLogLevelTimeoutSecs ?? 0)),
                "timeout_epoch": level.resetLogLevelTimeoutEpoch.map { .int($0) } ?? .null,
            ])
        }
        return .map(["namedLoggerLevels": .map(loggers)])
    }

    /// Storm's body: `{"namedLoggerLevels": {"ROOT": {"target_level": "DEBUG", "timeout": 30}}}`; a null
    /// `target_level` puts the logger back to its own level.
    static func request(_ body: String) throws -> LogConfig {
        let root: [String: ConfigValue]
        do {
            root = try JSON.decodeObject(body)
        } catch {
            throw APIError.badRequest("the log config body is not a JSON object: \(error)")
        }
        guard case .map(let loggers)? = root["namedLoggerLevels"], !loggers.isEmpty else {
            throw APIError.badRequest("namedLoggerLevels must map logger names to {target_level, timeout}")
        }
        var named: [String: LogLevel] = [:]
        for (name, entry) in loggers {
            guard !name.isEmpty else {
                throw APIError.badRequest("Named loggers need a valid name. Use ROOT for the root logger")
            }
            guard case .map(let fields) = entry else {
                throw APIError.badRequest("namedLoggerLevels.\(name) must be {target_level, timeout}")
            }
            guard let target = fields["target_level"], !target.isNull else {
                named[name] = LogLevel(action: .remove)
                continue
            }
            guard let text = target.stringValue, let level = LogLevelConfig.canonicalLevel(text) else {
                throw APIError.badRequest(
                    "namedLoggerLevels.\(name).target_level must be one of \(LogLevelConfig.levels.joined(separator: ", ")), not \(target.display)"
                )
            }
            let timeout = fields["timeout"].flatMap { $0.isNull ? nil : $0 } ?? .int(0)
            guard let seconds = timeout.intValue, seconds >= 0, let secs = Int32(exactly: seconds) else {
                throw APIError.badRequest("namedLoggerLevels.\(name).timeout must be a whole number of seconds")
            }
            named[name] = LogLevel(action: .update, targetLogLevel: level, resetLogLevelTimeoutSecs: secs)
        }
        return LogConfig(namedLoggerLevel: named)
    }
}
