import Foundation
import Yams

/// Storm's configuration keys this project reads, with Storm's defaults.
public enum ConfigKey {
    public static let zookeeperServers = "storm.zookeeper.servers"
    public static let zookeeperPort = "storm.zookeeper.port"
    public static let zookeeperRoot = "storm.zookeeper.root"
    public static let zookeeperSessionTimeout = "storm.zookeeper.session.timeout"
    public static let localDir = "storm.local.dir"
    public static let localHostname = "storm.local.hostname"
    public static let clusterStateStore = "storm.cluster.state.store"
    public static let thriftSocketTimeoutMs = "storm.thrift.socket.timeout.ms"
    /// The same for connections over TLS (nimbus' TLS port and its clients).
    public static let thriftTLSSocketTimeoutMs = "storm.thrift.tls.socket.timeout.ms"
    public static let nimbusSeeds = "nimbus.seeds"
    public static let nimbusHost = "nimbus.host"
    public static let nimbusThriftPort = "nimbus.thrift.port"
    public static let nimbusThriftThreads = "nimbus.thrift.threads"
    public static let nimbusThriftMaxBufferSize = "nimbus.thrift.max_buffer_size"
    public static let nimbusTaskTimeoutSecs = "nimbus.task.timeout.secs"
    public static let nimbusTaskLaunchSecs = "nimbus.task.launch.secs"
    public static let nimbusSupervisorTimeoutSecs = "nimbus.supervisor.timeout.secs"
    public static let nimbusMonitorFreqSecs = "nimbus.monitor.freq.secs"
    public static let nimbusFileCopyExpirationSecs = "nimbus.file.copy.expiration.secs"
    public static let nimbusUploadMaxBytes = "nimbus.file.upload.max.bytes"
    public static let nimbusInboxJarExpirationSecs = "nimbus.inbox.jar.expiration.secs"
    /// Ours: bounds on what clients can make nimbus hold (docs/operations.md).
    public static let nimbusThriftMaxConnections = "nimbus.thrift.max.connections"
    public static let nimbusThriftBindAddress = "nimbus.thrift.bind.address"
    public static let nimbusUploadMaxOpen = "nimbus.file.upload.max.open"
    public static let nimbusUploadMaxOpenPerConnection = "nimbus.file.upload.max.open.per.connection"
    public static let nimbusDownloadMaxOpen = "nimbus.file.download.max.open"
    public static let topologyMinReplicationCount = "topology.min.replication.count"
    public static let topologyMaxReplicationWaitTimeSec = "topology.max.replication.wait.time.sec"
    public static let supervisorSlotsPorts = "supervisor.slots.ports"
    public static let supervisorWorkerTimeoutSecs = "supervisor.worker.timeout.secs"
    public static let supervisorWorkerStartTimeoutSecs = "supervisor.worker.start.timeout.secs"
    public static let supervisorWorkerShutdownSleepSecs = "supervisor.worker.shutdown.sleep.secs"
    public static let taskHeartbeatFrequencySecs = "task.heartbeat.frequency.secs"
    public static let taskRefreshPollSecs = "task.refresh.poll.secs"
    /// Ours: how long a starting worker waits for its peers' connections before activating its spouts anyway.
    public static let workerConnectionsWaitSecs = "worker.connections.wait.secs"
    public static let logDir = "storm.log.dir"
    public static let supervisorHeartbeatFrequencySecs = "supervisor.heartbeat.frequency.secs"
    public static let supervisorMonitorFrequencySecs = "supervisor.monitor.frequency.secs"
    public static let workerHeartbeatFrequencySecs = "worker.heartbeat.frequency.secs"
    public static let topologyName = "topology.name"
    public static let stormId = "storm.id"
    public static let topologyWorkers = "topology.workers"
    public static let topologyAckerExecutors = "topology.acker.executors"
    public static let topologyTasks = "topology.tasks"
    public static let topologyMaxTaskParallelism = "topology.max.task.parallelism"
    public static let topologyMessageTimeoutSecs = "topology.message.timeout.secs"
    public static let topologyMaxSpoutPending = "topology.max.spout.pending"
    public static let topologyEnableMessageTimeouts = "topology.enable.message.timeouts"
    public static let topologySubprocessTimeoutSecs = "topology.subprocess.timeout.secs"
    public static let topologyShellboltMaxPending = "topology.shellbolt.max.pending"
    public static let topologyTickTupleFreqSecs = "topology.tick.tuple.freq.secs"
    /// Ours: bolts fed by one thread run on it (see docs/configuration.md).
    public static let topologyExecutorChaining = "topology.executor.chaining"
    public static let topologyMaxErrorReportPerInterval = "topology.max.error.report.per.interval"
    public static let topologyErrorThrottleIntervalSecs = "topology.error.throttle.interval.secs"
    public static let topologySubmitterUser = "topology.submitter.user"
    public static let topologySubmitterPrincipal = "topology.submitter.principal"
    /// Who may see a topology in getTopologyHistory beside nimbus' admins (Storm's authorization keys).
    public static let nimbusAdmins = "nimbus.admins"
    public static let topologyUsers = "topology.users"
    public static let topologyGroups = "topology.groups"
    public static let logsUsers = "logs.users"
    public static let logsGroups = "logs.groups"
    /// How long a killed topology stays in getTopologyHistory.
    public static let logviewerCleanupAgeMins = "logviewer.cleanup.age.mins"
    public static let topologyStatsSampleRate = "topology.stats.sample.rate"
    public static let uiPort = "ui.port"
    public static let uiHost = "ui.host"
    public static let uiActionsEnabled = "ui.actions.enabled"
    /// Ours: how long the UI serves an API answer again before asking nimbus anew.
    public static let uiApiCacheMs = "ui.api.cache.ms"
    public static let logviewerPort = "logviewer.port"
    /// DRPC: where the servers are (for topologies and `storm drpc-client`), their ports, and their limits.
    public static let drpcServers = "drpc.servers"
    public static let drpcPort = "drpc.port"
    public static let drpcInvocationsPort = "drpc.invocations.port"
    public static let drpcHttpPort = "drpc.http.port"
    public static let drpcDisableHttpBinding = "drpc.disable.http.binding"
    public static let drpcWorkerThreads = "drpc.worker.threads"
    public static let drpcInvocationsThreads = "drpc.invocations.threads"
    public static let drpcMaxBufferSize = "drpc.max_buffer_size"
    public static let drpcQueueSize = "drpc.queue.size"
    public static let drpcRequestTimeoutSecs = "drpc.request.timeout.secs"
    /// Metrics. Ours: the most series a worker's components may register; how often a worker writes its
    /// metrics for its supervisor's `/metrics`; where nimbus and a supervisor serve `/metrics` (0: not served).
    public static let topologyMetricsMaxSeries = "topology.metrics.max.series"
    public static let workerMetricsExportSecs = "worker.metrics.export.secs"
    public static let nimbusMetricsPort = "nimbus.metrics.port"
    public static let supervisorMetricsPort = "supervisor.metrics.port"
    /// Storm's metrics v2 reporters: a list of maps, each with a `class` and its settings.
    public static let topologyMetricsReporters = "topology.metrics.reporters"
    /// Ours: a worker's log rolls past this size, and this many rolled logs are kept (Storm sets both in log4j).
    public static let workerLogRollSizeMb = "worker.log.roll.size.mb"
    public static let workerLogRollFiles = "worker.log.roll.files"
    /// How often a worker looks for log levels whose timeout has passed (Storm's key and default).
    public static let workerLogLevelResetPollSecs = "worker.log.level.reset.poll.secs"
    /// Storm's event logger (`storm debug`): its executors, and the size its events.log rolls at.
    public static let topologyEventloggerExecutors = "topology.eventlogger.executors"
    public static let topologyEventloggerRotationSizeMb = "topology.eventlogger.rotation.size.mb"
}

