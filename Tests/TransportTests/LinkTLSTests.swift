import Foundation
import Locking
import Logging
import TestSupport
import Testing

@testable import Transport

/// Worker links over TLS: frames pass between workers whose certificates chain to the cluster's CA, encrypted;
/// a peer without such a certificate, or not speaking TLS, gets no frame through.
@Suite struct LinkTLSTests {
    let logger = Logger(label: "link-tls-test")

    func tls(_ name: String, trusting ca: String = "ca.crt") throws -> LinkTLS {
        try LinkTLS(
            keystore: TestCertificates.path("\(name).p12"), keystorePassword: "\(name)-pw",
            truststore: TestCertificates.path(ca), truststorePassword: nil)
    }

    func server(into received: Locked<[[UInt8]]>) throws -> FrameServer {
        let s = FrameServer(
            host: "127.0.0.1", port: 0, name: "topo-1-1", secret: LinkSecret("the secret"), tls: try tls("server"),
            logger: logger
        ) { bytes, _ in
            let copy = [UInt8](bytes)
            received.withLock { $0.append(copy) }
        }
        try s.start()
        return s
    }

    @Test func framesPassBetweenTrustedWorkersEncrypted() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let sender = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("the secret"),
            tls: try tls("alice"), logger: logger)
        // Frames big and small, so records split and join across reads.
        let frames = (0..<200).map { i in Frames.frame([UInt8](repeating: UInt8(i % 251), count: 1 + i * 97 % 70_000)) }
        for frame in frames { sender.send(frame) }
        #expect(await eventually { received.withLock { $0.count } == frames.count })
        #expect(received.withLock { $0 } == frames.map { Array($0.dropFirst(Frames.headerSize)) })
        sender.close()
    }

    @Test func peersWithoutATrustedCertificateOrWithoutTLSGetNothingThrough() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let rogue = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("the secret"),
            tls: try tls("mallory", trusting: "rogue.crt"), logger: logger)
        rogue.send(Frames.frame([1]))
        let plain = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("the secret"), logger: logger)
        plain.send(Frames.frame([2]))
        // A sender that trusts another CA refuses the server, whatever it presents.
        let distrustful = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("the secret"),
            tls: try tls("alice", trusting: "rogue.crt"), logger: logger)
        distrustful.send(Frames.frame([3]))
        let friend = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("the secret"),
            tls: try tls("bob"), logger: logger)
        friend.send(Frames.frame([9]))
        #expect(await eventually { received.withLock { $0 } == [[9]] })
        try await Task.sleep(for: .milliseconds(300))  // checks an absence: the others' frames never arrive
        #expect(received.withLock { $0 } == [[9]])
        for sender in [rogue, plain, distrustful] { sender.close(flushTimeout: 0.2) }
        friend.close()
    }

    @Test func aKeystoreOrTruststoreThatCannotBeUsedIsNamed() {
        for (keystore, truststore, reason) in [
            ("alice.p12", "ca.crt", "is a PKCS#12 keystore this password does not open"),
            ("missing.p12", "ca.crt", "cannot be read"),
            ("alice.pem", "missing.crt", "cannot be read"),
        ] {
            do {
                _ = try LinkTLS(
                    keystore: TestCertificates.path(keystore), keystorePassword: "wrong",
                    truststore: TestCertificates.path(truststore), truststorePassword: nil)
                Issue.record("\(keystore) with \(truststore) was accepted")
            } catch {
                #expect(error.description.contains(reason), "\(error)")
            }
        }
    }
}
