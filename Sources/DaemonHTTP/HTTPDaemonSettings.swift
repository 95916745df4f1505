import Foundation
import StormCore

/// The three HTTP daemons, each with Storm's keys for its ports, TLS and authentication filter.
public enum HTTPDaemon: String, Sendable {
    case ui, logviewer, drpc

    /// The plain HTTP port.
    var portKey: String {
        switch self {
        case .ui: ConfigKey.uiPort
        case .logviewer: ConfigKey.logviewerPort
        case .drpc: ConfigKey.drpcHttpPort
        }
    }

    /// Storm's `*.https.*` keys start with this.
    var httpsPrefix: String { "\(rawValue).https." }
    var disableHTTPKey: String { "\(rawValue).disable.http.binding" }
    /// Storm's servlet filter key: a Java class, which this build cannot load.
    var filterKey: String { self == .drpc ? "drpc.http.filter" : "\(rawValue).filter" }
    /// Storm's credentials plugin key (the log viewer has none): a Java class too, and only Storm's default, which
    /// takes the user the request authenticated as, is what this build does.
    var credentialsPluginKey: String? { self == .logviewer ? nil : "\(rawValue).http.creds.plugin" }
    static let defaultCredentialsPlugin = "org.apache.storm.security.auth.DefaultHttpCredentialsPlugin"
    /// Our authentication keys (`ui.http.authentication`, ...) start with this.
    var authenticationPrefix: String { "\(rawValue).http." }
}

/// How one HTTP daemon listens and whom it serves, read from its keys: plain HTTP on its port, HTTPS on
/// `<daemon>.https.port` (plain HTTP then off unless `<daemon>.disable.http.binding` is false, as Storm does),
/// and who the requests come from (`HTTPAuthentication`).
public struct HTTPDaemonSettings: Sendable {
    public let daemon: HTTPDaemon
    /// The plain HTTP port; nil when the daemon serves HTTPS only.
    public let httpPort: Int?
    public let https: HTTPSListener?
    public let authentication: HTTPAuthentication

    /// `httpPort` is the daemon's plain port as its caller read it (nil or negative: none).
    public init(_ daemon: HTTPDaemon, conf: StormConfig, httpPort: Int?) throws(ConfigError) {
        self.daemon = daemon
        let https = try HTTPSListener(daemon, conf: conf)
        self.https = https
        let disable = conf[daemon.disableHTTPKey].flatMap(\.boolValue) ?? true
        self.httpPort = (https != nil && disable) || (httpPort ?? -1) < 0 ? nil : httpPort
        authentication = try HTTPAuthentication(daemon, conf: conf)
        if case .basic = authentication, https == nil {
            throw .invalid(
                daemon.authenticationPrefix + "authentication",
                reason:
                    "is basic, which sends passwords as they are: set \(daemon.httpsPrefix)port and a keystore so they travel over TLS (docs/security.md)"
            )
        }
    }

    /// What a start-up line says about the daemon's listeners.
    public var summary: String {
        let listeners = [httpPort.map { "HTTP on port \($0)" }, https.map { "HTTPS on port \($0.port)" }]
            .compactMap { $0 }.joined(separator: " and ")
        return listeners + authentication.summary
    }
}
