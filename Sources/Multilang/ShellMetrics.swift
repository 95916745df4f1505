import CoreMetrics
import StormMetrics
import Tuples

/// A shell component's `metrics` messages (storm.py's `rpcMetrics(name, params)`) in its task's metrics, as
/// Storm's ShellBolt hands them to the metric registered under the name. Nothing registers for a child here, so a
/// name becomes a metric the first time it is sent, by its params: none or a whole number makes a counter
/// increased by it (Storm's CountShellMetric), any other number a histogram of the values (Storm's
/// ReducedShellMetric with a MeanReducer: the histogram's sum over its count is that mean). Confined to the
/// component's thread.
final class ShellMetrics {
    private let task: TaskMetrics
    private var counters: [String: Counter] = [:]
    private var histograms: [String: Recorder] = [:]
    /// Names refused once: refused again silently, so a child sending a bad metric per tuple is reported once.
    private var refused: Set<String> = []

    init(_ task: TaskMetrics) { self.task = task }

    /// Records `params` under `name`; a refusal is returned once per name.
    func record(name: String, params: Value) -> MetricError? {
        guard !refused.contains(name) else { return nil }
        do throws(MetricError) {
            switch params {
            case .null:
                try counter(name).increment()
            case .int(let n) where n >= 0:
                try counter(name).increment(by: n)
            case .double(let x) where x.isFinite:
                try histogram(name).record(x)
            default:
                throw MetricError(
                    "metrics '\(name)': params must be nothing, a count of 0 or more, or a number to average, not \(params)"
                )
            }
            return nil
        } catch {
            refused.insert(name)
            return error
        }
    }

    private func counter(_ name: String) throws(MetricError) -> Counter {
        if let counter = counters[name] { return counter }
        let counter = try task.counter(name)
        counters[name] = counter
        return counter
    }

    private func histogram(_ name: String) throws(MetricError) -> Recorder {
        if let histogram = histograms[name] { return histogram }
        let histogram = try task.histogram(name)
        histograms[name] = histogram
        return histogram
    }
}
