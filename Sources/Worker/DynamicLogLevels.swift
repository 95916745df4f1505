import ClusterState
import Foundation
import Locking
import Logging
import ServiceLifecycle
import StormCore
import StormThrift
import Synchronization

/// The levels a topology's LogConfig sets on this process' loggers, by name: a name sets the logger of that label
/// and those under it (`com.example` covers `com.example.Split`), the longest name wins, and `ROOT` covers every
/// logger. A logger no name covers keeps its own level.
public final class LogLevelOverrides: Sendable {
    public static let shared = LogLevelOverrides()

    enum Override: Equatable, Sendable {
        case level(Logger.Level)
        /// log4j's OFF: nothing is logged.
        case off
    }

    private let levels = Mutex<[String: Override]>([:])
    /// Read on every log call: while nothing is overridden (almost always), no lock is taken.
    private let isEmpty = Atomic<Bool>(true)

    public init() {}

    /// Sets the overrides to `named` (logger name to log4j level), dropping the others; returns whether they changed.
    @discardableResult
    public func set(_ named: [String: String]) -> Bool {
        var next: [String: Override] = [:]
        for (name, level) in named { if let o = Self.override(level) { next[name] = o } }
        let changed = levels.withLock { current in
            defer { current = next }
            return current != next
        }
        isEmpty.store(next.isEmpty, ordering: .releasing)
        return changed
    }

    func override(for label: String) -> Override? {
        guard !isEmpty.load(ordering: .acquiring) else { return nil }
        return levels.withLock { levels in
            var best: (length: Int, override: Override)?
            for (name, override) in levels where name != "ROOT" {
                if (label == name || label.hasPrefix(name + ".")) && name.count > (best?.length ?? -1) {
                    best = (name.count, override)
                }
            }
            return best?.override ?? levels["ROOT"]
        }
    }

    static func override(_ log4j: String) -> Override? {
        switch LogLevelConfig.canonicalLevel(log4j) {
        case "OFF": .off
        case "FATAL": .level(.critical)
        case "ERROR": .level(.error)
        case "WARN": .level(.warning)
        case "INFO": .level(.info)
        case "DEBUG": .level(.debug)
        case "TRACE", "ALL": .level(.trace)
        default: nil
        }
    }
}

/// A log handler whose level a topology's LogConfig can change while it runs (`storm set_log_level`): the
/// override for its label when there is one, else its own.
public struct DynamicLevelLogHandler: LogHandler {
    private var base: any LogHandler
    private let label: String
    private let overrides: LogLevelOverrides

    public init(label: String, base: any LogHandler, overrides: LogLevelOverrides = .shared) {
        self.label = label
        self.base = base
        self.overrides = overrides
    }

    public var logLevel: Logger.Level {
        get {
            switch overrides.override(for: label) {
            case .level(let level): level
            case .off: .critical
            case nil: base.logLevel
            }
        }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        if overrides.override(for: label) == .off { return }
        base.log(event: event)
    }
}

/// Follows the topology's LogConfig: sets its loggers' levels when it changes (a ZooKeeper watch, with a look
/// every `task.refresh.poll.secs`), and puts a logger back when its timeout passes (looked for every
/// `worker.log.level.reset.poll.secs`, as Storm's workers do).
struct LogConfigFollower: Service {
    let state: StormClusterState
    let topologyId: String
    let refreshSeconds: Int
    let resetPollSeconds: Int
    let overrides: LogLevelOverrides
    let logger: Logger

    func run() async throws {
        let (changes, changed) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let watches = PathWatches(storage: state.storage) { _ in changed.yield() }
        state.storage.onNewSession {
            watches.sessionEnded()
            changed.yield()
        }
        let path = state.logConfigsPath + "/" + topologyId
        let latest = Locked<LogConfig?>(nil)
        let (state, topologyId, overrides, logger) = (state, topologyId, overrides, logger)
        let refresh = Duration.seconds(max(1, refreshSeconds))
        let resetPoll = Duration.seconds(max(1, resetPollSeconds))
        @Sendable func apply() {
            let active = LogLevelConfig.active(
                latest.withLock { $0 }, nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
            if overrides.set(active) {
                let shown = active.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                logger.notice("log levels of \(topologyId) now \(shown.isEmpty ? "as configured" : "\(shown)")")
            }
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        changed.yield()
                        try? await Task.sleep(for: refresh)
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: resetPoll)
                        apply()
                    }
                }
                group.addTask {
                    for await _ in changes {
                        try? await watches.watchNode(path)
                        do {
                            let config = try await state.logConfig(topologyId)
                            latest.withLock { $0 = config }
                            apply()
                        } catch {
                            logger.warning("cannot read the topology's log config (retrying): \(error)")
                        }
                    }
                }
            }
        }
    }
}