/// A Storm configuration: Storm's defaults, overlaid by storm.yaml, `-c key=value` options and topology confs.
public struct StormConfig: Sendable, Equatable {
    public private(set) var values: [String: ConfigValue]

    public init(_ values: [String: ConfigValue] = [:]) { self.values = values }

    /// Storm's defaults for the keys this project reads.
    public static let defaults = StormConfig([
        ConfigKey.zookeeperServers: ["localhost"],
        ConfigKey.zookeeperPort: 2181,
        ConfigKey.zookeeperRoot: "/storm",
        ConfigKey.zookeeperSessionTimeout: 20000,
        ConfigKey.localDir: "storm-local",
        ConfigKey.clusterStateStore: "org.apache.storm.cluster.ZKStateStorageFactory",
        ConfigKey.thriftSocketTimeoutMs: 600_000,
        ConfigKey.thriftTLSSocketTimeoutMs: 600_000,
        ConfigKey.nimbusSeeds: ["localhost"],
        ConfigKey.nimbusThriftPort: 6627,
        ConfigKey.nimbusThriftThreads: 64,
        ConfigKey.nimbusThriftMaxBufferSize: 1_048_576,
        ConfigKey.nimbusTaskTimeoutSecs: 30,
        ConfigKey.nimbusTaskLaunchSecs: 120,
        ConfigKey.nimbusSupervisorTimeoutSecs: 60,
        ConfigKey.nimbusMonitorFreqSecs: 10,
        ConfigKey.nimbusFileCopyExpirationSecs: 600,
        ConfigKey.nimbusUploadMaxBytes: 268_435_456,
        ConfigKey.nimbusInboxJarExpirationSecs: 3600,
        ConfigKey.nimbusThriftMaxConnections: 4096,
        ConfigKey.nimbusUploadMaxOpen: 256,
        ConfigKey.nimbusUploadMaxOpenPerConnection: 16,
        ConfigKey.nimbusDownloadMaxOpen: 1024,
        ConfigKey.topologyMinReplicationCount: 1,
        ConfigKey.topologyMaxReplicationWaitTimeSec: 60,
        ConfigKey.supervisorSlotsPorts: [6700, 6701, 6702, 6703],
        ConfigKey.supervisorWorkerTimeoutSecs: 30,
        ConfigKey.supervisorWorkerStartTimeoutSecs: 120,
        ConfigKey.supervisorWorkerShutdownSleepSecs: 3,
        ConfigKey.taskHeartbeatFrequencySecs: 3,
        ConfigKey.taskRefreshPollSecs: 10,
        ConfigKey.workerConnectionsWaitSecs: 30,
        ConfigKey.supervisorHeartbeatFrequencySecs: 5,
        ConfigKey.supervisorMonitorFrequencySecs: 3,
        ConfigKey.workerHeartbeatFrequencySecs: 1,
        ConfigKey.topologyWorkers: 1,
        ConfigKey.topologyAckerExecutors: nil,
        ConfigKey.topologyMaxTaskParallelism: nil,
        ConfigKey.topologyMessageTimeoutSecs: 30,
        ConfigKey.topologyMaxSpoutPending: nil,
        ConfigKey.topologyEnableMessageTimeouts: true,
        ConfigKey.topologySubprocessTimeoutSecs: 30,
        ConfigKey.topologyShellboltMaxPending: 100,
        ConfigKey.topologyTickTupleFreqSecs: nil,
        ConfigKey.topologyExecutorChaining: false,
        ConfigKey.topologyMaxErrorReportPerInterval: 5,
        ConfigKey.topologyErrorThrottleIntervalSecs: 10,
        ConfigKey.topologyStatsSampleRate: 0.05,
        ConfigKey.uiPort: 8080,
        ConfigKey.uiHost: "0.0.0.0",
        ConfigKey.uiActionsEnabled: true,
        ConfigKey.uiApiCacheMs: 1000,
        ConfigKey.logviewerPort: 8000,
        ConfigKey.logviewerCleanupAgeMins: 10080,
        ConfigKey.drpcServers: nil,
        ConfigKey.drpcPort: 3772,
        ConfigKey.drpcInvocationsPort: 3773,
        ConfigKey.drpcHttpPort: 3774,
        ConfigKey.drpcDisableHttpBinding: true,
        ConfigKey.drpcWorkerThreads: 64,
        ConfigKey.drpcInvocationsThreads: 64,
        ConfigKey.drpcMaxBufferSize: 1_048_576,
        ConfigKey.drpcQueueSize: 128,
        ConfigKey.drpcRequestTimeoutSecs: 600,
        ConfigKey.topologyMetricsMaxSeries: 1000,
        ConfigKey.workerMetricsExportSecs: 5,
        ConfigKey.nimbusMetricsPort: 9627,
        ConfigKey.supervisorMetricsPort: 9628,
        ConfigKey.topologyMetricsReporters: nil,
        ConfigKey.workerLogRollSizeMb: 100,
        ConfigKey.workerLogRollFiles: 9,
        ConfigKey.workerLogLevelResetPollSecs: 30,
        ConfigKey.topologyEventloggerExecutors: 0,
        ConfigKey.topologyEventloggerRotationSizeMb: 100,
    ])

