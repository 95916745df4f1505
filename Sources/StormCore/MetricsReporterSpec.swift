/// One entry of Storm's `topology.metrics.reporters`: which reporter, how often, which metrics. Storm's Console
/// and Csv reporters are the ones offered; Graphite and JMX are not.
public struct MetricsReporterSpec: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case console = "org.apache.storm.metrics2.reporters.ConsoleStormReporter"
        case csv = "org.apache.storm.metrics2.reporters.CsvStormReporter"
    }

    static let regexFilter = "org.apache.storm.metrics2.filters.RegexFilter"

    public let kind: Kind
    public let periodSeconds: Double
    /// A regular expression a metric's full name must match somewhere to be reported (Storm's RegexFilter).
    public let filter: String?
    /// The Csv reporter's folder: `csv.log.dir`, else `<storm.local.dir>/csvmetrics` as Storm's.
    public let csvDirectory: String

    static let units: [String: Double] = [
        "NANOSECONDS": 1e-9, "MICROSECONDS": 1e-6, "MILLISECONDS": 1e-3, "SECONDS": 1, "MINUTES": 60, "HOURS": 3600,
        "DAYS": 86400,
    ]

    /// The reporters `conf` asks for; an entry Storm would refuse, or one naming a reporter not offered here, is
    /// refused in one line naming its place in the list.
    public static func parse(_ conf: StormConfig) throws(ConfigError) -> [MetricsReporterSpec] {
        let key = ConfigKey.topologyMetricsReporters
        guard let value = conf[key], !value.isNull else { return [] }
        guard case .list(let entries) = value else { throw .wrongType(key, expected: "a list of maps", got: value) }
        var out: [MetricsReporterSpec] = []
        for (i, entry) in entries.enumerated() {
            func invalid(_ reason: String) -> ConfigError { .invalid(key, reason: "entry \(i + 1): \(reason)") }
            guard case .map(let map) = entry else { throw invalid("must be a map, not \(entry.display)") }
            guard let name = map["class"]?.stringValue else { throw invalid("has no 'class'") }
            guard let kind = Kind(rawValue: name) else {
                let offered = Kind.allCases.map(\.rawValue).joined(separator: " or ")
                throw invalid("reporter class '\(name)' is not offered here; use \(offered)")
            }
            let period = map["report.period"].flatMap { $0.isNull ? nil : $0 } ?? .int(10)
            guard let amount = period.doubleValue, amount > 0 else {
                throw invalid("'report.period' must be a positive number, not \(period.display)")
            }
            let unitName = map["report.period.units"]?.stringValue ?? "SECONDS"
            guard let unit = units[unitName.uppercased()] else {
                throw invalid("'report.period.units' must be one of \(units.keys.sorted().joined(separator: ", "))")
            }
            var filter: String?
            if let f = map["filter"], !f.isNull {
                guard case .map(let fm) = f, fm["class"]?.stringValue == regexFilter,
                    let expression = fm["expression"]?.stringValue
                else {
                    throw invalid("'filter' must be a map with class \(regexFilter) and an 'expression'")
                }
                guard (try? Regex(expression)) != nil else {
                    throw invalid("the filter's expression '\(expression)' is not a regular expression")
                }
                filter = expression
            }
            let local = conf[ConfigKey.localDir]?.stringValue ?? "storm-local"
            out.append(
                MetricsReporterSpec(
                    kind: kind, periodSeconds: max(amount * unit, 1), filter: filter,
                    csvDirectory: map["csv.log.dir"]?.stringValue ?? local + "/csvmetrics"))
        }
        return out
    }
}
