import ArgumentParser
import ClusterState
import DevZooKeeper
import Foundation
import Logging
import Nimbus
import ServiceLifecycle
import StormCore
import StormMetrics
import StormThrift
import Supervisor

struct NimbusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "nimbus", abstract: "Run the nimbus daemon.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "nimbus")
        let openWarning: String?
        do {
            openWarning = try SecuritySettings.openClusterWarning(conf)
        } catch {
            throw CLIFailure(message: error.description)
        }
        let storage: any ClusterStorage
        do {
            storage = try makeClusterStorage(conf, logger: logger)
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        } catch {
            throw CLIFailure(message: "nimbus cannot reach the cluster state: \(error)")
        }
        do {
            if let check = try ZooKeeperACLCheck.configured(conf, storage: storage, logger: logger) {
                do {
                    try await check.run()
                } catch let mismatch as ZooKeeperACLCheck.Mismatch {
                    throw CLIFailure(message: mismatch.description)
                } catch {
                    // ZooKeeper away at start is not fatal here, as it is not for the rest of nimbus.
                    logger.warning("could not check the ACLs of the cluster state's ZooKeeper nodes: \(error)")
                }
            }
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
        let server: NimbusServer
        do {
            server = try NimbusServer(conf: conf, storage: storage, logger: logger)
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        } catch {
            throw CLIFailure(message: "nimbus cannot start: \(error)")
        }
        let process = ProcessMetrics(labels: [Label("daemon", "nimbus"), Label("host", conf.localHostname)])
        let nimbus = server.nimbus
        let metrics: MetricsEndpoint?
        do {
            metrics = try MetricsEndpoint.configured(
                daemon: "nimbus", portKey: ConfigKey.nimbusMetricsPort, conf: conf, logger: logger
            ) { PrometheusText.render(process.families() + (await nimbus.metricFamilies(labels: process.labels))) }
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
        // Said once every setting has been read: a bad one is the only line a failed start prints.
        if let openWarning { logger.warning("\(openWarning)") }
        let services: [any Service] = [server] + (metrics.map { [$0] } ?? [])
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch let error as ThriftTransportError {
            throw CLIFailure(message: "nimbus cannot serve: \(error.message)")
        }
    }
}

struct SupervisorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervisor", abstract: "Run a supervisor: offer this machine's worker slots to the cluster.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "supervisor")
        let service: SupervisorService
        let metrics: MetricsEndpoint?
        do {
            guard try ClusterStoreKind(conf) == .zookeeper else {
                throw CLIFailure(
                    message:
                        "a supervisor shares the cluster state with nimbus: set storm.cluster.state.store to zookeeper")
            }
            let storage = try makeClusterStorage(conf, logger: logger)
            let state = StormClusterState(storage: storage, root: try conf.string(ConfigKey.zookeeperRoot))
            let supervisor = try Supervisor(conf: conf, state: state, logger: logger)
            service = SupervisorService(supervisor: supervisor, logger: logger)
            let process = ProcessMetrics(labels: [Label("daemon", "supervisor"), Label("host", conf.localHostname)])
            metrics = try MetricsEndpoint.configured(
                daemon: "supervisor", portKey: ConfigKey.supervisorMetricsPort, conf: conf, logger: logger
            ) { supervisor.metricsText(process: process) }
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure(message: "supervisor cannot start: \(error)")
        }
        let services: [any Service] = [service] + (metrics.map { [$0] } ?? [])
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

