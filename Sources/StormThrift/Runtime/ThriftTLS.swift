internal import CThriftBridge

/// TLS on a Thrift connection, as Storm's TlsTransportPlugin: this end's certificate and key (a keystore, PKCS#12
/// or PEM) and the certificates the other end's must chain to (a truststore, PEM or PKCS#12). A server with
/// `requirePeerCertificate` refuses clients that show none, and names each call's principal by the subject of the
/// client's certificate; a client checks the server's certificate and that it names the host connected to.
public struct ThriftTLS: Sendable, Equatable {
    public var keystorePath: String?
    public var keystorePassword: String?
    public var truststorePath: String?
    public var truststorePassword: String?
    public var requirePeerCertificate: Bool

    public init(
        keystorePath: String? = nil, keystorePassword: String? = nil, truststorePath: String? = nil,
        truststorePassword: String? = nil, requirePeerCertificate: Bool = true
    ) {
        self.keystorePath = keystorePath
        self.keystorePassword = keystorePassword
        self.truststorePath = truststorePath
        self.truststorePassword = truststorePassword
        self.requirePeerCertificate = requirePeerCertificate
    }

    /// The C view of `tls`, valid inside `body`.
    static func withC<T>(_ tls: ThriftTLS?, _ body: (UnsafePointer<tb_tls>?) -> T) -> T {
        guard let tls else { return body(nil) }
        return withOptionalCString(tls.keystorePath) { keystore in
            withOptionalCString(tls.keystorePassword) { keystorePassword in
                withOptionalCString(tls.truststorePath) { truststore in
                    withOptionalCString(tls.truststorePassword) { truststorePassword in
                        var c = tb_tls(
                            keystore_path: keystore, keystore_password: keystorePassword,
                            truststore_path: truststore, truststore_password: truststorePassword,
                            require_peer_certificate: tls.requirePeerCertificate ? 1 : 0)
                        return body(&c)
                    }
                }
            }
        }
    }

    private static func withOptionalCString<T>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
        guard let text else { return body(nil) }
        return text.withCString { body($0) }
    }
}