    public subscript(key: String) -> ConfigValue? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// This config with `other`'s keys taking precedence.
    public func merging(_ other: StormConfig) -> StormConfig {
        StormConfig(values.merging(other.values) { _, new in new })
    }

    public func merging(_ other: [String: ConfigValue]) -> StormConfig { merging(StormConfig(other)) }

    // MARK: typed access with errors that name the key

    public func int(_ key: String) throws -> Int {
        guard let value = values[key] else { throw ConfigError.missing(key) }
        guard let i = value.intValue, let int = Int(exactly: i) else {
            throw ConfigError.wrongType(key, expected: "an integer", got: value)
        }
        return int
    }

    /// The key's integer value, or its default from `defaults` when it is unset or not an integer: the one place
    /// a default lives, so no call site repeats it.
    public func intOrDefault(_ key: String) -> Int {
        if let value = try? int(key) { return value }
        guard let fallback = try? Self.defaults.int(key) else {
            preconditionFailure("config key '\(key)' has no integer default")
        }
        return fallback
    }

    /// The key's numeric value, or its default from `defaults` when it is unset or not a number.
    public func doubleOrDefault(_ key: String) -> Double {
        if let value = values[key]?.doubleValue { return value }
        guard let fallback = Self.defaults[key]?.doubleValue else {
            preconditionFailure("config key '\(key)' has no numeric default")
        }
        return fallback
    }

