import Locking
import Logging
import Testing

@testable import Worker

@Suite struct DynamicLogLevelsTests {
    /// Records what reaches it.
    final class Sink: Sendable {
        let lines = Locked<[String]>([])
        var messages: [String] { lines.withLock { $0 } }
    }

    struct Recording: LogHandler {
        let sink: Sink
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { sink.lines.withLock { $0.append("\(event.message)") } }
    }

    @Test func aNameCoversItsLoggerAndThoseUnderItTheLongestWinning() {
        let overrides = LogLevelOverrides()
        let sink = Sink()
        func logger(_ label: String) -> Logger {
            Logger(label: label) {
                DynamicLevelLogHandler(label: $0, base: Recording(sink: sink), overrides: overrides)
            }
        }
        let split = logger("com.example.Split")
        let worker = logger("worker")
        split.debug("hidden")
        #expect(split.logLevel == .info && sink.messages.isEmpty)
        #expect(overrides.set(["com.example": "DEBUG", "ROOT": "WARN"]))
        #expect(!overrides.set(["com.example": "DEBUG", "ROOT": "WARN"]))
        split.debug("shown")
        worker.info("hidden by ROOT")
        worker.warning("shown by ROOT")
        #expect(sink.messages == ["shown", "shown by ROOT"])
        #expect(logger("com.examples").logLevel == .warning)
        overrides.set(["com.example": "TRACE", "com.example.Split": "ERROR"])
        #expect(split.logLevel == .error && logger("com.example.Count").logLevel == .trace)
        overrides.set(["ROOT": "OFF"])
        worker.critical("nothing at all")
        #expect(sink.messages.count == 2)
        overrides.set([:])
        #expect(worker.logLevel == .info)
    }
}
