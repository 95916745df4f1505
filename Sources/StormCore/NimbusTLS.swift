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
        let only = try flag(conf, serverOnlyKey, default: false)
        if only, try port(conf) == nil {
            throw .invalid(serverOnlyKey, reason: "is true, but \(portKey) names no port to serve")
        }
        return only
    }

    /// What nimbus' TLS port presents and trusts; nil when it serves none.
    public static func server(_ conf: StormConfig) throws(ConfigError) -> ThriftTLS? {
        guard try port(conf) != nil else { return nil }
        let prefix = "nimbus.thrift.tls.server."
        guard let keystore = try string(conf, prefix + "keystore.path") else {
            throw .invalid(portKey, reason: "is set, but \(prefix)keystore.path (nimbus' certificate and key) is not")
        }
        let required = try flag(conf, clientAuthRequiredKey, default: true)
        let truststore = try string(conf, prefix + "truststore.path")
        if required && truststore == nil {
            throw .invalid(
                clientAuthRequiredKey,
                reason: "is true, but \(prefix)truststore.path (what clients' certificates must chain to) is not set")
        }
        return ThriftTLS(
            keystorePath: keystore, keystorePassword: try string(conf, prefix + "keystore.password"),
            truststorePath: truststore, truststorePassword: try string(conf, prefix + "truststore.password"),
            requirePeerCertificate: required)
    }

    /// How a client reaches nimbus over TLS; nil unless `nimbus.thrift.client.use.tls`.
    public static func client(_ conf: StormConfig) throws(ConfigError) -> ThriftTLS? {
        guard try flag(conf, clientUseKey, default: false) else { return nil }
        let prefix = "nimbus.thrift.tls.client."
        for key in ["cert.path", "key.path"] where try string(conf, prefix + key) != nil {
            throw .invalid(
                prefix + key,
                reason:
                    "is not read here: give the certificate and its key in one keystore, \(prefix)keystore.path (PKCS#12, or PEM holding both)"
            )
        }
        return ThriftTLS(
            keystorePath: try string(conf, prefix + "keystore.path"),
            keystorePassword: try string(conf, prefix + "keystore.password"),
            truststorePath: try string(conf, prefix + "truststore.path"),
            truststorePassword: try string(conf, prefix + "truststore.password"))
    }

    private static func string(_ conf: StormConfig, _ key: String) throws(ConfigError) -> String? {
        guard let value = conf[key], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw .wrongType(key, expected: "text", got: value) }
        return text.isEmpty ? nil : text
    }

    private static func flag(_ conf: StormConfig, _ key: String, default fallback: Bool) throws(ConfigError) -> Bool {
        guard let value = conf[key], !value.isNull else { return fallback }
        guard let flag = value.boolValue else { throw .wrongType(key, expected: "true or false", got: value) }
        return flag
    }
}
