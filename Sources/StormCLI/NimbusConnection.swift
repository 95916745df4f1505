import Foundation
import StormCore
import StormThrift

/// Connects to the leader: asks the first reachable nimbus of `nimbus.seeds` (entries `host` or `host:port`)
/// which nimbus leads, and connects there, as Storm's clients do.
func connectToNimbus(_ conf: StormConfig) throws -> NimbusClient {
    let seeds: [String]
    let defaultPort: Int
    let ioTimeout: Int
    do {
        seeds = try conf.stringList(ConfigKey.nimbusSeeds)
        defaultPort = try conf.int(ConfigKey.nimbusThriftPort)
        ioTimeout = try conf.int(ConfigKey.thriftSocketTimeoutMs)
    } catch let error as ConfigError {
        throw CLIFailure(message: error.description)
    }
    let maxFrame = (try? conf.int(ConfigKey.nimbusThriftMaxBufferSize)) ?? 1_048_576
    var failures: [String] = []
    for seed in seeds {
        let (host, port) = splitHostPort(seed, defaultPort: defaultPort)
        do {
            // Connecting is bounded separately so a down nimbus is reported within seconds.
            let seedClient = try NimbusClient(
                host: host, port: port, connectTimeoutMillis: 5_000, ioTimeoutMillis: ioTimeout, maxFrameSize: maxFrame)
            guard let leader = try? seedClient.getLeader(), leader.host != host || Int(leader.port) != port else {
                return seedClient
            }
            if let leaderClient = try? NimbusClient(
                host: leader.host, port: Int(leader.port), connectTimeoutMillis: 5_000, ioTimeoutMillis: ioTimeout,
                maxFrameSize: maxFrame)
            {
                seedClient.close()
                return leaderClient
            }
            return seedClient
        } catch {
            failures.append("\(host):\(port) (\(error))")
        }
    }
    throw CLIFailure(message: "cannot reach nimbus at \(failures.joined(separator: ", "))")
}

func splitHostPort(_ seed: String, defaultPort: Int) -> (String, Int) {
    if let colon = seed.lastIndex(of: ":"), let port = Int(seed[seed.index(after: colon)...]) {
        return (String(seed[..<colon]), port)
    }
    return (seed, defaultPort)
}

/// Runs one call against nimbus, turning Thrift failures into one-line CLI failures.
func withNimbus<T>(_ conf: StormConfig, _ body: (NimbusClient) throws -> T) throws -> T {
    let client = try connectToNimbus(conf)
    defer { client.close() }
    do {
        return try body(client)
    } catch let e as NotAliveException {
        throw CLIFailure(message: e.msg)
    } catch let e as AlreadyAliveException {
        throw CLIFailure(message: e.msg)
    } catch let e as InvalidTopologyException {
        throw CLIFailure(message: e.msg)
    } catch let e as AuthorizationException {
        throw CLIFailure(message: "not authorized: \(e.msg)")
    } catch let e as ThriftApplicationException {
        throw CLIFailure(message: "nimbus refused the call: \(e.message)")
    } catch let e as ThriftTransportError {
        throw CLIFailure(message: "lost the connection to nimbus at \(client.connection.host):\(client.connection.port): \(e.message)")
    }
}
