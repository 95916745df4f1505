import CoreMetrics

/// What a component registers its metrics through (its context's `metrics`), as Storm's
/// `TopologyContext.registerCounter` and kin: each metric is a swift-metrics object, exposed with the task's
/// topology, component, task, host and port. A name is refused in one line (see `MetricError`) when it is not
/// one Prometheus can carry, is Storm's own, is another kind already, or would pass the worker's series limit.
public struct TaskMetrics: Sendable {
    public let registry: MetricsRegistry
    public let labels: [Label]

    public init(registry: MetricsRegistry, labels: [Label]) {
        self.registry = registry
        self.labels = labels
    }

    /// Metrics kept in a registry of their own, read by no one: for a context made outside a running topology.
    public static func unexposed() -> TaskMetrics { TaskMetrics(registry: MetricsRegistry(), labels: []) }

    public func counter(_ name: String) throws(MetricError) -> Counter {
        let handler = try registry.series(name, .counter, labels: labels) as! CounterSeries
        return Counter(label: name, dimensions: dimensions, handler: handler, factory: registry)
    }

    /// A value set from time to time (Storm's Gauge).
    public func gauge(_ name: String) throws(MetricError) -> Gauge {
        let handler = try registry.series(name, .gauge, labels: labels) as! GaugeSeries
        return Gauge(label: name, dimensions: dimensions, aggregate: false, handler: handler, factory: registry)
    }

    /// A value moved up and down (swift-metrics' Meter), exposed as a gauge.
    public func meter(_ name: String) throws(MetricError) -> Meter {
        let handler = try registry.series(name, .gauge, labels: labels) as! GaugeSeries
        return Meter(label: name, dimensions: dimensions, handler: handler, factory: registry)
    }

    /// Values whose spread matters (Storm's Histogram): Prometheus buckets from 0.005 to 10, their sum and count.
    public func histogram(_ name: String) throws(MetricError) -> Recorder {
        let handler = try registry.series(name, .histogram, labels: labels) as! HistogramSeries
        return Recorder(label: name, dimensions: dimensions, aggregate: true, handler: handler, factory: registry)
    }

    /// Durations (Storm's Timer), exposed in seconds.
    public func timer(_ name: String) throws(MetricError) -> CoreMetrics.Timer {
        let handler = try registry.series(name, .timer, labels: labels) as! HistogramSeries
        return CoreMetrics.Timer(label: name, dimensions: dimensions, handler: handler, factory: registry)
    }

    private var dimensions: [(String, String)] { labels.map { ($0.name, $0.value) } }
}
