import Foundation
import Locking
import Logging
import TestSupport
import Testing

@testable import Transport

/// Worker links of a topology with a secret: only a sender that proves it knows the secret gets a frame through.
@Suite struct LinkSecretTests {
    let logger = Logger(label: "link-secret-test")
    let secret = LinkSecret("the topology's secret")!

    func server(into received: Locked<[[UInt8]]>) throws -> FrameServer {
        let s = FrameServer(host: "127.0.0.1", port: 0, name: "topo-1-1", secret: secret, logger: logger) { bytes, _ in
            let copy = [UInt8](bytes)
            received.withLock { $0.append(copy) }
        }
        try s.start()
        return s
    }

    func closedByServer(_ socket: Socket) -> Bool {
        var byte: UInt8 = 0
        let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
        while true {
            do {
                guard try socket.read(into: &byte, count: 1, deadline: deadline) != 0 else { return true }
            } catch {
                return "\(error)".contains("reset")
            }
        }
    }

    @Test func aProofIsHMACSHA256OfTheChallengeAndTopologyAndGoodForThatChallengeOnly() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let jefe = LinkSecret("Jefe")!
        let proof = jefe.proof(challenge: Array("what do ya want ".utf8), name: "for nothing?")
        #expect(
            proof.map { String(format: "%02x", $0) }.joined()
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let challenge = LinkSecret.challenge()
        #expect(challenge.count == 32 && challenge != LinkSecret.challenge())
        let good = secret.proof(challenge: challenge, name: "topo-1-1")
        #expect(secret.verifies(good, challenge: challenge, name: "topo-1-1"))
        #expect(!secret.verifies(good, challenge: LinkSecret.challenge(), name: "topo-1-1"))
        #expect(!secret.verifies(good, challenge: challenge, name: "topo-2-2"))
        #expect(!LinkSecret("another secret")!.verifies(good, challenge: challenge, name: "topo-1-1"))
        #expect(LinkSecret("") == nil)
    }

    @Test func aSenderWithTheSecretGetsThrough() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let sender = PeerSender(host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: secret, logger: logger)
        for i in 0..<100 { sender.send(Frames.frame([UInt8(i)])) }
        #expect(await eventually { received.withLock { $0.count } == 100 })
        #expect(received.withLock { $0 } == (0..<100).map { [UInt8($0)] })
        sender.close()
    }

    /// The attack of issue 19: a hello naming the (public) topology id, then a batch. Without the secret, or with
    /// another, nothing is handed over and the connection is closed.
    @Test func aForgedHelloAndBatchOrAWrongSecretIsRefused() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let forger = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        try forger.writeAll(Frames.hello("topo-1-1") + Frames.frame([1, 2, 3]))
        #expect(closedByServer(forger))
        let impostor = PeerSender(
            host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: LinkSecret("a guess")!, logger: logger)
        impostor.send(Frames.frame([4]))
        let unprepared = PeerSender(host: "127.0.0.1", port: s.port, name: "topo-1-1", logger: logger)
        unprepared.send(Frames.frame([5]))
        let friend = PeerSender(host: "127.0.0.1", port: s.port, name: "topo-1-1", secret: secret, logger: logger)
        friend.send(Frames.frame([9]))
        #expect(await eventually { received.withLock { $0 } == [[9]] })
        try await Task.sleep(for: .milliseconds(300))  // checks an absence: the others' frames never arrive
        #expect(received.withLock { $0 } == [[9]])
        for sender in [impostor, unprepared] { sender.close(flushTimeout: 0.2) }
        friend.close()
    }
}
