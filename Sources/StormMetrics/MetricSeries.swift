import CoreMetrics
import Synchronization

/// A counter's value: one atomic add per increment, so a component counting every tuple takes no lock.
final class CounterSeries: CounterHandler, Sendable {
    let value = Atomic<Int64>(0)

    func increment(by amount: Int64) { value.wrappingAdd(amount, ordering: .relaxed) }
    func reset() { value.store(0, ordering: .relaxed) }
}

/// A gauge's value (a swift-metrics Gauge or Meter): the last value set, a Double kept as its bits.
final class GaugeSeries: RecorderHandler, MeterHandler, Sendable {
    private let bits = Atomic<UInt64>(0)

    var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

    func record(_ value: Int64) { set(Double(value)) }
    func record(_ value: Double) { set(value) }
    func set(_ value: Int64) { set(Double(value)) }
    func set(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }
    func increment(by amount: Double) { add(amount) }
    func decrement(by amount: Double) { add(-amount) }

    private func add(_ amount: Double) {
        var old = bits.load(ordering: .relaxed)
        while true {
            let (exchanged, original) = bits.compareExchange(
                expected: old, desired: (Double(bitPattern: old) + amount).bitPattern, ordering: .relaxed)
            if exchanged { return }
            old = original
        }
    }
}

/// A histogram (a swift-metrics Recorder that aggregates, or a Timer in seconds): counts per bucket, their sum
/// and count, as Prometheus keeps them. A lock, not atomics: a sum and its buckets must move together.
final class HistogramSeries: RecorderHandler, TimerHandler, Sendable {
    /// Prometheus' default buckets: from 5 ms to 10 s for a timer in seconds.
    static let defaultBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct State {
        var counts: [Int64]
        var sum = 0.0
        var count: Int64 = 0
    }

    let bounds: [Double]
    /// A timer records nanoseconds; it is shown in seconds, as Prometheus names a duration.
    let scale: Double
    private let state: Mutex<State>

    init(bounds: [Double] = HistogramSeries.defaultBounds, scale: Double = 1) {
        self.bounds = bounds
        self.scale = scale
        state = Mutex(State(counts: [Int64](repeating: 0, count: bounds.count)))
    }

    func record(_ value: Int64) { observe(Double(value) * scale) }
    func record(_ value: Double) { observe(value * scale) }
    func recordNanoseconds(_ duration: Int64) { observe(Double(duration) * scale) }

    private func observe(_ value: Double) {
        guard !value.isNaN else { return }
        let bucket = bounds.firstIndex { value <= $0 }
        state.withLock {
            if let bucket { $0.counts[bucket] += 1 }
            $0.sum += value
            $0.count += 1
        }
    }

    var snapshot: State { state.withLock { $0 } }
}

/// Where a metric goes that could not be registered (its name was refused, or the series limit was reached): it
/// takes updates and keeps nothing, so a component that registered one anyway goes on running.
final class DroppedSeries: CounterHandler, RecorderHandler, TimerHandler, MeterHandler, Sendable {
    func increment(by: Int64) {}
    func reset() {}
    func record(_ value: Int64) {}
    func record(_ value: Double) {}
    func recordNanoseconds(_ duration: Int64) {}
    func set(_ value: Int64) {}
    func set(_ value: Double) {}
    func increment(by: Double) {}
    func decrement(by: Double) {}
}