    /// The key's boolean value, or its default from `defaults` when it is unset or not a boolean.
    public func boolOrDefault(_ key: String) -> Bool {
        if let value = values[key]?.boolValue { return value }
        guard let fallback = Self.defaults[key]?.boolValue else {
            preconditionFailure("config key '\(key)' has no boolean default")
        }
        return fallback
    }

    /// The name this node announces to the others: `storm.local.hostname`, else the machine's host name.
    public var localHostname: String {
        values[ConfigKey.localHostname]?.stringValue ?? ProcessInfo.processInfo.hostName
    }

    /// Where a node's logs are: `storm.log.dir`, else `logs` under `storm.local.dir`. Worker logs are in its
    /// `workers-artifacts/<topology>/<port>/`, as Storm lays them out.
    public var logDirectory: String {
        values[ConfigKey.logDir]?.stringValue ?? (values[ConfigKey.localDir]?.stringValue ?? "storm-local") + "/logs"
    }

    public func optionalInt(_ key: String) throws -> Int? {
        guard let value = values[key], !value.isNull else { return nil }
        return try int(key)
    }

    /// The text at `key`; nil when it is unset, null or empty. Any other kind of value is an error naming the key.
    public func optionalText(_ key: String) throws(ConfigError) -> String? {
        guard let value = values[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw .wrongType(key, expected: "text", got: value) }
        return text.isEmpty ? nil : text
    }

    /// true or false at `key`; `fallback` when it is unset or null. Any other value is an error naming the key.
    public func flag(_ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = values[key], !value.isNull else { return fallback }
        guard let flag = value.boolValue else { throw .wrongType(key, expected: "true or false", got: value) }
        return flag
    }

    public func string(_ key: String) throws -> String {
        guard let value = values[key] else { throw ConfigError.missing(key) }
        guard case .string(let s) = value else { throw ConfigError.wrongType(key, expected: "a string", got: value) }
        return s
    }

