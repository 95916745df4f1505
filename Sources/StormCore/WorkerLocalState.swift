import Foundation
import StormThrift

/// What a supervisor and its workers share on local disk, under `storm.local.dir/workers/<worker id>/`:
/// - `launch`: the slot the supervisor started the worker for (LSWorkerHeartbeat with the launch time), written
///   before the process starts, so a restarted supervisor knows every worker it may have left behind;
/// - `pid`: the worker's process id, written by the worker as it starts;
/// - `heartbeat`: the worker's LSWorkerHeartbeat, rewritten every `worker.heartbeat.frequency.secs`;
/// - `conf.json`: the supervisor's configuration, which the worker runs with;
/// - `metrics.prom`: the worker's metrics in Prometheus' text format, rewritten every `worker.metrics.export.secs`,
///   which its supervisor's `/metrics` serves.
public struct WorkerLocalState: Sendable {
    public let id: String
    public let directory: URL

    public init(localDir: String, workerId: String) {
        id = workerId
        directory = Self.root(localDir).appendingPathComponent(workerId, isDirectory: true)
    }

    public static func root(_ localDir: String) -> URL {
        URL(fileURLWithPath: localDir).appendingPathComponent("workers", isDirectory: true)
    }

    var launchFile: URL { directory.appendingPathComponent("launch") }
    var pidFile: URL { directory.appendingPathComponent("pid") }
    var heartbeatFile: URL { directory.appendingPathComponent("heartbeat") }
    public var confFile: URL { directory.appendingPathComponent("conf.json") }
    var metricsFile: URL { directory.appendingPathComponent("metrics.prom") }
    /// Where the worker's shell components write their pid files (Storm's pidDir).
    public var pidsDirectory: URL { directory.appendingPathComponent("pids", isDirectory: true) }

    /// The pids of the worker's shell components.
    public func shellPids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: pidsDirectory.path)) ?? []).compactMap { Int32($0) }
    }

    public func create() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    public func remove() { try? FileManager.default.removeItem(at: directory) }

    public func writeLaunch(_ record: LSWorkerHeartbeat) throws { try write(record, to: launchFile) }
    public func launch() -> LSWorkerHeartbeat? { read(LSWorkerHeartbeat.self, from: launchFile) }

    public func writeHeartbeat(_ beat: LSWorkerHeartbeat) throws { try write(beat, to: heartbeatFile) }
    public func heartbeat() -> LSWorkerHeartbeat? { read(LSWorkerHeartbeat.self, from: heartbeatFile) }

    public func writePid(_ pid: Int32) throws { try Data("\(pid)\n".utf8).write(to: pidFile, options: .atomic) }
    public func pid() -> Int32? {
        (try? String(contentsOf: pidFile, encoding: .utf8)).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    public func writeMetrics(_ text: String) throws { try Data(text.utf8).write(to: metricsFile, options: .atomic) }
    public func metrics() -> String? { try? String(contentsOf: metricsFile, encoding: .utf8) }

    public func writeConf(_ conf: StormConfig) throws {
        try Data(JSON.encode(.map(conf.values)).utf8).write(to: confFile, options: .atomic)
    }

    public func conf() throws -> StormConfig {
        StormConfig(try JSON.decodeObject(String(contentsOf: confFile, encoding: .utf8)))
    }

    /// Worker ids with a folder here.
    public static func all(_ localDir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root(localDir).path)) ?? []).filter {
            !$0.hasPrefix(".")
        }
    }

    private func write<T: ThriftStruct>(_ value: T, to file: URL) throws {
        try Data(ThriftSerialization.serialize(value)).write(to: file, options: .atomic)
    }

    private func read<T: ThriftStruct>(_ type: T.Type, from file: URL) -> T? {
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? ThriftSerialization.deserialize(type, from: [UInt8](data))
    }
}

/// Where a supervisor keeps a topology's files for its workers: `storm.local.dir/supervisor/stormdist/<id>/`.
public enum StormDist {
    public static func root(localDir: String) -> URL {
        URL(fileURLWithPath: localDir).appendingPathComponent("supervisor/stormdist", isDirectory: true)
    }

    public static func directory(localDir: String, topologyId: String) -> URL {
        root(localDir: localDir).appendingPathComponent(topologyId, isDirectory: true)
    }

    /// The conf `topologyId` was submitted with, from its downloaded files.
    public static func conf(localDir: String, topologyId: String) throws -> [String: ConfigValue] {
        let file = directory(localDir: localDir, topologyId: topologyId).appendingPathComponent("stormconf.ser")
        return try JSON.decodeObject(String(contentsOf: file, encoding: .utf8))
    }
}