struct DevZooKeeperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-zookeeper",
        abstract: "Run a ZooKeeper server for development, on storm.zookeeper.port, with its data in storm.local.dir.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conf = try global.load()
        let port: Int
        let dataDir: URL
        do {
            port = try conf.int(ConfigKey.zookeeperPort)
            dataDir = URL(fileURLWithPath: try conf.string(ConfigKey.localDir)).appendingPathComponent("dev-zookeeper")
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
        let command: [String]
        do {
            let config = try ZooKeeperServer.writeConfig(port: port, dataDir: dataDir, bindAddress: nil)
            command = try ZooKeeperServer.command(configFile: config)
        } catch let failure as ZooKeeperServer.Failure {
            throw CLIFailure(message: failure.description)
        }
        FileHandle.standardOutput.write(Data("dev-zookeeper: serving on port \(port), data in \(dataDir.path)\n".utf8))
        try? FileHandle.standardOutput.synchronize()
        // Becomes the server, as Storm's command does: signals and the exit status are ZooKeeper's own.
        let argv = command.map { strdup($0) } + [nil]
        execv(command[0], argv)
        throw CLIFailure(message: "cannot run \(command[0]): \(String(cString: strerror(errno)))")
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the running topologies.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conf = try global.load()
        let summaries = try withNimbus(conf) { try $0.getTopologySummaries() }
        guard !summaries.isEmpty else {
            print("No topologies running.")
            return
        }
        func row(_ cells: [String]) -> String {
            let widths = [20, 10, 10, 12, 10, 20, 10]
            return zip(cells, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }
                .joined(separator: " ").trimmingCharacters(in: .whitespaces)
        }
        print(row(["Topology_name", "Status", "Num_tasks", "Num_workers", "Uptime_secs", "Topology_Id", "Owner"]))
        print(String(repeating: "-", count: 94))
        for s in summaries {
            print(row([s.name, s.status, "\(s.numTasks)", "\(s.numWorkers)", "\(s.uptimeSecs)", s.id, s.owner ?? ""]))
        }
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Kill a topology.")
    @Argument(help: "The topology's name.") var name: String
    @Option(
        name: .shortAndLong,
        help: "Seconds to wait between deactivation and shutdown (default: the topology's message timeout).")
    var wait: Int32?
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conf = try global.load()
        try withNimbus(conf) { try $0.killTopologyWithOpts(name: name, options: KillOptions(waitSecs: wait)) }
        print("Killed topology: \(name)")
    }
}

/// A command that makes one call naming a topology and reports it.
protocol TopologyCallCommand: ParsableCommand {
    var name: String { get }
    var global: GlobalOptions { get }
    static var done: String { get }
    static func call(_ nimbus: NimbusClient, _ name: String) throws
}

extension TopologyCallCommand {
    func run() throws {
        try withNimbus(try global.load()) { try Self.call($0, name) }
        print("\(Self.done) topology: \(name)")
    }
}

struct ActivateCommand: TopologyCallCommand {
    static let configuration = CommandConfiguration(commandName: "activate", abstract: "Activate a topology's spouts.")
    static let done = "Activated"
    @Argument(help: "The topology's name.") var name: String
    @OptionGroup var global: GlobalOptions
    static func call(_ nimbus: NimbusClient, _ name: String) throws { try nimbus.activate(name: name) }
}

struct DeactivateCommand: TopologyCallCommand {
    static let configuration = CommandConfiguration(
        commandName: "deactivate", abstract: "Deactivate a topology's spouts.")
    static let done = "Deactivated"
    @Argument(help: "The topology's name.") var name: String
    @OptionGroup var global: GlobalOptions
    static func call(_ nimbus: NimbusClient, _ name: String) throws { try nimbus.deactivate(name: name) }
}

struct RebalanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebalance", abstract: "Spread a topology's executors anew, optionally with new counts.")
    @Argument(help: "The topology's name.") var name: String
    @Option(name: .shortAndLong, help: "Seconds to wait before rebalancing (default: the topology's message timeout).")
    var wait: Int32?
    @Option(name: .customShort("n"), help: "The new number of workers.") var workers: Int32?
    @Option(name: .customShort("e"), help: "A component's new executor count, as component=N (repeatable).")
    var executors: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() throws {
        var counts: [String: Int32] = [:]
        for spec in executors {
            guard let eq = spec.lastIndex(of: "="), let n = Int32(spec[spec.index(after: eq)...]) else {
                throw CLIFailure(message: "bad -e '\(spec)': expected component=N")
            }
            counts[String(spec[..<eq])] = n
        }
        let options = RebalanceOptions(waitSecs: wait, numWorkers: workers, numExecutors: counts.isEmpty ? nil : counts)
        try withNimbus(try global.load()) { try $0.rebalance(name: name, options: options) }
        print("Topology \(name) is rebalancing")
    }
}

struct GetErrorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get-errors", abstract: "Show the latest error of each component of a topology, as JSON.")
    @Argument(help: "The topology's name.") var name: String
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let info = try withNimbus(try global.load()) {
            try $0.getTopologyInfoByNameWithOpts(name: name, options: GetInfoOptions(numErrChoice: .one))
        }
        var errors: [String: ConfigValue] = [:]
        for (component, list) in info.errors {
            if let last = list.last { errors[component] = .string(last.error) }
        }
        let out: ConfigValue = ["Topology Name": .string(info.name), "Comp-Errors": .map(errors)]
        print(try JSON.encode(out))
    }
}

/// `storm version`: Storm's lines first (tools read the version from `Storm X.Y.Z`), then this implementation.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")
    func run() throws { print(StormVersion.report.joined(separator: "\n")) }
}
