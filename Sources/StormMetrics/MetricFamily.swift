/// One Prometheus metric family as it is exposed: a name, what it measures, and its samples.
public struct MetricFamily: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case counter, gauge, histogram, summary
    }

    public struct Sample: Sendable, Equatable {
        /// Added to the family's name: `_bucket`, `_sum`, `_count` for a histogram or summary, else empty.
        public var suffix: String
        public var labels: [Label]
        public var value: Double

        public init(suffix: String = "", labels: [Label], value: Double) {
            self.suffix = suffix
            self.labels = labels
            self.value = value
        }
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var samples: [Sample]
    /// The name Storm's reporters show (`__emit-count`, or what a component registered).
    public var stormName: String

    public init(name: String, help: String, kind: Kind, samples: [Sample] = [], stormName: String? = nil) {
        self.name = name
        self.help = help
        self.kind = kind
        self.samples = samples
        self.stormName = stormName ?? name
    }
}

/// A label's name and value.
public struct Label: Sendable, Equatable, Hashable {
    public let name: String
    public let value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension MetricFamily {
    /// The samples of a histogram with `bounds` (upper bounds of its buckets) and per-bucket `counts`.
    static func histogramSamples(
        labels: [Label], bounds: [Double], counts: [Int64], sum: Double, count: Int64
    ) -> [Sample] {
        var out: [Sample] = []
        var cumulative: Int64 = 0
        for (bound, n) in zip(bounds, counts) {
            cumulative += n
            out.append(
                Sample(suffix: "_bucket", labels: labels + [Label("le", number(bound))], value: Double(cumulative)))
        }
        out.append(Sample(suffix: "_bucket", labels: labels + [Label("le", "+Inf")], value: Double(count)))
        out.append(Sample(suffix: "_sum", labels: labels, value: sum))
        out.append(Sample(suffix: "_count", labels: labels, value: Double(count)))
        return out
    }

    /// A number as Prometheus' text format writes it: integers without a fraction, and +Inf, -Inf, NaN.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