    public func stringList(_ key: String) throws -> [String] {
        guard let value = values[key] else { throw ConfigError.missing(key) }
        if case .string(let s) = value { return [s] }
        guard case .list(let items) = value else { throw ConfigError.wrongType(key, expected: "a list", got: value) }
        return try items.map {
            guard let s = $0.stringValue else {
                throw ConfigError.wrongType(key, expected: "a list of strings", got: value)
            }
            return s
        }
    }

    public func intList(_ key: String) throws -> [Int] {
        guard let value = values[key] else { throw ConfigError.missing(key) }
        guard case .list(let items) = value else { throw ConfigError.wrongType(key, expected: "a list", got: value) }
        return try items.map {
            guard let i = $0.intValue, let int = Int(exactly: i) else {
                throw ConfigError.wrongType(key, expected: "a list of integers", got: value)
            }
            return int
        }
    }

    public func json() throws -> String { try JSON.encode(.map(values)) }

    // MARK: loading

    /// Reads a storm.yaml. An empty file is an empty config; anything but a mapping at the top is an error.
    public static func load(yamlFile path: String) throws -> StormConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError.unreadable(path, reason: (error as NSError).localizedDescription)
        }
        return try parse(yaml: text, source: path)
    }

    public static func parse(yaml text: String, source: String) throws -> StormConfig {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch let error as YamlError {
            throw ConfigError.badYAML(source, reason: describe(error))
        } catch {
            throw ConfigError.badYAML(source, reason: "\(error)")
        }
        guard let loaded else { return StormConfig() }
        guard case .map(let map) = try convert(loaded, source: source) else {
            throw ConfigError.badYAML(source, reason: "the top level must be a mapping of config keys to values")
        }
        return StormConfig(map)
    }

    /// Parses one `-c key=value` option; the value is read as YAML (so `2`, `true`, `[a, b]` keep their types),
    /// as Storm's command line does.
    public static func parseOption(_ option: String) throws -> (String, ConfigValue) {
        guard let eq = option.firstIndex(of: "="), eq != option.startIndex else {
            throw ConfigError.badOption(option, reason: "expected key=value")
        }
        let key = String(option[..<eq]).trimmingCharacters(in: .whitespaces)
        let raw = String(option[option.index(after: eq)...])
        if raw.isEmpty { return (key, .string("")) }
        do {
            guard let loaded = try Yams.load(yaml: raw) else { return (key, .null) }
            return (key, try convert(loaded, source: "-c \(key)"))
        } catch {
            return (key, .string(raw))
        }
    }

    static func convert(_ value: Any, source: String) throws -> ConfigValue {
        switch value {
        case let b as Bool: return .bool(b)
        case let i as Int: return .int(Int64(i))
        case let d as Double: return .double(d)
        case let s as String: return .string(s)
        case let l as [Any]: return .list(try l.map { try convert($0, source: source) })
        case let m as [AnyHashable: Any]:
            var out: [String: ConfigValue] = [:]
            for (k, v) in m {
                guard let key = k.base as? String else {
                    throw ConfigError.badYAML(source, reason: "key \(k.base) is not a string")
                }
                out[key] = try convert(v, source: source)
            }
            return .map(out)
        case is NSNull: return .null
        default: return .string("\(value)")
        }
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)\(context.map { " \($0.text)" } ?? "")"
        case .parser(let context, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)\(context.map { " \($0.text)" } ?? "")"
        case .composer(let context, let problem, let mark, _):
            return "line \(mark.line), column \(mark.column): \(problem)\(context.map { " \($0.text)" } ?? "")"
        default:
            return "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
    }
}

public enum ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    case missing(String)
    case wrongType(String, expected: String, got: ConfigValue)
    case invalid(String, reason: String)
    case unreadable(String, reason: String)
    case badYAML(String, reason: String)
    case badOption(String, reason: String)

    public var description: String {
        switch self {
        case .missing(let key): "config key '\(key)' is not set"
        case .wrongType(let key, let expected, let got): "config key '\(key)' must be \(expected), not \(got.display)"
        case .invalid(let key, let reason): "config key '\(key)' \(reason)"
        case .unreadable(let path, let reason): "cannot read config file \(path): \(reason)"
        case .badYAML(let path, let reason): "bad YAML in \(path): \(reason)"
        case .badOption(let option, let reason): "bad -c option '\(option)': \(reason)"
        }
    }
}
