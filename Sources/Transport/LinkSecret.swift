internal import COpenSSL

/// A topology's secret, which authenticates the connections between its workers: after the hello, the receiver
/// sends a random challenge and the sender answers HMAC-SHA256(secret, challenge ‖ topology id). The secret never
/// crosses the network, and a proof is good for one challenge only, so a recorded connection cannot be replayed.
public struct LinkSecret: Sendable, Equatable {
    static let challengeBytes = 32
    static let proofBytes = 32
    private let key: [UInt8]

    /// Nil for an empty secret, which would authenticate nothing.
    public init?(_ text: String) {
        guard !text.isEmpty else { return nil }
        key = Array(text.utf8)
    }

    static func challenge() -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<challengeBytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    func proof(challenge: [UInt8], name: String) -> [UInt8] {
        let message = challenge + Array(name.utf8)
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &out, &length)
        return Array(out.prefix(Int(length)))
    }

    func verifies(_ proof: [UInt8], challenge: [UInt8], name: String) -> Bool {
        let expected = self.proof(challenge: challenge, name: name)
        return proof.count == expected.count && CRYPTO_memcmp(proof, expected, expected.count) == 0
    }
}
