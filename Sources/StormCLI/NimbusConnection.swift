import Foundation
import StormCore
import StormThrift

/// Connects to the leader nimbus of `nimbus.seeds`; a failure is one line for the CLI to print.
func connectToNimbus(_ conf: StormConfig) throws -> NimbusClient {
    do {
        return try NimbusSeeds.connectToLeader(conf)
    } catch let error as ConfigError {
        throw CLIFailure(message: error.description)
    } catch let error as NimbusSeeds.Unreachable {
        throw CLIFailure(message: error.description)
    }
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
        throw CLIFailure(
            message:
                "lost the connection to nimbus at \(client.connection.host):\(client.connection.port): \(e.message)")
    }
}
