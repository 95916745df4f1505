import StormThrift
import Testing

@testable import StormCore

@Suite struct LogLevelConfigTests {
    @Test func requestsMergeAsStormsNimbusMergesThem() throws {
        let first = try LogLevelConfig.merge(
            LogConfig(namedLoggerLevel: [
                "ROOT": LogLevel(action: .update, targetLogLevel: "debug", resetLogLevelTimeoutSecs: 30),
                "com.example": LogLevel(action: .update, targetLogLevel: "WARNING"),
            ]), into: nil, nowMillis: 1_000)
        let root = try #require(first.namedLoggerLevel?["ROOT"])
        #expect(root.targetLogLevel == "DEBUG" && root.resetLogLevelTimeoutEpoch == 31_000)
        #expect(first.namedLoggerLevel?["com.example"]?.targetLogLevel == "WARN")
        #expect(first.namedLoggerLevel?["com.example"]?.resetLogLevelTimeoutEpoch == nil)
        // A later request leaves what it does not name (marked UNCHANGED) and removes what it asks to.
        let second = try LogLevelConfig.merge(
            LogConfig(namedLoggerLevel: ["com.example": LogLevel(action: .remove)]), into: first, nowMillis: 2_000)
        #expect(second.namedLoggerLevel?.keys.sorted() == ["ROOT"])
        #expect(second.namedLoggerLevel?["ROOT"]?.action == .unchanged)
        #expect(second.namedLoggerLevel?["ROOT"]?.resetLogLevelTimeoutEpoch == 31_000)
        // What the workers set: the entries whose time has not passed.
        #expect(LogLevelConfig.active(first, nowMillis: 30_999) == ["ROOT": "DEBUG", "com.example": "WARN"])
        #expect(LogLevelConfig.active(first, nowMillis: 31_000) == ["com.example": "WARN"])
        #expect(LogLevelConfig.active(nil, nowMillis: 0).isEmpty)
    }

    @Test func badNamesAndLevelsAreRefusedInOneLine() {
        func refusal(_ name: String, _ level: String?) -> String {
            do {
                _ = try LogLevelConfig.merge(
                    LogConfig(namedLoggerLevel: [name: LogLevel(action: .update, targetLogLevel: level)]), into: nil,
                    nowMillis: 0)
                return "accepted"
            } catch {
                return error.description
            }
        }
        #expect(refusal("", "DEBUG") == "Named loggers need a valid name. Use ROOT for the root logger")
        #expect(refusal("my logger", "DEBUG").hasPrefix("logger name 'my logger' has whitespace"))
        #expect(
            refusal("ROOT", "LOUD")
                == "logger 'ROOT': level 'LOUD' is not one of OFF, FATAL, ERROR, WARN, INFO, DEBUG, TRACE, ALL")
        #expect(refusal("ROOT", nil).hasPrefix("logger 'ROOT': level '' is not one of"))
        #expect(refusal("ROOT", "all") == "accepted")
    }
}
