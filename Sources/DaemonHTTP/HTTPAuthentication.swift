import Foundation
import StormCore

/// Who an HTTP daemon's requests come from, from `<daemon>.http.authentication`:
/// - unset: anyone, as an unsecured Storm;
/// - `basic`: HTTP basic authentication (over TLS) against the users of the JAAS file's `StormServer` section,
///   the same users the Thrift ports accept;
/// - `header`: a trusted proxy in front authenticates users and names them in `<daemon>.http.user.header`
///   (default `X-Forwarded-User`); only requests from the addresses in `<daemon>.http.trusted.proxies` are served.
///
/// The log viewer follows the UI's settings when it has none of its own, as Storm's follows `ui.filter`. Storm's
/// `*.filter` keys name Java servlet filters, which this build cannot run: one that is set is refused, rather
/// than serve anyone while the operator believes a filter guards the daemon.
public enum HTTPAuthentication: Sendable {
    case anyone
    case basic(users: [String: String])
    case trustedHeader(name: String, proxies: Set<String>)

    public static let defaultUserHeader = "X-Forwarded-User"

    init(_ daemon: HTTPDaemon, conf: StormConfig) throws(ConfigError) {
        for filter in [daemon.filterKey, daemon == .logviewer ? HTTPDaemon.ui.filterKey : nil].compactMap({ $0 }) {
            if let value = conf[filter], !value.isNull, value.stringValue?.isEmpty != true {
                throw .invalid(
                    filter,
                    reason:
                        "is \(value.display), a Java servlet filter, which this build cannot run: use \(daemon.authenticationPrefix)authentication (basic or header) instead (docs/security.md)"
                )
            }
        }
        if let key = daemon.credentialsPluginKey, let value = conf[key], !value.isNull,
            value.stringValue?.isEmpty != true, value.stringValue != HTTPDaemon.defaultCredentialsPlugin
        {
            throw .invalid(
                key,
                reason:
                    "is \(value.display), a Java credentials plugin, which this build cannot run: only Storm's default (\(HTTPDaemon.defaultCredentialsPlugin)), the user \(daemon.authenticationPrefix)authentication logs in"
            )
        }
        var prefix = daemon.authenticationPrefix
        if daemon == .logviewer, conf[prefix + "authentication"]?.isNull ?? true {
            prefix = HTTPDaemon.ui.authenticationPrefix
        }
        let key = prefix + "authentication"
        guard let value = conf[key], !value.isNull else {
            self = .anyone
            return
        }
        switch value.stringValue {
        case "none": self = .anyone
        case "basic": self = .basic(users: try ThriftSecurity.serverUsers(conf))
        case "header":
            let headerKey = prefix + "user.header"
            let name = conf[headerKey].flatMap(\.stringValue) ?? Self.defaultUserHeader
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw .invalid(headerKey, reason: "is '\(name)', which is not an HTTP header name")
            }
            let proxiesKey = prefix + "trusted.proxies"
            let proxies: [String]
            do {
                proxies = conf[proxiesKey].map { $0.isNull } == false ? try conf.stringList(proxiesKey) : []
            } catch {
                throw .wrongType(proxiesKey, expected: "a list of addresses", got: conf[proxiesKey] ?? .null)
            }
            guard !proxies.isEmpty else {
                throw .invalid(
                    proxiesKey,
                    reason:
                        "is empty, and header authentication trusts the header only from these addresses (the proxy's)"
                )
            }
            self = .trustedHeader(name: name, proxies: Set(proxies))
        default:
            throw .invalid(key, reason: "is \(value.display): give basic, header or none")
        }
    }

    var summary: String {
        switch self {
        case .anyone: ", open to anyone"
        case .basic(let users): ", HTTP basic authentication (\(users.count) users)"
        case .trustedHeader(let name, let proxies):
            ", users named in \(name) by \(proxies.sorted().joined(separator: ", "))"
        }
    }
}

/// The user an HTTP request authenticated as, in the task that answers it; nil on a daemon open to anyone.
public enum HTTPUser {
    @TaskLocal public static var current: String?
}
