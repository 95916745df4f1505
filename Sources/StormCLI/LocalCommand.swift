import ArgumentParser
import Dispatch
import Flux
import Foundation
import Logging
import Runtime
import StormCore
import StormThrift

/// `storm local FILE`: runs a Flux topology in this process until --duration passes or Ctrl-C, printing a line of
/// throughput every second.
struct LocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local", abstract: "Run a topology (a Flux YAML file) in this process.")
    @Argument(help: "The topology, in Storm's Flux YAML format.") var file: String
    @Option(help: "Seconds to run (default: until Ctrl-C).") var duration: Double?
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let flux: FluxTopology
        do {
            flux = try FluxTopology.load(file: file)
        } catch {
            throw CLIFailure(message: error.description)
        }
        let topologyConf = conf.merging(flux.conf)
        do {
            try TopologyValidator.validateConf(topologyConf)
        } catch {
            throw CLIFailure(message: "\(file): \(error)")
        }
        let id = "\(flux.name)-1-\(Int(Date().timeIntervalSince1970))"
        let runtime: TopologyRuntime
        do {
            runtime = try TopologyRuntime(topologyId: id, topology: flux.topology, conf: topologyConf, logger: Logger(label: "local"))
            try runtime.start()
        } catch {
            throw CLIFailure(message: "cannot run \(file): \(error)")
        }
        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        let spouts = Set(flux.topology.spouts.keys)
        let components = Self.upstreamFirst(flux.topology)
        print("running \(id) in this process\(duration.map { " for \($0) s" } ?? "; Ctrl-C stops it")")
        let started = Date()
        var last = runtime.stats
        var lastTime = started
        while true {
            let remaining = duration.map { $0 - Date().timeIntervalSince(started) } ?? 1
            if remaining <= 0 { break }
            if stop.wait(timeout: .now() + min(1, remaining)) == .success { break }
            let now = Date()
            let stats = runtime.stats
            let interval = now.timeIntervalSince(lastTime)
            let rates = components.map { c -> String in
                let count = spouts.contains(c)
                    ? (stats[c]?.emitted ?? 0) - (last[c]?.emitted ?? 0) : (stats[c]?.executed ?? 0) - (last[c]?.executed ?? 0)
                return "\(c) \(Self.rate(Double(count) / interval))"
            }
            print(String(format: "%5.0fs  ", now.timeIntervalSince(started)) + rates.joined(separator: " | ") + " tuples/s")
            last = stats
            lastTime = now
        }
        runtime.stop()
        sources.forEach { $0.cancel() }
        let stats = runtime.stats
        let totals = components.map { c in
            spouts.contains(c) ? "\(c) emitted \(stats[c]?.emitted ?? 0)" : "\(c) executed \(stats[c]?.executed ?? 0)"
        }
        print(String(format: "stopped after %.1f s: ", Date().timeIntervalSince(started)) + totals.joined(separator: ", "))
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
        r >= 1e6 ? String(format: "%.2fM", r / 1e6) : r >= 1e3 ? String(format: "%.1fk", r / 1e3) : String(format: "%.0f", r)
    }
}
