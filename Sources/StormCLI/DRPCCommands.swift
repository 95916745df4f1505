import ArgumentParser
import DRPC
import DRPCDaemon
import Foundation
import Logging
import ServiceLifecycle
import StormCore
import StormThrift

struct DRPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drpc",
        abstract:
            "Run a DRPC server: execute on drpc.port, invocations on drpc.invocations.port, HTTP on drpc.http.port.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "drpc")
        let server: DRPCServer
        do {
            let openWarning = try SecuritySettings.openClusterWarning(conf, for: .drpc)
            server = try DRPCServer(conf: conf, logger: logger)
            if let openWarning { logger.warning("\(openWarning)") }
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
        do {
            try await runUntilSignalled(server, logger: logger)
        } catch let error as DRPCServer.ListenFailure {
            throw CLIFailure(message: "drpc \(error.description)")
        } catch let error as ConfigError {
            throw CLIFailure(message: error.description)
        }
    }
}

struct DRPCClientCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drpc-client",
        abstract: "Call DRPC functions on a server of drpc.servers and print each result.",
        discussion: "Without -f, the arguments are pairs: FUNCTION ARGUMENT [FUNCTION ARGUMENT ...].")
    @OptionGroup var global: GlobalOptions
    @Option(name: .shortAndLong, help: "Call this function with each argument.") var function: String?
    @Argument(help: "FUNCTION ARGUMENT pairs, or with -f the arguments.") var functionsAndArguments: [String] = []

    func run() throws {
        let conf = try global.load()
        var calls: [(function: String, argument: String)] = []
        if let function {
            calls = functionsAndArguments.map { (function, $0) }
        } else {
            guard functionsAndArguments.count % 2 == 0 else {
                throw CLIFailure(
                    message:
                        "drpc-client: without -f the arguments are FUNCTION ARGUMENT pairs; got \(functionsAndArguments.count) arguments"
                )
            }
            calls = stride(from: 0, to: functionsAndArguments.count, by: 2).map {
                (functionsAndArguments[$0], functionsAndArguments[$0 + 1])
            }
        }
        let client = try connect(conf)
        defer { client.close() }
        for call in calls {
            do {
                let result = try client.execute(functionName: call.function, funcArgs: call.argument)
                print("\(call.function) \"\(call.argument)\" => \"\(result)\"")
            } catch let error as DRPCExecutionException {
                throw CLIFailure(
                    message:
                        "drpc-client: \(call.function) \"\(call.argument)\" failed: \(error.msg) (\(error.type?.thriftName ?? "no type"))"
                )
            } catch let error as AuthorizationException {
                throw CLIFailure(
                    message: "drpc-client: \(call.function) \"\(call.argument)\": not authorized: \(error.msg)")
            }
        }
    }

    /// A client of the first server of drpc.servers (in random order, as Storm's client picks) that answers.
    private func connect(_ conf: StormConfig) throws -> DistributedRPCClient {
        guard let value = conf[ConfigKey.drpcServers], !value.isNull,
            let servers = try? conf.stringList(ConfigKey.drpcServers), !servers.isEmpty
        else {
            throw CLIFailure(message: "drpc-client: drpc.servers is not set; say where the DRPC servers are")
        }
        let port = try conf.int(ConfigKey.drpcPort)
        let timeout = conf.intOrDefault(ConfigKey.drpcRequestTimeoutSecs) * 1000 + 10_000
        let credentials: ThriftClientCredentials?
        do {
            credentials = try ThriftSecurity.clientCredentials(conf, .drpc)
        } catch {
            throw CLIFailure(message: error.description)
        }
        var failures: [String] = []
        for server in servers.shuffled() {
            do {
                return try DistributedRPCClient(
                    host: server, port: port, ioTimeoutMillis: timeout, credentials: credentials)
            } catch {
                failures.append("\(server):\(port): \(error)")
            }
        }
        throw CLIFailure(message: "drpc-client: no DRPC server answers (\(failures.joined(separator: "; ")))")
    }
}
