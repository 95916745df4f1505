import StormThrift

/// Nimbus over TLS, with Storm's keys: nimbus serves a second Thrift port with TLS (`nimbus.thrift.tls.port`,
/// or only that one with `nimbus.thrift.tls.server.only`), whose clients show a certificate
/// (`nimbus.thrift.tls.client.auth.required`, default true) and are known by its subject; clients with
/// `nimbus.thrift.client.use.tls` connect there.
public enum NimbusTLS {
    public static let portKey = "nimbus.thrift.tls.port"
    public static let serverOnlyKey = "nimbus.thrift.tls.server.only"
    public static let clientUseKey = "nimbus.thrift.client.use.tls"
    public static let clientAuthRequiredKey = "nimbus.thrift.tls.client.auth.required"

    /// The TLS port nimbus serves; nil when it serves none.
    public static func port(_ conf: StormConfig) throws(ConfigError) -> Int? {
        guard let value = conf[portKey], !value.isNull else { return nil }
        guard let port = value.intValue.map(Int.init), (0..<65_536).contains(port) else {
            throw .wrongType(portKey, expected: "a port number (0: no TLS port)", got: value)
        }
        return port > 0 ? port : nil
    }

    /// Whether nimbus serves the TLS port alone.
    public static func serverOnly(_ conf: StormConfig) throws(ConfigError) -> Bool {
        let only = try conf.flag(serverOnlyKey, default: false)
        if only, try port(conf) == nil {
            throw .invalid(serverOnlyKey, reason: "is true, but \(portKey) names no port to serve")
        }
        return only
    }

    /// What nimbus' TLS port presents and trusts; nil when it serves none.
    public static func server(_ conf: StormConfig) throws(ConfigError) -> ThriftTLS? {
        guard try port(conf) != nil else { return nil }
        let prefix = "nimbus.thrift.tls.server."
        guard let keystore = try conf.optionalText(prefix + "keystore.path") else {
            throw .invalid(portKey, reason: "is set, but \(prefix)keystore.path (nimbus' certificate and key) is not")
        }
        let required = try conf.flag(clientAuthRequiredKey, default: true)
        let truststore = try conf.optionalText(prefix + "truststore.path")
        if required && truststore == nil {
            throw .invalid(
                clientAuthRequiredKey,
                reason: "is true, but \(prefix)truststore.path (what clients' certificates must chain to) is not set")
        }
        return ThriftTLS(
            keystorePath: keystore, keystorePassword: try conf.optionalText(prefix + "keystore.password"),
            truststorePath: truststore, truststorePassword: try conf.optionalText(prefix + "truststore.password"),
            requirePeerCertificate: required)
    }

    /// How a client reaches nimbus over TLS; nil unless `nimbus.thrift.client.use.tls`.
    public static func client(_ conf: StormConfig) throws(ConfigError) -> ThriftTLS? {
        guard try conf.flag(clientUseKey, default: false) else { return nil }
        let prefix = "nimbus.thrift.tls.client."
        for key in ["cert.path", "key.path"] where try conf.optionalText(prefix + key) != nil {
            throw .invalid(
                prefix + key,
                reason:
                    "is not read here: give the certificate and its key in one keystore, \(prefix)keystore.path (PKCS#12, or PEM holding both)"
            )
        }
        return ThriftTLS(
            keystorePath: try conf.optionalText(prefix + "keystore.path"),
            keystorePassword: try conf.optionalText(prefix + "keystore.password"),
            truststorePath: try conf.optionalText(prefix + "truststore.path"),
            truststorePassword: try conf.optionalText(prefix + "truststore.password"))
    }
}
