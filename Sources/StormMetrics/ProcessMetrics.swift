#if canImport(Glibc)
import Glibc
#endif

/// This process as Prometheus' client libraries describe one (`process_*`), from /proc, with a daemon's or
/// worker's uptime: what an operator watches for a leak or a runaway thread count.
public struct ProcessMetrics: Sendable {
    let started: ContinuousClock.Instant
    let startedEpochSeconds: Double
    /// What every sample carries: a worker's topology, host and port, or a daemon's name and host.
    public let labels: [Label]

    public init(labels: [Label]) {
        started = .now
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        startedEpochSeconds = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        self.labels = labels
    }

    public func families() -> [MetricFamily] {
        let uptime = ContinuousClock.now - started
        var out = [
            MetricFamily(
                name: "storm_uptime_seconds", help: "Seconds since this daemon or worker started.", kind: .gauge,
                samples: [.init(labels: labels, value: Double(uptime.components.seconds))], stormName: "uptimeSecs"),
            MetricFamily(
                name: "process_start_time_seconds", help: "Start time of the process since the Unix epoch in seconds.",
                kind: .gauge, samples: [.init(labels: labels, value: startedEpochSeconds.rounded())],
                stormName: "startTimeSecs"),
        ]
        if let pages = Self.firstNumbers(of: "/proc/self/statm"), pages.count >= 2 {
            out.append(
                MetricFamily(
                    name: "process_resident_memory_bytes", help: "Resident memory size in bytes.", kind: .gauge,
                    samples: [.init(labels: labels, value: Double(pages[1]) * Double(sysconf(Int32(_SC_PAGESIZE))))],
                    stormName: "memory.rss"))
        }
        if let threads = Self.statusField("Threads:") {
            out.append(
                MetricFamily(
                    name: "process_threads", help: "Threads of the process.", kind: .gauge,
                    samples: [.init(labels: labels, value: Double(threads))], stormName: "threads.count"))
        }
        out.append(
            MetricFamily(
                name: "process_open_fds", help: "Number of open file descriptors.", kind: .gauge,
                samples: [.init(labels: labels, value: Double(Self.openDescriptors()))], stormName: "fds.open"))
        return out
    }

    static func read(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var out = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            out += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return out
    }

    private static func firstNumbers(of path: String) -> [Int]? {
        read(path).map { $0.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) } }
    }

    private static func statusField(_ name: String) -> Int? {
        guard let status = read("/proc/self/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name) {
            return Int(
                line.dropFirst(name.count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }).prefix { $0.isNumber })
        }
        return nil
    }

    private static func openDescriptors() -> Int {
        guard let dir = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return count - 1  // the descriptor opendir holds
    }
}
