import Foundation
import StormCore
import StormThrift
import Tuples

/// Storm's DRPCSpout: fetches the requests for one function from the DRPC servers of `drpc.servers` (on
/// `drpc.invocations.port`) and emits each as `["args", "return-info"]`, the return-info a JSON object naming the
/// request and the server to answer (`{"id": ..., "host": ..., "port": ...}`), with a message id; a failed tree
/// fails its request on that server, so the caller hears at once instead of at its timeout. As Storm's, a task
/// polls every server when the spout has fewer tasks than there are servers, else the one its index picks.
public final class DRPCSpout: Spout {
    public static let className = "org.apache.storm.drpc.DRPCSpout"
    let function: String
    var collector: (any SpoutOutputCollector)?
    var servers: [DRPCInvocationsConnection] = []

    public init(function: String) { self.function = function }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["args", "return-info"]) }

    public func open(context: TopologyContext, collector: any SpoutOutputCollector) throws {
        self.collector = collector
        let hosts = try DRPCServers.hosts(context.conf, for: "DRPCSpout '\(function)'")
        let port = try context.conf.int(ConfigKey.drpcInvocationsPort)
        let credentials = try ThriftSecurity.clientCredentials(context.conf, .drpcInvocations)
        let tasks = context.tasks(of: context.thisComponentId).count
        let index = context.tasks(of: context.thisComponentId).firstIndex(of: context.thisTaskId) ?? 0
        let chosen = tasks < hosts.count ? hosts : [hosts[index % hosts.count]]
        servers = chosen.map { DRPCInvocationsConnection(host: $0, port: port, credentials: credentials) }
    }

    public func nextTuple() {
        for (index, server) in servers.enumerated() {
            do {
                guard let request = try server.call({ try $0.fetchRequest(functionName: function) }),
                    !request.requestId.isEmpty
                else { continue }
                let returnInfo = ConfigValue.map([
                    "id": .string(request.requestId), "host": .string(server.host), "port": .int(Int64(server.port)),
                ])
                collector?.emit(
                    [.string(request.funcArgs), .string(try JSON.encode(returnInfo))],
                    messageId: .list([.int(Int64(index)), .string(request.requestId)]))
                return
            } catch {
                collector?.reportError(error)
            }
        }
    }

    public func ack(_ messageId: Value) {}

    public func fail(_ messageId: Value) {
        guard case .list(let parts) = messageId, parts.count == 2, let index = parts[0].intValue,
            case .string(let id) = parts[1], servers.indices.contains(Int(index))
        else { return }
        do {
            _ = try servers[Int(index)].call { try $0.failRequest(id: id) }
        } catch {
            collector?.reportError(error)
        }
    }

    public func close() { servers.forEach { $0.close() } }
}

/// Storm's ReturnResults: sends each tuple's `[result, return-info]` to the DRPC server its return-info names, which
/// answers the waiting caller, and acks it. Unlike Storm's, it answers only servers of `drpc.servers` on
/// `drpc.invocations.port`: a return-info naming any other is refused (the tuple failed, the error reported), so a
/// tuple cannot make a worker connect wherever it says.
public final class ReturnResults: Bolt {
    public static let className = "org.apache.storm.drpc.ReturnResults"
    var collector: (any OutputCollector)?
    var allowed: Set<String> = []
    var port = 0
    var credentials: ThriftClientCredentials?
    var servers: [String: DRPCInvocationsConnection] = [:]

