import Foundation
import NIOSSL
import StormCore

/// An HTTP daemon's TLS side, from Storm's keys: `<daemon>.https.port`, `.keystore.path` with
/// `.keystore.password` (and `.key.password` for an encrypted PEM key), and, to ask clients for certificates,
/// `.truststore.path` with `.need.client.auth` or `.want.client.auth`.
///
/// A keystore is read by its content: PKCS#12 (what `keytool -deststoretype PKCS12` and `openssl pkcs12 -export`
/// write) or PEM (the certificate chain and its private key in one file). A Java KeyStore (JKS), Storm's default
/// type, cannot be read here: the error says how to convert it. A truststore is PEM certificates.
public struct HTTPSListener: Sendable {
    public let port: Int
    public let tls: TLSConfiguration

    /// nil when `<daemon>.https.port` is unset or not positive.
    init?(_ daemon: HTTPDaemon, conf: StormConfig) throws(ConfigError) {
        let prefix = daemon.httpsPrefix
        guard let portValue = conf[prefix + "port"], !portValue.isNull else { return nil }
        guard let port = portValue.intValue.map(Int.init) else {
            throw .wrongType(prefix + "port", expected: "a port number", got: portValue)
        }
        guard port > 0 else { return nil }
        guard port < 65_536 else { throw .invalid(prefix + "port", reason: "is \(port), which is not a port") }
        func string(_ key: String) throws(ConfigError) -> String? { try conf.optionalText(prefix + key) }
        guard let keystore = try string("keystore.path") else {
            throw .invalid(
                prefix + "port", reason: "is set, but \(prefix)keystore.path (the server's certificate and key) is not")
        }
        let (chain, key) = try Self.readKeystore(
            keystore, key: prefix + "keystore.path", password: try string("keystore.password"),
            keyPassword: try string("key.password"))
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        let need = try conf.flag(prefix + "need.client.auth", default: false)
        let want = try conf.flag(prefix + "want.client.auth", default: false)
        if need || want {
            guard let truststore = try string("truststore.path") else {
                throw .invalid(
                    prefix + (need ? "need" : "want") + ".client.auth",
                    reason:
                        "is true, but \(prefix)truststore.path (the certificates clients' certificates must chain to) is not set"
                )
            }
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(truststore))
            } catch {
                throw .invalid(prefix + "truststore.path", reason: "'\(truststore)' is not PEM certificates: \(error)")
            }
            tls.certificateVerification = need ? .noHostnameVerification : .optionalVerification
        }
        self.port = port
        self.tls = tls
    }

    static func readKeystore(
        _ path: String, key: String, password: String?, keyPassword: String?
    ) throws(ConfigError) -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw .invalid(key, reason: "'\(path)' cannot be read: \((error as NSError).localizedDescription)")
        }
        if bytes.starts(with: [0xFE, 0xED, 0xFE, 0xED]) {
            throw .invalid(
                key,
                reason:
                    "'\(path)' is a Java KeyStore (JKS), which this build cannot read: convert it with keytool -importkeystore -srckeystore \(path) -destkeystore server.p12 -deststoretype PKCS12"
            )
        }
        if String(decoding: bytes.prefix(4096), as: UTF8.self).contains("-----BEGIN") {
            do {
                let chain = try NIOSSLCertificate.fromPEMBytes(bytes)
                // Always a callback: without one, an encrypted key makes BoringSSL prompt on the terminal.
                let secret = Array((keyPassword ?? password ?? "").utf8)
                let privateKey = try NIOSSLPrivateKey(bytes: bytes, format: .pem) { $0(secret) }
                guard !chain.isEmpty else { throw ConfigError.invalid(key, reason: "'\(path)' holds no certificate") }
                return (chain, privateKey)
            } catch let error as ConfigError {
                throw error
            } catch {
                throw .invalid(
                    key, reason: "'\(path)' is PEM but not a certificate chain with its private key: \(error)")
            }
        }
        do {
            let bundle = try NIOSSLPKCS12Bundle(buffer: bytes, passphrase: Array((password ?? "").utf8))
            return (bundle.certificateChain, bundle.privateKey)
        } catch {
            throw .invalid(
                key, reason: "'\(path)' is neither a PKCS#12 keystore this password opens nor PEM: \(error)")
        }
    }
}
