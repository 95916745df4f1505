import Foundation
import StormCore
import StormThrift
import Tuples

#if canImport(Glibc)
import Glibc
#endif

/// Storm's EventLoggerBolt with its FileBasedEventLogger: the tuples `debug` samples, one line each in the
/// worker's `events.log` beside its `worker.log`, as Storm writes them: `<date>,<component>,<task>,<message id>,
/// <values>`. Past `topology.eventlogger.rotation.size.mb` the file becomes `events.log.1` (the previous one
/// replaced) and a new one starts.
public final class EventLoggerBolt: Bolt {
    public static let className = TopologyPlan.eventLoggerClass
    private var fd: Int32 = -1
    private var path = ""
    private var written = 0
    private var rotationBytes = 100 * 1_048_576
    private var collector: (any OutputCollector)?
    private let dates = DateFormatter()

    public init() {
        // Java's Date.toString, in UTC: "Tue Dec 01 13:45:00 UTC 2026".
        dates.locale = Locale(identifier: "en_US_POSIX")
        dates.timeZone = TimeZone(identifier: "UTC")
        dates.dateFormat = "EEE MMM dd HH:mm:ss 'UTC' yyyy"
    }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}

    /// Where a worker's sampled tuples go: `<storm.log.dir>/workers-artifacts/<topology>/<port>/events.log`
    /// (`local` for the port in local mode).
    public static func path(conf: StormConfig, topologyId: String, port: Int?) -> String {
        conf.logDirectory + "/workers-artifacts/\(topologyId)/\(port.map(String.init) ?? "local")/events.log"
    }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        rotationBytes = max(1, context.conf.intOrDefault(ConfigKey.topologyEventloggerRotationSizeMb)) * 1_048_576
        path = Self.path(conf: context.conf, topologyId: context.topologyId, port: context.thisWorkerPort)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try open()
    }

    private func open() throws {
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ComponentRegistry.Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        written = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
    }

    public func execute(_ tuple: Tuple) {
        defer { collector?.ack(tuple) }
        guard !tuple.isTick, tuple.values.count >= 4, fd >= 0 else { return }
        let millis = tuple.values[2].intValue ?? 0
        let messageId = tuple.values[1] == .null ? "" : tuple.values[1].description
        let line = Array(
            "\(dates.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))),\(tuple.sourceComponent),\(tuple.sourceTask),\(messageId),\(tuple.values[3])\n"
                .utf8)
        if written + line.count > rotationBytes && written > 0 {
            close(fd)
            rename(path, path + ".1")
            try? open()
            guard fd >= 0 else { return }
        }
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        written += line.count
    }

    public func cleanup() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}
