import Foundation
import StormThrift

/// A Thrift port of the cluster, each with Storm's own transport plugin key (falling back to
/// `storm.thrift.transport`, as Storm's ThriftConnectionType does).
public enum ThriftEndpoint: Sendable, CaseIterable {
    case nimbus, drpc, drpcInvocations

    public var transportKey: String {
        switch self {
        case .nimbus: "nimbus.thrift.transport"
        case .drpc: "drpc.thrift.transport"
        case .drpcInvocations: "drpc.invocations.thrift.transport"
        }
    }
}

/// How a Thrift port authenticates, from Storm's transport plugin keys and a JAAS file in Storm's form
/// (`java.security.auth.login.config`): servers know the users of its `StormServer` section (`user_NAME="pw"`),
/// clients log in with its `StormClient` section (`username`, `password`).
public enum ThriftSecurity {
    public static let simpleTransport = "org.apache.storm.security.auth.SimpleTransportPlugin"
    public static let digestTransport = "org.apache.storm.security.auth.digest.DigestSaslTransportPlugin"
    public static let genericTransportKey = "storm.thrift.transport"
    public static let jaasKey = "java.security.auth.login.config"
    public static let serverSection = "StormServer"
    public static let clientSection = "StormClient"

    /// Whether `endpoint` authenticates (DIGEST-MD5); a plugin this build does not have is refused.
    public static func authenticates(_ conf: StormConfig, _ endpoint: ThriftEndpoint) throws(ConfigError) -> Bool {
        let key = conf[endpoint.transportKey].map { $0.isNull } == false ? endpoint.transportKey : genericTransportKey
        guard let value = conf[key], !value.isNull else { return false }
        switch value.stringValue {
        case simpleTransport: return false
        case digestTransport: return true
        default:
            throw .invalid(
                key,
                reason:
                    "is \(value.display), which this build does not offer (only \(simpleTransport) and \(digestTransport)): refusing to go on rather than accept anyone"
            )
        }
    }

    /// The users `endpoint`'s server accepts; nil when it does not authenticate.
    public static func serverAuthentication(
        _ conf: StormConfig, _ endpoint: ThriftEndpoint
    ) throws(ConfigError) -> ThriftServerAuthentication? {
        guard try authenticates(conf, endpoint) else { return nil }
        let users = try serverUsers(conf)
        return ThriftServerAuthentication(users: users)
    }

    /// The users and passwords of the JAAS file's `StormServer` section, which servers accept (on Thrift ports and,
    /// with basic authentication, on HTTP ports).
    public static func serverUsers(_ conf: StormConfig) throws(ConfigError) -> [String: String] {
        let (path, options) = try section(serverSection, of: conf)
        var users: [String: String] = [:]
        for (key, password) in options where key.hasPrefix("user_") {
            let user = String(key.dropFirst("user_".count))
            guard !user.isEmpty else {
                throw .invalid(
                    jaasKey, reason: "'\(path)': section \(serverSection) has an option 'user_' with no user name")
            }
            users[user] = password
        }
        guard !users.isEmpty else {
            throw .invalid(
                jaasKey, reason: "'\(path)': section \(serverSection) names no users (options user_NAME=\"password\")")
        }
        return users
    }

    /// Who a client of `endpoint` logs in as; nil when the endpoint does not authenticate.
    public static func clientCredentials(
        _ conf: StormConfig, _ endpoint: ThriftEndpoint
    ) throws(ConfigError) -> ThriftClientCredentials? {
        guard try authenticates(conf, endpoint) else { return nil }
        let (path, options) = try section(clientSection, of: conf)
        guard let user = options["username"], !user.isEmpty, let password = options["password"] else {
            throw .invalid(
                jaasKey, reason: "'\(path)': section \(clientSection) needs username=\"...\" and password=\"...\"")
        }
        return ThriftClientCredentials(user: user, password: password)
    }

    private static func section(_ name: String, of conf: StormConfig) throws(ConfigError) -> (String, [String: String])
    {
        guard let value = conf[jaasKey], !value.isNull else {
            throw .invalid(
                jaasKey, reason: "is not set: \(digestTransport) reads its users from a JAAS file named by this key")
        }
        guard let path = value.stringValue, !path.isEmpty else {
            throw .wrongType(jaasKey, expected: "the path of a JAAS file", got: value)
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .invalid(jaasKey, reason: "'\(path)' cannot be read: \((error as NSError).localizedDescription)")
        }
        let jaas: JaasConfiguration
        do {
            jaas = try JaasConfiguration(parsing: text)
        } catch {
            throw .invalid(jaasKey, reason: "'\(path)' \(error)")
        }
        guard let options = jaas.options(of: name) else {
            throw .invalid(jaasKey, reason: "'\(path)' has no section \(name)")
        }
        return (path, options)
    }
}
