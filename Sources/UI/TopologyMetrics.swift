import StormCore
import StormThrift

/// `/topology/<id>/metrics`: each component's counts and latencies in one window, by stream, summed over its
/// executors as Storm's UI sums them (latencies weighted by the counts they average over).
struct TopologyMetrics {
    let window: String
    let includeSys: Bool

    private struct Sums {
        var counts: [String: [String: Int64]] = [:]
        /// Weighted sum and weight of each latency, by key, by stream.
        var latencies: [String: [String: (sum: Double, weight: Int64)]] = [:]

        mutating func add(_ metric: String, _ stream: String, _ n: Int64) {
            counts[metric, default: [:]][stream, default: 0] += n
        }

        mutating func add(_ metric: String, _ stream: String, average: Double, weight: Int64) {
            var entry = latencies[metric, default: [:]][stream] ?? (0, 0)
            entry.sum += average * Double(weight)
            entry.weight += weight
            latencies[metric, default: [:]][stream] = entry
        }
    }

    func json(_ info: TopologyInfo) -> ConfigValue {
        var spouts: [String: Sums] = [:]
        var bolts: [String: Sums] = [:]
        for executor in info.executors where includeSys || !executor.componentId.hasPrefix("__") {
            guard let stats = executor.stats else { continue }
            switch stats.specific {
            case .spout(let spout):
                var sums = spouts[executor.componentId] ?? Sums()
                addOutput(stats, to: &sums)
                for (stream, n) in spout.acked[window] ?? [:] where keep(stream) {
                    sums.add("acked", stream, n)
                    if let avg = spout.completeMsAvg[window]?[stream] {
                        sums.add("complete_ms_avg", stream, average: avg, weight: n)
                    }
                }
                for (stream, n) in spout.failed[window] ?? [:] where keep(stream) { sums.add("failed", stream, n) }
                spouts[executor.componentId] = sums
            case .bolt(let bolt):
                var sums = bolts[executor.componentId] ?? Sums()
                addOutput(stats, to: &sums)
                for (input, n) in bolt.acked[window] ?? [:] where keep(input) {
                    sums.add("acked", Self.key(input), n)
                    if let avg = bolt.processMsAvg[window]?[input] {
                        sums.add("process_ms_avg", Self.key(input), average: avg, weight: n)
                    }
                }
                for (input, n) in bolt.failed[window] ?? [:] where keep(input) {
                    sums.add("failed", Self.key(input), n)
                }
                for (input, n) in bolt.executed[window] ?? [:] where keep(input) {
                    sums.add("executed", Self.key(input), n)
                    if let avg = bolt.executeMsAvg[window]?[input] {
                        sums.add("executed_ms_avg", Self.key(input), average: avg, weight: n)
                    }
                }
                bolts[executor.componentId] = sums
            }
        }
        return .map([
            "window": .string(window),
            "window-hint": .string(Formatting.windowHint(window)),
            "spouts": .list(
                spouts.sorted { $0.key < $1.key }.map {
                    component(
                        $0.key, $0.value, counts: ["emitted", "transferred", "acked", "failed"],
                        latencies: ["complete_ms_avg"])
                }),
            "bolts": .list(
                bolts.sorted { $0.key < $1.key }.map {
                    component(
                        $0.key, $0.value, counts: ["emitted", "transferred", "acked", "failed", "executed"],
                        latencies: ["process_ms_avg", "executed_ms_avg"])
                }),
        ])
    }

    private func addOutput(_ stats: ExecutorStats, to sums: inout Sums) {
        for (stream, n) in stats.emitted[window] ?? [:] where keep(stream) { sums.add("emitted", stream, n) }
        for (stream, n) in stats.transferred[window] ?? [:] where keep(stream) { sums.add("transferred", stream, n) }
    }

    private func keep(_ stream: String) -> Bool { includeSys || !stream.hasPrefix("__") }
    private func keep(_ input: GlobalStreamId) -> Bool { keep(input.streamId) && keep(input.componentId) }

    /// Input streams are keyed "component\u{0}stream" while summing, and split again for the JSON.
    private static func key(_ input: GlobalStreamId) -> String { input.componentId + "\u{0}" + input.streamId }

    private func component(_ id: String, _ sums: Sums, counts: [String], latencies: [String]) -> ConfigValue {
        var out: [String: ConfigValue] = ["id": .string(id)]
        for metric in counts {
            out[metric] = .list(
                (sums.counts[metric] ?? [:]).sorted { $0.key < $1.key }.map { stream, n in
                    .map(Self.streamFields(stream).merging(["value": .int(n)]) { $1 })
                })
        }
        for metric in latencies {
            out[metric] = .list(
                (sums.latencies[metric] ?? [:]).sorted { $0.key < $1.key }.map { stream, entry in
                    let average = entry.weight > 0 ? entry.sum / Double(entry.weight) : 0
                    return .map(Self.streamFields(stream).merging(["value": Formatting.decimal(average)]) { $1 })
                })
        }
        return .map(out)
    }

    private static func streamFields(_ key: String) -> [String: ConfigValue] {
        let parts = key.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            return ["component_id": .string(String(parts[0])), "stream_id": .string(String(parts[1]))]
        }
        return ["stream_id": .string(key)]
    }
}
