import Foundation
import Logging
import Testing

@testable import StormThrift

#if canImport(Glibc)
import Glibc
#endif

/// A handler with a few methods, enough to exercise the server, the client and the dispatcher.
struct ProbeHandler: NimbusHandler {
    func getNimbusConf() async throws -> String { #"{"nimbus.thrift.port":6627}"# }
    func killTopology(name: String) async throws { throw NotAliveException(msg: "topology '\(name)' is not alive") }
    func submitTopology(
        name: String, uploadedJarLocation: String, jsonConf: String, topology: StormTopology
    ) async throws {
        if topology.spouts.isEmpty { throw InvalidTopologyException(msg: "no spouts") }
    }
    func uploadChunk(location: String, chunk: [UInt8]) async throws {}
    func getTopologyInfo(id: String) async throws -> TopologyInfo {
        struct Boom: Error {}
        throw Boom()
    }
    func isTopologyNameAllowed(name: String) async throws -> Bool { name == "ok" }
    /// The connection the call came on, as the server's bridge passes it to the task.
    func beginFileUpload() async throws -> String { ThriftConnection.current.map { "\($0)" } ?? "none" }
}

@Suite(.serialized) struct ServerClientTests {
    static let maxFrame = 64 * 1024

    private func withServer(_ body: (Int) throws -> Void) throws {
        let handler = ProbeHandler()
        let server = try ThriftServer(
            host: "127.0.0.1", port: 0, threads: 4, maxFrameSize: Self.maxFrame, logger: Logger(label: "test")
        ) { method, input in
            try NimbusDispatcher.dispatch(method, input: input, handler: handler)
        }
        defer { server.stop() }
        #expect(server.port > 0)
        try body(server.port)
    }

    @Test func callsAndDeclaredExceptionsCrossTheWire() throws {
        try withServer { port in
            let client = try NimbusClient(host: "127.0.0.1", port: port)
            #expect(try client.getNimbusConf() == #"{"nimbus.thrift.port":6627}"#)
            #expect(try client.isTopologyNameAllowed(name: "ok"))
            #expect(try !client.isTopologyNameAllowed(name: "no"))
            #expect(throws: NotAliveException(msg: "topology 'x' is not alive")) { try client.killTopology(name: "x") }
            let empty = StormTopology(spouts: [:], bolts: [:], stateSpouts: [:])
            #expect(throws: InvalidTopologyException(msg: "no spouts")) {
                try client.submitTopology(name: "t", uploadedJarLocation: "", jsonConf: "{}", topology: empty)
            }
        }
    }

    /// Each call runs as a task with the connection it came on as `ThriftConnection.current`.
    @Test func aCallKnowsItsConnection() throws {
        try withServer { port in
            let one = try NimbusClient(host: "127.0.0.1", port: port)
            let other = try NimbusClient(host: "127.0.0.1", port: port)
            let first = try one.beginFileUpload()
            #expect(first != "none")
            #expect(try one.beginFileUpload() == first)
            #expect(try other.beginFileUpload() != first)
        }
    }

    @Test func unsupportedMethodIsAnApplicationErrorAndTheConnectionStaysUsable() throws {
        try withServer { port in
            let client = try NimbusClient(host: "127.0.0.1", port: port)
            do {
                _ = try client.getLogConfig(name: "t")
                Issue.record("getLogConfig succeeded")
            } catch let error as ThriftApplicationException {
                #expect(error.kind == .unknownMethod)
                #expect(error.message.contains("getLogConfig"))
            }
            #expect(try client.getNimbusConf().contains("6627"))
        }
    }

    @Test func undeclaredHandlerErrorIsAnInternalError() throws {
        try withServer { port in
            let client = try NimbusClient(host: "127.0.0.1", port: port)
            do {
                _ = try client.getTopologyInfo(id: "x")
                Issue.record("getTopologyInfo succeeded")
            } catch let error as ThriftApplicationException {
                #expect(error.kind == .internalError)
                #expect(error.message.contains("getTopologyInfo"))
            }
            #expect(try client.isTopologyNameAllowed(name: "ok"))
        }
    }

    @Test func methodUnknownToTheIDLIsAnswered() throws {
        try withServer { port in
            let client = try ThriftClient(host: "127.0.0.1", port: port)
            do {
                _ = try client.call("noSuchMethod", KillOptions(waitSecs: 1), as: KillOptions.self)
                Issue.record("an unknown method succeeded")
            } catch let error as ThriftApplicationException {
                #expect(error.kind == .unknownMethod)
                #expect(error.message.contains("noSuchMethod"))
            }
        }
    }

    @Test func oversizedFrameClosesOnlyThatConnection() throws {
        try withServer { port in
            let bystander = try NimbusClient(host: "127.0.0.1", port: port)
            #expect(try bystander.isTopologyNameAllowed(name: "ok"))
            // A client whose frame limit is larger than the server's sends a chunk the server must refuse.
            let big = try NimbusClient(host: "127.0.0.1", port: port, maxFrameSize: 4 * Self.maxFrame)
            #expect(throws: ThriftTransportError.self) {
                try big.uploadChunk(location: "l", chunk: [UInt8](repeating: 7, count: 2 * Self.maxFrame))
            }
            #expect(try bystander.isTopologyNameAllowed(name: "ok"))
            let fresh = try NimbusClient(host: "127.0.0.1", port: port)
            #expect(try fresh.getNimbusConf().contains("6627"))
        }
    }

    @Test func garbageBytesCloseOnlyThatConnection() throws {
        try withServer { port in
            let bystander = try NimbusClient(host: "127.0.0.1", port: port)
            for garbage in [
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), [0, 0, 0, 5, 1, 2, 3, 4, 5], [0xff, 0xff, 0xff, 0xff],
            ] {
                #expect(try rawExchange(port: port, bytes: garbage) == .closed)
            }
            #expect(try bystander.getNimbusConf().contains("6627"))
        }
    }

    @Test func closedPortIsAConnectionError() throws {
        var port = 0
        try withServer { port = $0 }
        let started = Date()
        #expect(throws: ThriftTransportError.self) { try NimbusClient(host: "127.0.0.1", port: port) }
        #expect(Date().timeIntervalSince(started) < 5)
    }
}

enum RawOutcome: Equatable { case closed, answered }

/// Sends bytes on a fresh TCP connection and reports whether the server closes it (within 5 s).
func rawExchange(port: Int, bytes: [UInt8]) throws -> RawOutcome {
    let fd = try connectedSocket(port: port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { return .closed }
        if n < 0 { return errno == ECONNRESET ? .closed : .answered }
    }
}

/// A TCP connection to 127.0.0.1:`port`, as a bare descriptor the caller closes.
func connectedSocket(port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else {
        close(fd)
        throw POSIXError(.ECONNREFUSED)
    }
    return fd
}
