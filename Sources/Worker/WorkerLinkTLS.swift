import StormCore
import Transport

/// Storm's keys for TLS on worker links: `storm.messaging.netty.tls.enable`, the receiving side's
/// `storm.messaging.netty.tls.keystore.path` and `.truststore.path` (with their `.password`s), and the sending
/// side's `storm.messaging.netty.tls.client.keystore.path` and `.client.truststore.path` (the receiving side's when
/// unset).
enum WorkerLinkTLS {
    static let prefix = "storm.messaging.netty.tls."

    /// The links' TLS; nil unless enabled. A keystore that is missing or cannot be read is one line naming it.
    static func configured(_ conf: StormConfig) throws(ConfigError) -> LinkTLS? {
        let enableKey = prefix + "enable"
        guard try conf.flag(enableKey, default: false) else { return nil }
        func text(_ key: String) throws(ConfigError) -> String? { try conf.optionalText(prefix + key) }
        guard let keystore = try text("keystore.path") else {
            throw .invalid(
                enableKey, reason: "is true, but \(prefix)keystore.path (this worker's certificate and key) is not set")
        }
        guard let truststore = try text("truststore.path") else {
            throw .invalid(
                enableKey,
                reason: "is true, but \(prefix)truststore.path (what peers' certificates must chain to) is not set")
        }
        do {
            return try LinkTLS(
                keystore: keystore, keystorePassword: try text("keystore.password"), truststore: truststore,
                truststorePassword: try text("truststore.password"), clientKeystore: try text("client.keystore.path"),
                clientKeystorePassword: try text("client.keystore.password"),
                clientTruststore: try text("client.truststore.path"),
                clientTruststorePassword: try text("client.truststore.password"))
        } catch let error as ConfigError {
            throw error
        } catch {
            throw .invalid(prefix + "keystore.path", reason: "or a truststore cannot be used: \(error)")
        }
    }
}
