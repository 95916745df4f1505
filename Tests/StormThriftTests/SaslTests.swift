import Foundation
import Locking
import Logging
import Testing

@testable import StormThrift

/// Answers getNimbusConf with the principal its connection authenticated as.
private struct PrincipalProbe: NimbusHandler {
    func getNimbusConf() async throws -> String { ThriftConnection.principal ?? "nobody" }
}

@Suite(.serialized) struct SaslTests {
    /// RFC 2831 section 4's worked example: the response and rspauth of user chris with password secret.
    @Test func digestValuesMatchTheRFCExample() {
        let inputs = (
            user: "chris", realm: "elwood.innosoft.com", password: "secret", nonce: "OA6MG9tEQGm2hh",
            cnonce: "OA6MHXh6VqTrRk", uri: "imap/elwood.innosoft.com"
        )
        #expect(
            ThriftSasl.digestResponse(
                user: inputs.user, realm: inputs.realm, password: inputs.password, nonce: inputs.nonce,
                cnonce: inputs.cnonce, digestURI: inputs.uri) == "d388dad90d4bbd760a152321f2143af7")
        #expect(
            ThriftSasl.digestResponse(
                user: inputs.user, realm: inputs.realm, password: inputs.password, nonce: inputs.nonce,
                cnonce: inputs.cnonce, digestURI: inputs.uri, forServer: true) == "ea40f60335c427b5527b84dbabcdfffd")
    }

    private func withServer(
        mayActFor: ThriftImpersonationCheck? = nil, _ body: (Int) throws -> Void
    ) throws {
        let server = try ThriftServer(
            host: "127.0.0.1", port: 0, threads: 2, maxFrameSize: 65536,
            authentication: ThriftServerAuthentication(users: ["alice": "alice-pw", "bob": "bob-pw"]),
            mayActFor: mayActFor, logger: Logger(label: "test")
        ) { method, input in
            try NimbusDispatcher.dispatch(method, input: input, handler: PrincipalProbe())
        }
        defer { server.stop() }
        try body(server.port)
    }

    @Test func anAuthenticatedCallKnowsItsPrincipal() throws {
        try withServer { port in
            for (user, password) in [("alice", "alice-pw"), ("bob", "bob-pw")] {
                let client = try NimbusClient(
                    host: "127.0.0.1", port: port,
                    credentials: ThriftClientCredentials(user: user, password: password))
                #expect(try client.getNimbusConf() == user)
                #expect(try client.getNimbusConf() == user)
                client.close()
            }
        }
    }

    @Test func aClientActsForAnotherUserOnlyWhenTheServerLetsIt() throws {
        let asked = Locked<[String]>([])
        try withServer(mayActFor: { user, actingFor, address in
            asked.withLock { $0.append("\(user)>\(actingFor)@\(address)") }
            return user == "alice" && actingFor == "carol"
        }) { port in
            let acting = try NimbusClient(
                host: "127.0.0.1", port: port,
                credentials: ThriftClientCredentials(user: "alice", password: "alice-pw", actingFor: "carol"))
            #expect(try acting.getNimbusConf() == "carol")
            acting.close()
            do {
                _ = try NimbusClient(
                    host: "127.0.0.1", port: port,
                    credentials: ThriftClientCredentials(user: "bob", password: "bob-pw", actingFor: "carol"))
                Issue.record("bob acted for carol")
            } catch let error as ThriftTransportError {
                #expect(error.message.hasSuffix("authentication as 'bob' refused: user bob may not act for carol"))
            }
            // Acting for oneself is no request at all.
            let own = try NimbusClient(
                host: "127.0.0.1", port: port,
                credentials: ThriftClientCredentials(user: "bob", password: "bob-pw").acting(for: "bob"))
            #expect(try own.getNimbusConf() == "bob")
            own.close()
        }
        #expect(asked.withLock { $0 } == ["alice>carol@127.0.0.1", "bob>carol@127.0.0.1"])
        // A server with no rule lets nobody act for another.
        try withServer { port in
            #expect(throws: ThriftTransportError.self) {
                try NimbusClient(
                    host: "127.0.0.1", port: port,
                    credentials: ThriftClientCredentials(user: "alice", password: "alice-pw", actingFor: "bob"))
            }
        }
    }

    @Test func aWrongPasswordOrUnknownUserIsRefusedWithTheReason() throws {
        try withServer { port in
            for (user, password) in [("alice", "bob-pw"), ("mallory", "x")] {
                do {
                    _ = try NimbusClient(
                        host: "127.0.0.1", port: port,
                        credentials: ThriftClientCredentials(user: user, password: password))
                    Issue.record("\(user) authenticated with a wrong password")
                } catch let error as ThriftTransportError {
                    #expect(error.message.hasSuffix("authentication as '\(user)' refused: wrong user name or password"))
                }
            }
        }
    }

    @Test func anUnauthenticatedClientIsToldTheServerRequiresAuthentication() throws {
        try withServer { port in
            let client = try NimbusClient(host: "127.0.0.1", port: port)
            do {
                _ = try client.getNimbusConf()
                Issue.record("an unauthenticated call was served")
            } catch let error as ThriftTransportError {
                #expect(error.message.contains("127.0.0.1:\(port) requires authentication"))
            }
        }
    }

    /// A client that connects and says nothing, or speaks slowly, holds up no one else's authentication.
    @Test func silentConnectionsDoNotBlockOthers() throws {
        try withServer { port in
            var silent: [Int32] = []
            defer { silent.forEach { close($0) } }
            for _ in 0..<200 {
                let fd = try connectedSocket(port: port)
                // Half a SASL header: the server waits for the rest.
                var partial: [UInt8] = [1, 0]
                _ = send(fd, &partial, 2, 0)
                silent.append(fd)
            }
            let started = Date()
            let client = try NimbusClient(
                host: "127.0.0.1", port: port, credentials: ThriftClientCredentials(user: "bob", password: "bob-pw"))
            #expect(try client.getNimbusConf() == "bob")
            #expect(Date().timeIntervalSince(started) < 1)
        }
    }
}
