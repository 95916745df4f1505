import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore

/// Serves one HTTP daemon's router on its listeners (plain HTTP, HTTPS or both), every request passing through
/// its authentication first. Runs until its service group shuts down.
public struct HTTPDaemonServer: Sendable {
    /// A listener could not take its address (in use, not ours, not permitted).
    public struct ListenFailure: Error, CustomStringConvertible {
        public let description: String
    }

    public let settings: HTTPDaemonSettings
    let host: String
    let logger: Logger

    public init(_ settings: HTTPDaemonSettings, host: String, logger: Logger) {
        self.settings = settings
        self.host = host
        self.logger = logger
    }

    /// A router whose every route authenticates first: Hummingbird applies a router's middleware to the routes
    /// added after it, so the daemon adds its routes to this one.
    public func makeRouter() -> Router<DaemonRequestContext> {
        let router = Router(context: DaemonRequestContext.self)
        router.add(
            middleware: AuthenticatingMiddleware(
                authentication: settings.authentication, daemon: settings.daemon, logger: logger))
        return router
    }

    /// Serves `router` (from `makeRouter()`). `onListening` is called with the bound port clients are meant to use
    /// (the HTTPS one when the daemon serves HTTPS) once it accepts connections.
    public func run(
        _ router: Router<DaemonRequestContext>, onListening: @escaping @Sendable (_ port: Int) -> Void = { _ in }
    ) async throws {
        let reportsHTTPS = settings.https != nil
        let serverName = "storm-\(settings.daemon.rawValue)"
        try await withThrowingDiscardingTaskGroup { group in
            if let port = settings.httpPort {
                let application = Application(
                    router: router,
                    configuration: .init(address: .hostname(host, port: port), serverName: serverName),
                    onServerRunning: { if !reportsHTTPS { onListening($0.localAddress?.port ?? port) } }, logger: logger
                )
                group.addTask { try await Self.listening(application, settings.daemon.portKey, port) }
            }
            if let https = settings.https {
                let application = Application(
                    router: router, server: try .tls(.http1(), tlsConfiguration: https.tls),
                    configuration: .init(address: .hostname(host, port: https.port), serverName: serverName),
                    onServerRunning: { onListening($0.localAddress?.port ?? https.port) }, logger: logger)
                group.addTask {
                    try await Self.listening(application, settings.daemon.httpsPrefix + "port", https.port)
                }
            }
        }
    }

    private static func listening(
        _ application: some ApplicationProtocol, _ key: String, _ port: Int
    ) async throws {
        do {
            try await application.run()
        } catch let error as IOError {
            throw ListenFailure(
                description: "cannot listen on \(key) \(port): \(String(cString: strerror(error.errnoCode)))")
        }
    }
}
