import StormCore
import StormMetrics

extension Supervisor {
    /// What the supervisor's `/metrics` answers: its own metrics, then those its running workers last wrote (each
    /// rewrites its file every `worker.metrics.export.secs`), merged so each family appears once. A worker that is
    /// not running here now is left out, whatever its folder still holds.
    public func metricsText(process: ProcessMetrics) -> String {
        let labels = [Label("daemon", "supervisor"), Label("host", hostname)]
        let running = workers.current
        let events = workers.events.withLock { $0 }
        let own =
            process.families() + [
                MetricFamily(
                    name: "storm_supervisor_slots",
                    help: "Worker slots this supervisor offers, and those running a worker.",
                    kind: .gauge,
                    samples: [
                        .init(labels: labels + [Label("state", "offered")], value: Double(ports.count)),
                        .init(labels: labels + [Label("state", "running")], value: Double(running.count)),
                    ]),
                MetricFamily(
                    name: "storm_supervisor_worker_launches_total", help: "Workers this supervisor launched.",
                    kind: .counter, samples: [.init(labels: labels, value: Double(events.launched))]),
                MetricFamily(
                    name: "storm_supervisor_worker_failures_total",
                    help: "Workers that exited or stopped heartbeating without being asked to stop.", kind: .counter,
                    samples: [.init(labels: labels, value: Double(events.failed))]),
            ]
        let workerTexts = running.values.sorted { $0.workerId < $1.workerId }.compactMap {
            WorkerLocalState(localDir: workers.localDir, workerId: $0.workerId).metrics()
        }
        let merged = PrometheusText.merge([PrometheusText.render(own)] + workerTexts)
        let new = metricConflictsLogged.withLock { logged in merged.conflicts.filter { logged.insert($0).inserted } }
        if !new.isEmpty {
            logger.warning(
                "metrics left out of /metrics: \(new) have a different type in different workers (one topology's metric named like another's); logged once"
            )
        }
        return merged.text
    }
}
