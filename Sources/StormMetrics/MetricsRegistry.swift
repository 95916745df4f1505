import CoreMetrics
import Synchronization

/// Why a metric could not be registered, in one line.
public struct MetricError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The metrics one process registers (a worker's components, a daemon's own), each series under a family named
/// for Prometheus and kept with the name it was registered under (Storm's reporters show that one). Bounded:
/// past `seriesLimit` series, a new one is refused, so a component that makes a metric per key cannot grow a
/// worker's memory or a scrape without end.
public final class MetricsRegistry: MetricsFactory, Sendable {
    public enum Instrument: String, Sendable {
        case counter, gauge, histogram, timer

        var kind: MetricFamily.Kind {
            switch self {
            case .counter: .counter
            case .gauge: .gauge
            case .histogram, .timer: .histogram
            }
        }
    }

    private struct Family {
        let registeredName: String
        let instrument: Instrument
        var labelSets: [[Label]] = []
        var handlers: [[Label]: any Sendable] = [:]
    }

    private struct State {
        var families: [String: Family] = [:]
        var order: [String] = []
        var seriesCount = 0
    }

    public let seriesLimit: Int
    /// The key that sets `seriesLimit`, named in the refusal.
    let limitKey: String
    private let state = Mutex(State())

    public init(seriesLimit: Int = 1000, limitKey: String = "topology.metrics.max.series") {
        self.seriesLimit = seriesLimit
        self.limitKey = limitKey
    }

    /// The series of `name` with `labels`, made if new. The same name and labels give the same series.
    func series(_ name: String, _ instrument: Instrument, labels: [Label]) throws(MetricError) -> any Sendable {
        let family = try MetricName.family(of: name, instrument)
        return try state.withLock { (state: inout State) throws(MetricError) -> any Sendable in
            if let existing = state.families[family] {
                guard existing.instrument == instrument else {
                    throw MetricError(
                        "metric '\(name)' is already registered here as a \(existing.instrument.rawValue)")
                }
                guard existing.registeredName == name else {
                    throw MetricError(
                        "metric '\(name)' would be exposed as '\(family)', which metric '\(existing.registeredName)' already is"
                    )
                }
                if let handler = existing.handlers[labels] { return handler }
            }
            guard state.seriesCount < seriesLimit else {
                throw MetricError(
                    "metric '\(name)' refused: this worker already has \(seriesLimit) series, the limit (\(limitKey))")
            }
            let handler: any Sendable =
                switch instrument {
                case .counter: CounterSeries()
                case .gauge: GaugeSeries()
                case .histogram: HistogramSeries()
                case .timer: HistogramSeries(scale: 1e-9)
                }
            if state.families[family] == nil {
                state.families[family] = Family(registeredName: name, instrument: instrument)
                state.order.append(family)
            }
            state.families[family]!.labelSets.append(labels)
            state.families[family]!.handlers[labels] = handler
            state.seriesCount += 1
            return handler
        }
    }

    public var seriesCount: Int { state.withLock { $0.seriesCount } }

    /// Every series as Prometheus families, in the order they were first registered.
    public func families() -> [MetricFamily] {
        let families = state.withLock { state in state.order.map { (name: $0, family: state.families[$0]!) } }
        return families.map { name, family in
            var out = MetricFamily(
                name: name, help: "Registered as '\(family.registeredName)'.", kind: family.instrument.kind,
                stormName: family.registeredName)
            for labels in family.labelSets {
                switch family.handlers[labels] {
                case let counter as CounterSeries:
                    out.samples.append(.init(labels: labels, value: Double(counter.value.load(ordering: .relaxed))))
                case let gauge as GaugeSeries:
                    out.samples.append(.init(labels: labels, value: gauge.value))
                case let histogram as HistogramSeries:
                    let s = histogram.snapshot
                    out.samples += MetricFamily.histogramSamples(
                        labels: labels, bounds: histogram.bounds, counts: s.counts, sum: s.sum, count: s.count)
                default: break
                }
            }
            return out
        }
    }

    // MARK: MetricsFactory, for code that makes swift-metrics objects with this registry as their factory.
    // A name or label set it refuses gets a series that keeps nothing (the factory cannot throw).

    private func made(_ label: String, _ dimensions: [(String, String)], _ instrument: Instrument) -> (any Sendable)? {
        try? series(label, instrument, labels: dimensions.map { Label($0.0, $0.1) })
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        made(label, dimensions, .counter) as? CounterSeries ?? DroppedSeries()
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate { return made(label, dimensions, .histogram) as? HistogramSeries ?? DroppedSeries() }
        return made(label, dimensions, .gauge) as? GaugeSeries ?? DroppedSeries()
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        made(label, dimensions, .gauge) as? GaugeSeries ?? DroppedSeries()
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        made(label, dimensions, .timer) as? HistogramSeries ?? DroppedSeries()
    }

    // Series live as long as the registry: a worker's metrics last as long as the worker, as Storm's do.
    public func destroyCounter(_ handler: any CounterHandler) {}
    public func destroyRecorder(_ handler: any RecorderHandler) {}
    public func destroyMeter(_ handler: any MeterHandler) {}
    public func destroyTimer(_ handler: any TimerHandler) {}
}
