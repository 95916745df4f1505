import Foundation
import Logging
import Runtime
import ServiceLifecycle
import StormCore
import StormMetrics
import Transport

/// A worker's metrics: its executors' built-in ones, what its components registered, and its own (uptime,
/// memory, threads, descriptors, connections), all labelled with its topology, host and port.
struct WorkerMetrics: Sendable {
    let runtime: TopologyRuntime
    let transfer: WorkerTransfer
    let server: FrameServer
    let process: ProcessMetrics

    init(runtime: TopologyRuntime, transfer: WorkerTransfer, server: FrameServer) {
        self.runtime = runtime
        self.transfer = transfer
        self.server = server
        process = ProcessMetrics(labels: runtime.metricsScope.labels)
    }

    /// The worker's labels: its topology's, then `host` and `port`, the keys a scrape of several nodes needs.
    static func scope(topologyId: String, conf: StormConfig, port: Int) -> MetricsScope {
        MetricsScope(
            registry: MetricsRegistry(seriesLimit: conf.intOrDefault(ConfigKey.topologyMetricsMaxSeries)),
            labels: MetricsScope.topologyLabels(topologyId: topologyId, conf: conf) + [
                Label("host", conf.localHostname), Label("port", "\(port)"),
            ])
    }

    func families() -> [MetricFamily] {
        let labels = runtime.metricsScope.labels
        let peers = transfer.peerConnections
        let connections = MetricFamily(
            name: "storm_worker_connections", help: "Tuple connections: to peers (connected of all) and from them.",
            kind: .gauge,
            samples: [
                .init(labels: labels + [Label("direction", "out")], value: Double(peers.connected)),
                .init(labels: labels + [Label("direction", "out_wanted")], value: Double(peers.peers)),
                .init(labels: labels + [Label("direction", "in")], value: Double(server.openConnections)),
            ], stormName: "connections")
        return process.families() + [connections] + runtime.builtinMetricFamilies()
            + runtime.metricsScope.registry.families()
    }
}

/// Writes the worker's metrics where its supervisor serves them from, every `worker.metrics.export.secs`, and
/// runs the topology's reporters (`topology.metrics.reporters`) at their periods.
struct WorkerMetricsExport: Service {
    let metrics: WorkerMetrics
    let local: WorkerLocalState
    let exportSeconds: Int
    let reporters: [MetricsReporterSpec]
    let logger: Logger

    func run() async throws {
        let export = Duration.seconds(max(1, exportSeconds))
        await cancelWhenGracefulShutdown {
            var nextReport = reporters.map { ContinuousClock.now + .seconds($0.periodSeconds) }
            var exported = ContinuousClock.Instant.now - export
            var failing = false
            while !Task.isCancelled {
                let now = ContinuousClock.now
                let due = reporters.indices.filter { now >= nextReport[$0] }
                guard now - exported >= export || !due.isEmpty else {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                let families = metrics.families()
                if now - exported >= export {
                    exported = now
                    do {
                        try local.writeMetrics(PrometheusText.render(families))
                        failing = false
                    } catch {
                        if !failing { logger.warning("cannot write the worker's metrics for its supervisor: \(error)") }
                        failing = true
                    }
                }
                for i in due {
                    nextReport[i] = now + .seconds(reporters[i].periodSeconds)
                    report(families, to: reporters[i])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func report(_ families: [MetricFamily], to reporter: MetricsReporterSpec) {
        var readings = ReportedMetric.readings(families)
        if let filter = reporter.filter, let regex = try? Regex(filter) {
            readings = readings.filter { $0.name.contains(regex) }
        }
        let epoch = Int(Date().timeIntervalSince1970)
        switch reporter.kind {
        case .console:
            FileHandle.standardOutput.write(Data(ConsoleReport.render(readings, at: epoch).utf8))
        case .csv:
            do { try CsvReport(directory: reporter.csvDirectory).append(readings, at: epoch) } catch {
                logger.warning("csv metrics reporter: \(error)")
            }
        }
    }
}
