import StormThrift
import Synchronization

/// The share of an executor's emitted tuples that `debug` sends to the event logger, in percent: set by the
/// worker from the topology's StormBase, read by the executor's collectors at each emit (one relaxed load).
final class DebugSampling: Sendable {
    private let bits = Atomic<UInt64>(0)

    var percent: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }

    func set(_ percent: Double) { bits.store(percent.bitPattern, ordering: .relaxed) }
}

/// Chooses which tuples are sampled: a splitmix64 stream per collector, so sampling takes no lock and costs a few
/// instructions.
struct SampleChooser {
    private var state = UInt64.random(in: 0...UInt64.max)

    /// A number in [0, 100).
    mutating func nextPercent() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) * 100
    }
}

extension TopologyRuntime {
    /// Applies the topology's `component_debug` (Storm's `debug`): each executor samples at its component's
    /// percentage if that entry is enabled, else at the topology's (the entry keyed by the topology id), else not.
    public func applyDebug(_ options: [String: DebugOptions]) {
        for executor in executors {
            let entry = options[executor.componentId] ?? options[topologyId]
            executor.sampling.set(entry?.enable == true ? min(max(entry?.samplingpct ?? 0, 0), 100) : 0)
        }
    }

    /// Each executor's component and sampling percentage now.
    public var debugSampling: [String: Double] {
        Dictionary(executors.map { ($0.componentId, $0.sampling.percent) }, uniquingKeysWith: max)
    }
}
