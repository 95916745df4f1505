/// The names components give their metrics, and the Prometheus family each becomes.
enum MetricName {
    static let maxLength = 128

    /// The family a metric registered as `name` is exposed under: its characters outside Prometheus' set turned
    /// to `_`, a counter ending in `_total` and a timer in `_seconds`. Storm's own names (`__` first) are the
    /// built-in metrics' alone.
    static func family(of name: String, _ instrument: MetricsRegistry.Instrument) throws(MetricError) -> String {
        guard !name.isEmpty, name.utf8.count <= maxLength else {
            throw MetricError("metric name '\(name.prefix(40))' must be 1 to \(maxLength) characters")
        }
        guard !name.hasPrefix("__") else {
            throw MetricError("metric name '\(name)' starts with '__', which Storm keeps for its built-in metrics")
        }
        var family = ""
        for (position, c) in name.enumerated() {
            switch c {
            case "a"..."z", "A"..."Z", "0"..."9", "_", ":": family.append(c)
            case ".", "-", "/": family.append("_")
            default:
                throw MetricError(
                    "metric name '\(name)' has '\(c)' at position \(position + 1); use letters, digits, '_', '.', ':', '-' or '/'"
                )
            }
        }
        if family.first!.isNumber { family = "_" + family }
        switch instrument {
        case .counter where !family.hasSuffix("_total"): family += "_total"
        case .timer where !family.hasSuffix("_seconds"): family += "_seconds"
        default: break
        }
        return family
    }
}
