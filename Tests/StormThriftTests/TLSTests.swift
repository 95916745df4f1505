import Foundation
import Logging
import TestSupport
import Testing

@testable import StormThrift

/// Answers getNimbusConf with the principal of its connection.
private struct CertificateProbe: NimbusHandler {
    func getNimbusConf() async throws -> String { ThriftConnection.principal ?? "nobody" }
}

private typealias Certificates = TestCertificates

@Suite(.serialized) struct TLSTests {
    private func withServer(requireClientCertificate: Bool = true, _ body: (Int) throws -> Void) throws {
        let server = try ThriftServer(
            host: "127.0.0.1", port: 0, threads: 2, maxFrameSize: 65536,
            tls: ThriftTLS(
                keystorePath: Certificates.path("server.p12"), keystorePassword: "server-pw",
                truststorePath: Certificates.path("ca.crt"), requirePeerCertificate: requireClientCertificate),
            logger: Logger(label: "test")
        ) { method, input in
            try NimbusDispatcher.dispatch(method, input: input, handler: CertificateProbe())
        }
        defer { server.stop() }
        try body(server.port)
    }

    private func call(_ port: Int, _ tls: ThriftTLS?, host: String = "127.0.0.1") throws -> String {
        let client = try NimbusClient(host: host, port: port, ioTimeoutMillis: 5_000, tls: tls)
        defer { client.close() }
        return try client.getNimbusConf()
    }

    @Test func aClientIsKnownByItsCertificate() throws {
        try withServer { port in
            let fromP12 = ThriftTLS(
                keystorePath: Certificates.path("alice.p12"), keystorePassword: "alice-pw",
                truststorePath: Certificates.path("ca.crt"))
            let fromPEM = ThriftTLS(
                keystorePath: Certificates.path("alice.pem"), truststorePath: Certificates.path("ca.crt"))
            let answers = [
                try call(port, fromP12), try call(port, fromPEM), try call(port, fromPEM, host: "localhost"),
            ]
            #expect(answers == Array(repeating: "CN=alice,O=storm", count: 3))
        }
    }

    @Test func clientsWithoutATrustedCertificateAndServersWithoutOneAreRefused() throws {
        try withServer { port in
            let trusting = Certificates.path("ca.crt")
            let refused: [(String, ThriftTLS?)] = [
                ("no certificate", ThriftTLS(truststorePath: trusting)),
                (
                    "a certificate of another CA",
                    ThriftTLS(keystorePath: Certificates.path("mallory.pem"), truststorePath: trusting)
                ),
                ("no TLS", nil),
                (
                    "a server it does not trust",
                    ThriftTLS(
                        keystorePath: Certificates.path("alice.pem"), truststorePath: Certificates.path("rogue.crt"))
                ),
            ]
            for (what, tls) in refused {
                #expect(throws: (any Error).self, "a client with \(what) was served") { try call(port, tls) }
            }
            // The refusals did not stop the server, nor does a connection that never starts its handshake.
            let silent = try NimbusClient(host: "127.0.0.1", port: port)
            defer { silent.close() }
            let after = try call(
                port, ThriftTLS(keystorePath: Certificates.path("alice.pem"), truststorePath: trusting))
            #expect(after == "CN=alice,O=storm")
        }
        try withServer(requireClientCertificate: false) { port in
            let anonymous = try call(port, ThriftTLS(truststorePath: Certificates.path("ca.crt")))
            #expect(anonymous == "nobody")
        }
    }

    @Test func aKeystoreThatCannotBeReadIsNamedWithTheReason() throws {
        let jks = Certificates.path("server.jks")
        try Data([0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).write(to: URL(fileURLWithPath: jks))
        for (keystore, password, reason) in [
            (jks, "x", "is a Java KeyStore (JKS), which this build cannot read"),
            (Certificates.path("server.p12"), "wrong", "is a PKCS#12 keystore this password does not open"),
            (Certificates.path("missing.p12"), "x", "cannot be read"),
        ] {
            do {
                _ = try ThriftServer(
                    host: "127.0.0.1", port: 0, threads: 1, maxFrameSize: 65536,
                    tls: ThriftTLS(keystorePath: keystore, keystorePassword: password, requirePeerCertificate: false),
                    logger: Logger(label: "test")
                ) { _, _ in nil }
                Issue.record("a server started with \(keystore)")
            } catch let error as ThriftTransportError {
                #expect(error.message.contains("TLS: '\(keystore)' \(reason)"), "\(error.message)")
            }
        }
    }
}
