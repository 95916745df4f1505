#if canImport(Glibc)
import Glibc
#endif

/// A metric's value as Storm's reporters show it, under Storm's long name
/// (`storm.topology.<topology id>.<host>.<component>.<task>.<port>-<name>`).
public struct ReportedMetric: Sendable, Equatable {
    public enum Value: Sendable, Equatable {
        case counter(Double)
        case gauge(Double)
        /// A histogram or a latency: how many values, and their sum (Prometheus keeps no more than that and
        /// buckets, so the reporters show the count, the sum and the mean).
        case histogram(count: Double, sum: Double)
    }
    public let name: String
    public let value: Value

    /// `families` under Storm's names, sorted by name. A series by stream gets the stream after the name, by input
    /// `component:stream`, as Storm's `__emit-count-default` and `__ack-count-split:default`; a worker's own
    /// metrics are its `__system` component's, task -1, as Storm's.
    public static func readings(_ families: [MetricFamily]) -> [ReportedMetric] {
        var out: [ReportedMetric] = []
        for family in families {
            var histograms: [String: (count: Double, sum: Double)] = [:]
            for sample in family.samples {
                let name = longName(family.stormName, sample.labels)
                switch (family.kind, sample.suffix) {
                case (.counter, _): out.append(ReportedMetric(name: name, value: .counter(sample.value)))
                case (.gauge, _): out.append(ReportedMetric(name: name, value: .gauge(sample.value)))
                case (_, "_count"): histograms[name, default: (0, 0)].count = sample.value
                case (_, "_sum"): histograms[name, default: (0, 0)].sum = sample.value
                default: break
                }
            }
            for (name, h) in histograms {
                out.append(ReportedMetric(name: name, value: .histogram(count: h.count, sum: h.sum)))
            }
        }
        return out.sorted { $0.name < $1.name }
    }

    static func longName(_ stormName: String, _ labels: [Label]) -> String {
        var byName: [String: String] = [:]
        for label in labels { byName[label.name] = label.value }
        func part(_ key: String, _ fallback: String) -> String {
            (byName[key] ?? fallback).map { $0 == "." ? "_" : $0 }.reduce(into: "") { $0.append($1) }
        }
        var name =
            "storm.topology.\(part("topology_id", "unknown")).\(part("host", "unknown")).\(part("component", "__system"))"
            + ".\(part("task", "-1")).\(part("port", "-1"))-\(stormName)"
        if let stream = byName["stream"] {
            name += "-" + stream
        } else if let component = byName["source_component"], let stream = byName["source_stream"] {
            name += "-\(component):\(stream)"
        }
        return name
    }
}

/// Storm's ConsoleStormReporter: every period, the metrics in Dropwizard's console layout on standard output
/// (a worker's goes to its log).
public struct ConsoleReport {
    public static func render(_ metrics: [ReportedMetric], at epochSeconds: Int) -> String {
        var out = "\(timestamp(epochSeconds)) " + String(repeating: "=", count: 60) + "\n"
        let sections: [(String, (ReportedMetric.Value) -> [(String, Double)]?)] = [
            ("Gauges", { if case .gauge(let v) = $0 { [("value", v)] } else { nil } }),
            ("Counters", { if case .counter(let v) = $0 { [("count", v)] } else { nil } }),
            (
                "Histograms",
                {
                    if case .histogram(let n, let sum) = $0 {
                        [("count", n), ("sum", sum), ("mean", n > 0 ? sum / n : 0)]
                    } else {
                        nil
                    }
                }
            ),
        ]
        for (title, lines) in sections {
            let entries = metrics.compactMap { m in lines(m.value).map { (m.name, $0) } }
            guard !entries.isEmpty else { continue }
            let head = "-- \(title) "
            out += "\n" + head + String(repeating: "-", count: max(0, 80 - head.count)) + "\n"
            for (name, values) in entries {
                out += name + "\n"
                for (label, value) in values {
                    out +=
                        String(repeating: " ", count: max(0, 18 - label.count)) + "\(label) = "
                        + MetricFamily.number(value) + "\n"
                }
            }
        }
        return out + "\n"
    }

    static func timestamp(_ epochSeconds: Int) -> String {
        var t = time_t(epochSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S UTC", &parts)
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Storm's CsvStormReporter: one file per metric, `<name>.csv` in the reporter's folder, a row appended each
/// period: `t,count` for a counter, `t,value` for a gauge, `t,count,sum,mean` for a histogram (Dropwizard's
/// quantile columns need the samples Prometheus' buckets do not keep).
public struct CsvReport {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func append(_ metrics: [ReportedMetric], at epochSeconds: Int) throws(MetricError) {
        guard Self.makeDirectories(directory) else {
            throw MetricError(
                "cannot create the csv reporter's folder \(directory): \(String(cString: strerror(errno)))")
        }
        for metric in metrics {
            let (header, row): (String, String) =
                switch metric.value {
                case .counter(let v): ("t,count", MetricFamily.number(v))
                case .gauge(let v): ("t,value", MetricFamily.number(v))
                case .histogram(let n, let sum):
                    ("t,count,sum,mean", "\(MetricFamily.number(n)),\(sum),\(n > 0 ? sum / n : 0)")
                }
            // A name holds no '/': a stream or component id with one must not reach another folder.
            let path =
                directory + "/" + metric.name.map { $0 == "/" ? "_" : $0 }.reduce(into: "") { $0.append($1) }
                + ".csv"
            guard let file = fopen(path, "a") else {
                throw MetricError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            fseek(file, 0, SEEK_END)
            if ftell(file) == 0 { fputs(header + "\n", file) }
            fputs("\(epochSeconds),\(row)\n", file)
            fclose(file)
        }
    }

    private static func makeDirectories(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }
}
