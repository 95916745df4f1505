import CoreMetrics
import Foundation
import Testing

@testable import StormMetrics

@Suite struct StormMetricsTests {
    let task = TaskMetrics(
        registry: MetricsRegistry(seriesLimit: 5),
        labels: [Label("topology", "words"), Label("component", "count"), Label("task", "3")])

    @Test func componentMetricsAreExposedAsPrometheusFamilies() throws {
        try task.counter("tuples-seen").increment(by: 41)
        try task.counter("tuples-seen").increment()
        try task.gauge("queue.size").record(7.5)
        let latency = try task.timer("lookup")
        latency.recordMilliseconds(20)
        latency.recordSeconds(3)
        let text = PrometheusText.render(task.registry.families())
        #expect(
            text.contains(
                "# TYPE tuples_seen_total counter\ntuples_seen_total{topology=\"words\",component=\"count\",task=\"3\"} 42\n"
            ))
        #expect(text.contains("queue_size{topology=\"words\",component=\"count\",task=\"3\"} 7.5\n"))
        // A timer in seconds: 20 ms falls in the 0.025 bucket, 3 s in the 5 one; buckets are cumulative.
        #expect(
            text.contains("lookup_seconds_bucket{topology=\"words\",component=\"count\",task=\"3\",le=\"0.01\"} 0\n"))
        #expect(
            text.contains("lookup_seconds_bucket{topology=\"words\",component=\"count\",task=\"3\",le=\"0.025\"} 1\n"))
        #expect(text.contains("lookup_seconds_bucket{topology=\"words\",component=\"count\",task=\"3\",le=\"5\"} 2\n"))
        #expect(
            text.contains("lookup_seconds_bucket{topology=\"words\",component=\"count\",task=\"3\",le=\"+Inf\"} 2\n"))
        #expect(text.contains("lookup_seconds_sum{topology=\"words\",component=\"count\",task=\"3\"} 3.02\n"))
        #expect(text.contains("lookup_seconds_count{topology=\"words\",component=\"count\",task=\"3\"} 2\n"))
    }

    @Test func namesThatCannotBeMetricsAreRefusedInOneLine() throws {
        func refusal(_ make: () throws -> Void) -> String {
            do {
                try make()
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal { _ = try task.counter("") } == "metric name '' must be 1 to 128 characters")
        #expect(refusal { _ = try task.counter("__emit-count") }.contains("starts with '__', which Storm keeps"))
        #expect(
            refusal { _ = try task.counter("a b") }
                == "metric name 'a b' has ' ' at position 2; use letters, digits, '_', '.', ':', '-' or '/'")
        _ = try task.counter("seen")
        #expect(
            refusal { _ = try task.gauge("seen_total") }
                == "metric 'seen_total' is already registered here as a counter")
        _ = try task.gauge("depth")
        #expect(refusal { _ = try task.histogram("depth") } == "metric 'depth' is already registered here as a gauge")
        #expect(!refusal { _ = try task.counter("a-b") }.contains("refused"))
        #expect(
            refusal { _ = try task.counter("a_b") }.contains(
                "would be exposed as 'a_b_total', which metric 'a-b' already is"))
        // Five series is this registry's limit: the same series again is fine, a new one is not.
        _ = try task.counter("three")
        _ = try task.counter("four")
        #expect(refusal { _ = try task.counter("four") } == "accepted")
        #expect(
            refusal { _ = try task.counter("five") }
                == "metric 'five' refused: this worker already has 5 series, the limit (topology.metrics.max.series)")
        #expect(task.registry.seriesCount == 5)
        // The swift-metrics factory cannot throw: what it refuses keeps nothing and breaks nothing.
        let dropped = Counter(label: "__mine", dimensions: [], factory: task.registry)
        dropped.increment()
        #expect(!PrometheusText.render(task.registry.families()).contains("mine"))
    }

    @Test func labelValuesAreEscapedAndExpositionsMergeByFamily() {
        let family = MetricFamily(
            name: "x_total", help: "An \"x\"\nover lines", kind: .counter,
            samples: [.init(labels: [Label("stream", "a\"b\\c\nd")], value: 1)])
        let text = PrometheusText.render([family])
        #expect(
            text
                == "# HELP x_total An \"x\"\\nover lines\n# TYPE x_total counter\nx_total{stream=\"a\\\"b\\\\c\\nd\"} 1\n"
        )
        let worker1 = "# HELP a A.\n# TYPE a gauge\na{port=\"1\"} 1\n# HELP b B.\n# TYPE b counter\nb{port=\"1\"} 2\n"
        let worker2 = "# HELP a A.\n# TYPE a gauge\na{port=\"2\"} 3\n# HELP b B.\n# TYPE b gauge\nb{port=\"2\"} 4\n"
        let merged = PrometheusText.merge([worker1, worker2])
        #expect(
            merged.text
                == "# HELP a A.\n# TYPE a gauge\na{port=\"1\"} 1\na{port=\"2\"} 3\n# HELP b B.\n# TYPE b counter\nb{port=\"1\"} 2\n"
        )
        #expect(merged.conflicts == ["b"])
    }

    @Test func stormsReportersNameMetricsAsStormDoes() throws {
        let families = [
            MetricFamily(
                name: "storm_ack_count_total", help: "", kind: .counter,
                samples: [
                    .init(
                        labels: [
                            Label("topology_id", "words-1-2"), Label("host", "node.example.com"), Label("port", "6700"),
                            Label("component", "count"), Label("task", "3"), Label("source_component", "split"),
                            Label("source_stream", "default"),
                        ], value: 12)
                ], stormName: "__ack-count"),
            MetricFamily(
                name: "storm_uptime_seconds", help: "", kind: .gauge,
                samples: [
                    .init(
                        labels: [Label("topology_id", "words-1-2"), Label("host", "h"), Label("port", "6700")], value: 5
                    )
                ],
                stormName: "uptimeSecs"),
        ]
        let readings = ReportedMetric.readings(families)
        #expect(
            readings == [
                ReportedMetric(
                    name: "storm.topology.words-1-2.h.__system.-1.6700-uptimeSecs", value: .gauge(5)),
                ReportedMetric(
                    name: "storm.topology.words-1-2.node_example_com.count.3.6700-__ack-count-split:default",
                    value: .counter(12)),
            ])
        let console = ConsoleReport.render(readings, at: 0)
        #expect(console.hasPrefix("1970-01-01 00:00:00 UTC ===="))
        #expect(console.contains("-- Counters ---"))
        #expect(console.contains("count.3.6700-__ack-count-split:default\n             count = 12\n"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("csv-\(UUID())/deeper").path
        try CsvReport(directory: folder).append(readings, at: 10)
        try CsvReport(directory: folder).append(readings, at: 11)
        let file = folder + "/storm.topology.words-1-2.node_example_com.count.3.6700-__ack-count-split:default.csv"
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "t,count\n10,12\n11,12\n")
    }
}
