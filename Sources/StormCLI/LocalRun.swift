import DRPCDaemon
import Flux
import Foundation
import LocalCluster
import Locking
import Logging
import Runtime
import ServiceLifecycle
import StormCore
import StormThrift

/// Runs a Flux topology in this process (Storm's LocalCluster: an in-memory nimbus checks and accepts it, its
/// executors run as threads here) until `duration` passes or Ctrl-C, printing a line of throughput every second
/// and the totals at the end.
struct LocalRun {
    let flux: FluxTopology
    /// How messages name the topology file.
    let source: String
    let conf: StormConfig
    /// The folder shell components run in.
    let resources: String
    /// Seconds to run; nil runs until Ctrl-C.
    let duration: Double?
    /// False submits it deactivated (Flux's --inactive): it runs no spout until activated.
    var active = true

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        do {
            try TopologyValidator.validateConf(conf.merging(flux.conf))
        } catch {
            throw CLIFailure(message: "\(source): \(error)")
        }
        var quiet = Logger(label: "local")
        // Notices too: shell components' stderr lines are notices.
        quiet.logLevel = .notice
        let drpc = try await LocalDRPCServer.start(for: flux, conf: conf, source: source, logger: quiet)
        defer { drpc?.stop() }
        let cluster: LocalCluster
        let runtime: TopologyRuntime
        let id: String
        do {
            cluster = try await LocalCluster(conf: conf, logger: quiet)
            id = try await cluster.submitTopology(
                flux.name, conf: flux.conf.merging(drpc?.topologyConf ?? [:]) { _, ours in ours },
                topology: flux.topology, active: active, resources: resources)
            runtime = cluster.runtime(id)!
        } catch let error as InvalidTopologyException {
            throw CLIFailure(message: "cannot run \(source): \(error.msg)")
        } catch {
            throw CLIFailure(message: "cannot run \(source): \(error)")
        }
        if let drpc { print(drpc.banner) }
        let printer = RatePrinter(
            runtime: runtime, spouts: Set(flux.topology.spouts.keys), components: Self.upstreamFirst(flux.topology),
            duration: duration,
            banner:
                "running \(id) in this process\(duration.map { " for \($0) s" } ?? "; Ctrl-C stops it")\(active ? "" : " (inactive)")"
        )
        // Ctrl-C (SIGINT) or SIGTERM ends the printer, and with it the run.
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: printer, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: Logger(label: "local")))
        try await group.run()
        let started = printer.started.withLock { $0 }
        let components = printer.components
        let spouts = printer.spouts
        await cluster.shutdown()
        let stats = runtime.stats
        let totals = components.map { c in
            spouts.contains(c) ? "\(c) emitted \(stats[c]?.emitted ?? 0)" : "\(c) executed \(stats[c]?.executed ?? 0)"
        }
        print(
            String(format: "stopped after %.1f s: ", Date().timeIntervalSince(started)) + totals.joined(separator: ", ")
        )
        for line in Self.treeSummaries(runtime) { print(line) }
    }

    /// A line per spout whose tuples were tracked: trees acked with their complete latency, and failed by reason.
    static func treeSummaries(_ runtime: TopologyRuntime) -> [String] {
        var bySpout: [String: ExecutorCounts] = [:]
        for entry in runtime.executorCounts() where entry.isSpout {
            var c = bySpout[entry.component] ?? ExecutorCounts()
            c.completeLatency.merge(entry.counts.completeLatency)
            c.failedByBolts += entry.counts.failedByBolts
            c.timedOut += entry.counts.timedOut
            c.pendingTrees += entry.counts.pendingTrees
            bySpout[entry.component] = c
        }
        return bySpout.sorted { $0.key < $1.key }.compactMap { spout, c in
            let latency = c.completeLatency
            let failed = c.failedByBolts + c.timedOut
            guard latency.total > 0 || failed > 0 else { return nil }
            return "\(spout): \(latency.total) tuple trees acked (complete latency mean "
                + String(format: "%.2f ms, p99 %.2f ms", latency.meanMillis, latency.quantileMillis(0.99))
                + "), \(failed) failed (\(c.timedOut) timed out, \(c.failedByBolts) failed by a bolt), \(c.pendingTrees) pending"
        }
    }

    /// Components ordered by their distance from the spouts, as the tuples flow.
    static func upstreamFirst(_ topology: StormTopology) -> [String] {
        var depth: [String: Int] = [:]
        for id in topology.spouts.keys { depth[id] = 0 }
        var changed = true
        while changed {
            changed = false
            for (id, bolt) in topology.bolts {
                let d = (bolt.common.inputs.keys.compactMap { depth[$0.componentId] }.max() ?? 0) + 1
                if depth[id] != d && d <= topology.bolts.count {
                    depth[id] = d
                    changed = true
                }
            }
        }
        return depth.keys.sorted { (depth[$0]!, $0) < (depth[$1]!, $1) }
    }

    static func rate(_ r: Double) -> String {
        r >= 1e6
            ? String(format: "%.2fM", r / 1e6) : r >= 1e3 ? String(format: "%.1fk", r / 1e3) : String(format: "%.0f", r)
    }
}

/// Prints a line of each component's tuples per second every second until `duration` passes or the group shuts
/// down.
struct RatePrinter: Service {
    let runtime: TopologyRuntime
    let spouts: Set<String>
    let components: [String]
    let duration: Double?
    /// The first line, printed once the run's signal handling is in place (Ctrl-C from then on stops it cleanly).
    let banner: String
    let started = Locked(Date())

    func run() async throws {
        print(banner)
        fflush(nil)
        let started = Date()
        self.started.withLock { $0 = started }
        let (runtime, spouts, components, duration) = (runtime, spouts, components, duration)
        await cancelWhenGracefulShutdown {
            var last = runtime.stats
            var lastTime = started
            var nextLine = started.addingTimeInterval(1)
            while !Task.isCancelled {
                if let duration, Date().timeIntervalSince(started) >= duration { break }
                try? await Task.sleep(for: .milliseconds(50))
                let now = Date()
                guard now >= nextLine else { continue }
                nextLine = nextLine.addingTimeInterval(1)
                let stats = runtime.stats
                let interval = now.timeIntervalSince(lastTime)
                let rates = components.map { c -> String in
                    let count =
                        spouts.contains(c)
                        ? (stats[c]?.emitted ?? 0) - (last[c]?.emitted ?? 0)
                        : (stats[c]?.executed ?? 0) - (last[c]?.executed ?? 0)
                    return "\(c) \(LocalRun.rate(Double(count) / interval))"
                }
                print(
                    String(format: "%5.0fs  ", now.timeIntervalSince(started)) + rates.joined(separator: " | ")
                        + " tuples/s")
                // Each second as it happens, also into a pipe (`| tee`, a benchmark reading the lines as they come).
                fflush(nil)
                last = stats
                lastTime = now
            }
        }
    }
}