    public init() {}

    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        allowed = Set(try DRPCServers.hosts(context.conf, for: "ReturnResults"))
        port = try context.conf.int(ConfigKey.drpcInvocationsPort)
        credentials = try ThriftSecurity.clientCredentials(context.conf, .drpcInvocations)
    }

    public func execute(_ tuple: Tuple) {
        guard let collector else { return }
        do {
            let (server, id) = try destination(tuple)
            let result = tuple.values.first.map { $0.stringValue ?? $0.description } ?? ""
            guard try server.call({ try $0.result(id: id, result: result) }) != nil else {
                throw DRPCServers.Unreachable(description: "DRPC server \(server.host):\(server.port) did not answer")
            }
            collector.ack(tuple)
        } catch {
            collector.reportError(error)
            collector.fail(tuple)
        }
    }

    /// The server and request id a tuple's return-info names, if it is one this bolt may answer.
    private func destination(_ tuple: Tuple) throws -> (DRPCInvocationsConnection, String) {
        guard tuple.values.count >= 2, let text = tuple.values[1].stringValue,
            let info = try? JSON.decodeObject(text), let host = info["host"]?.stringValue,
            let id = info["id"]?.stringValue, let port = info["port"]?.intValue
        else {
            throw DRPCServers.BadReturnInfo(
                description:
                    "ReturnResults: the tuple's second value is not a return-info ({\"id\", \"host\", \"port\"})")
        }
        guard allowed.contains(host) && port == self.port else {
            throw DRPCServers.BadReturnInfo(
                description:
                    "ReturnResults: return-info names \(host):\(port), not a DRPC server of drpc.servers on drpc.invocations.port \(self.port)"
            )
        }
        let key = "\(host):\(port)"
        if let server = servers[key] { return (server, id) }
        let server = DRPCInvocationsConnection(host: host, port: Int(port), credentials: credentials)
        servers[key] = server
        return (server, id)
    }

    public func cleanup() { servers.values.forEach { $0.close() } }
}

/// The DRPC servers a topology's components talk to.
enum DRPCServers {
    struct Unconfigured: Error, CustomStringConvertible { let description: String }
    struct BadReturnInfo: Error, CustomStringConvertible { let description: String }
    struct Unreachable: Error, CustomStringConvertible { let description: String }

    /// drpc.servers, which must name at least one.
    static func hosts(_ conf: StormConfig, for component: String) throws -> [String] {
        guard let hosts = try? conf.stringList(ConfigKey.drpcServers), !hosts.isEmpty else {
            throw Unconfigured(description: "\(component): drpc.servers names no DRPC server")
        }
        return hosts
    }
}

/// One component's connection to one DRPC server's invocations port, made when first needed and made again after
/// a failure, at most once a second: a server that is down costs a failed connect a second, not one per tuple.
/// Used only on its component's thread.
final class DRPCInvocationsConnection {
    let host: String
    let port: Int
    let credentials: ThriftClientCredentials?
    private var client: DistributedRPCInvocationsClient?
    private var nextAttempt = Date.distantPast

    init(host: String, port: Int, credentials: ThriftClientCredentials?) {
        self.host = host
        self.port = port
        self.credentials = credentials
    }

    /// `body`'s answer, or nil while a server that could not be reached waits for its next attempt. A transport
    /// failure drops the connection and is retried once on a new one; a failed connect is thrown, as is what the
    /// server answers.
    func call<T>(_ body: (DistributedRPCInvocationsClient) throws -> T) throws -> T? {
        var retried = false
        while true {
            guard let client = try connected() else { return nil }
            do {
                return try body(client)
            } catch is ThriftTransportError where !retried {
                close()
                retried = true
            }
        }
    }

    private func connected() throws -> DistributedRPCInvocationsClient? {
        if let client { return client }
        guard Date() >= nextAttempt else { return nil }
        do {
            let made = try DistributedRPCInvocationsClient(host: host, port: port, credentials: credentials)
            client = made
            return made
        } catch {
            nextAttempt = Date().addingTimeInterval(1)
            throw DRPCServers.Unreachable(description: "DRPC server \(host):\(port): \(error)")
        }
    }

    func close() {
        client?.close()
        client = nil
    }
}

@available(*, unavailable, message: "a connection belongs to its component's thread")
extension DRPCInvocationsConnection: Sendable {}
