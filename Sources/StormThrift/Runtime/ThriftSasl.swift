internal import CThriftBridge

/// SASL DIGEST-MD5 as Storm's DigestSaslTransportPlugin speaks it: the service and realm its server names, so a
/// client built with Storm's settings (Java's SASL, or Python's thrift_sasl with pure-sasl) authenticates
/// unchanged.
public enum ThriftSasl {
    public static let service = "storm_thrift_server"
    public static let realm = "localhost"

    /// RFC 2831's response value (or, `forServer`, the rspauth value) for these inputs, with nonce count 1.
    public static func digestResponse(
        user: String, realm: String, password: String, nonce: String, cnonce: String, digestURI: String,
        forServer: Bool = false
    ) -> String {
        var out = [CChar](repeating: 0, count: 33)
        tb_digest_md5_response(user, realm, password, nonce, cnonce, digestURI, forServer ? 1 : 0, &out)
        return String(decoding: out.prefix(32).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The users a server accepts, with their passwords (a JAAS file's `StormServer` section).
public struct ThriftServerAuthentication: Sendable, Equatable {
    public var users: [String: String]
    /// How long a client may take to authenticate before its connection is closed.
    public var handshakeTimeoutMillis: Int

    public init(users: [String: String], handshakeTimeoutMillis: Int = 10_000) {
        self.users = users
        self.handshakeTimeoutMillis = handshakeTimeoutMillis
    }
}

/// Whether an authenticated `user`, connecting from `peerAddress`, may act for the user `actingFor` (as the UI
/// acts for the user it serves). Asked once per connection, on the server's authentication thread.
public typealias ThriftImpersonationCheck =
    @Sendable (_ user: String, _ actingFor: String, _ peerAddress: String) -> Bool

/// Who a client authenticates as (a JAAS file's `StormClient` section), and the user it acts for, if any.
public struct ThriftClientCredentials: Sendable, Equatable {
    public var user: String
    public var password: String
    /// SASL's authorization id: the server treats the connection's calls as this user's, if it lets `user` act
    /// for them.
    public var actingFor: String?

    public init(user: String, password: String, actingFor: String? = nil) {
        self.user = user
        self.password = password
        self.actingFor = actingFor
    }

    /// The same login, acting for `user` (nil or the login's own user: acting for nobody else).
    public func acting(for user: String?) -> ThriftClientCredentials {
        ThriftClientCredentials(user: self.user, password: password, actingFor: user == self.user ? nil : user)
    }
}
