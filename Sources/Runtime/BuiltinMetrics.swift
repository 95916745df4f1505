import StormCore
import StormMetrics
import Tuples

/// Where a runtime's tasks register their metrics, and the labels all of its metrics carry (topology, host,
/// port).
public struct MetricsScope: Sendable {
    public let registry: MetricsRegistry
    public let labels: [Label]

    public init(registry: MetricsRegistry, labels: [Label]) {
        self.registry = registry
        self.labels = labels
    }

    /// `topology` (its name) and `topology_id`: a dashboard follows a topology by name across submissions.
    public static func topologyLabels(topologyId: String, conf: StormConfig) -> [Label] {
        let name = conf[ConfigKey.topologyName]?.stringValue ?? topologyId
        return [Label("topology", name), Label("topology_id", topologyId)]
    }
}

extension TopologyRuntime {
    /// Storm's built-in task metrics (`__emit-count`, `__ack-count`, ...) as Prometheus families, read from the
    /// counts the executors keep anyway for the UI's stats: exposing them costs the tuple path nothing. Each
    /// executor's series are labelled with its component and `task` (its task id, or `first-last` for an
    /// executor of several tasks); counts by stream carry `stream`, and a bolt's by input `source_component`
    /// and `source_stream`.
    public func builtinMetricFamilies() -> [MetricFamily] {
        func family(_ name: String, _ storm: String, _ what: String, _ kind: MetricFamily.Kind) -> MetricFamily {
            MetricFamily(name: name, help: "\(what) (Storm's \(storm)).", kind: kind, stormName: storm)
        }
        var emitted = family("storm_emit_count_total", "__emit-count", "Tuples emitted, by stream", .counter)
        var transferred = family(
            "storm_transfer_count_total", "__transfer-count", "Tuples sent to tasks, by stream", .counter)
        var executed = family(
            "storm_execute_count_total", "__execute-count", "Tuples a bolt executed, by input", .counter)
        var acked = family(
            "storm_ack_count_total", "__ack-count", "Tuples a bolt acked by input, or trees a spout saw complete",
            .counter)
        var failed = family(
            "storm_fail_count_total", "__fail-count", "Tuples a bolt failed by input, or trees of a spout that failed",
            .counter)
        var executeLatency = family(
            "storm_execute_latency_seconds", "__execute-latency", "Time in execute of sampled tuples", .summary)
        var processLatency = family(
            "storm_process_latency_seconds", "__process-latency", "Time from execute to ack of sampled tuples",
            .summary)
        var completeLatency = family(
            "storm_complete_latency_seconds", "__complete-latency", "Time from a spout's emit to its tree's completion",
            .summary)
        var queue = family(
            "storm_receive_queue_batches", "__receive.population", "Batches of tuples waiting for the executor",
            .gauge)
        var capacity = family(
            "storm_receive_queue_capacity_batches", "__receive.capacity",
            "Batches the executor's queue holds before its upstream waits", .gauge)
        var congested = family(
            "storm_backpressure", "backpressure", "1 while the executor asks other workers to stop sending to it",
            .gauge)
        var pending = family(
            "storm_spout_pending_trees", "__pending", "Trees a spout emitted that are not complete or failed yet",
            .gauge)
        let all = streams.all
        for executor in executors {
            let first = executor.tasks.first!.taskId
            let last = executor.tasks.last!.taskId
            let base =
                metricsScope.labels + [
                    Label("component", executor.componentId),
                    Label("task", first == last ? "\(first)" : "\(first)-\(last)"),
                ]
            let counts = executor.counts.withLock { $0 }
            func byStream(_ values: [Int64], into target: inout MetricFamily) {
                for (i, n) in values.enumerated() where n != 0 && i < all.count {
                    target.samples.append(.init(labels: base + [Label("stream", all[i].stream)], value: Double(n)))
                }
            }
            func byInput(_ values: [Int64], into target: inout MetricFamily) {
                for (i, n) in values.enumerated() where n != 0 && i < all.count {
                    target.samples.append(.init(labels: inputLabels(base, all[i]), value: Double(n)))
                }
            }
            func latency(_ nanos: [UInt64], _ samples: [Int64], input: Bool, into target: inout MetricFamily) {
                for (i, n) in samples.enumerated() where n != 0 && i < all.count && i < nanos.count {
                    let labels = input ? self.inputLabels(base, all[i]) : base + [Label("stream", all[i].stream)]
                    target.samples.append(.init(suffix: "_sum", labels: labels, value: Double(nanos[i]) / 1e9))
                    target.samples.append(.init(suffix: "_count", labels: labels, value: Double(n)))
                }
            }
            byStream(counts.emittedByStream, into: &emitted)
            byStream(counts.transferredByStream, into: &transferred)
            if executor.isSpout {
                byStream(counts.ackedByStream, into: &acked)
                byStream(counts.failedByStream, into: &failed)
                latency(counts.completeNanosByStream, counts.ackedByStream, input: false, into: &completeLatency)
                pending.samples.append(.init(labels: base, value: Double(counts.pendingTrees)))
            } else {
                byInput(counts.executedByStream, into: &executed)
                byInput(counts.ackedByStream, into: &acked)
                byInput(counts.failedByStream, into: &failed)
                latency(counts.executeNanosByStream, counts.executeSamplesByStream, input: true, into: &executeLatency)
                latency(counts.processNanosByStream, counts.processSamplesByStream, input: true, into: &processLatency)
                if executor.queue.capacity != .max {
                    capacity.samples.append(.init(labels: base, value: Double(executor.queue.capacity)))
                    congested.samples.append(
                        .init(labels: base, value: executor.announced.load(ordering: .relaxed) ? 1 : 0))
                }
            }
            queue.samples.append(.init(labels: base, value: Double(executor.queue.depth)))
        }
        return [
            emitted, transferred, executed, acked, failed, executeLatency, processLatency, completeLatency, queue,
            capacity, congested, pending,
        ]
    }

    private func inputLabels(_ base: [Label], _ stream: TupleStream) -> [Label] {
        base + [Label("source_component", stream.component), Label("source_stream", stream.stream)]
    }
}
