import Foundation
import HTTPTypes
import Hummingbird
import Locking
import Logging
import NIOCore

/// A request context that knows the address a request came from (to trust a proxy's header from it alone).
public struct DaemonRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// Answers only requests that authenticate as `HTTPAuthentication` says, and runs each in `HTTPUser.current`.
/// A refused request gets 401 (basic: with the challenge a browser answers with a login prompt) or 403 (a header
/// from an address that is not a trusted proxy), and a warning line at most once a minute per address. Once users
/// log in, a request that changes something (not GET or HEAD) from another site's page is refused: the browser
/// would send the user's login with it.
struct AuthenticatingMiddleware: RouterMiddleware {
    typealias Context = DaemonRequestContext

    let authentication: HTTPAuthentication
    let daemon: HTTPDaemon
    let logger: Logger
    private let lastWarned = Locked<[String: ContinuousClock.Instant]>([:])

    init(authentication: HTTPAuthentication, daemon: HTTPDaemon, logger: Logger) {
        self.authentication = authentication
        self.daemon = daemon
        self.logger = logger
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let address = context.remoteAddress?.ipAddress ?? "an unknown address"
        if case .anyone = authentication {
            return try await next(request, context)
        }
        if request.method != .get && request.method != .head, let origin = request.headers[.origin],
            !Self.sameSite(origin: origin, host: request.head.authority)
        {
            warn(address, "refused a \(request.method) from a page of \(origin) (from \(address))")
            return Self.refusal(.forbidden, "a request from another site's page is refused")
        }
        switch authentication {
        case .anyone:
            return try await next(request, context)
        case .basic(let users):
            guard let (user, password) = Self.basicCredentials(request.headers[.authorization]) else {
                return Self.challenge("log in to see this page")
            }
            // An unknown user is checked against a throwaway password, so the answer takes as long either way.
            let known = users[user]
            guard Self.same(password, known ?? UUID().uuidString), known != nil else {
                warn(address, "refused an HTTP login as \(user) from \(address): wrong user name or password")
                return Self.challenge("wrong user name or password")
            }
            return try await HTTPUser.$current.withValue(user) { try await next(request, context) }
        case .trustedHeader(let name, let proxies):
            guard proxies.contains(Self.plain(address)) else {
                warn(address, "refused an HTTP request from \(address), which is not a trusted proxy")
                return Self.refusal(.forbidden, "requests must come through the authenticating proxy")
            }
            guard let field = HTTPField.Name(name), let user = request.headers[field], !user.isEmpty else {
                return Self.refusal(.unauthorized, "the proxy named no user (header \(name))")
            }
            return try await HTTPUser.$current.withValue(user) { try await next(request, context) }
        }
    }

    /// User and password from an `Authorization: Basic ...` header.
    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.count > 6, header.prefix(6).lowercased() == "basic " else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        let user = String(text[..<colon])
        return user.isEmpty ? nil : (user, String(text[text.index(after: colon)...]))
    }

    /// Whether a browser's `Origin` names the host the request was sent to.
    static func sameSite(origin: String, host: String?) -> Bool {
        guard let host, let schemeEnd = origin.range(of: "://") else { return false }
        return origin[schemeEnd.upperBound...].lowercased() == host.lowercased()
    }

    /// Compares in time that does not depend on where the texts differ.
    static func same(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }

    /// An IPv4 client of a server listening on IPv6 shows as ::ffff:a.b.c.d.
    static func plain(_ address: String) -> String {
        address.hasPrefix("::ffff:") && address.contains(".") ? String(address.dropFirst(7)) : address
    }

    static func challenge(_ message: String) -> Response {
        var response = refusal(.unauthorized, message)
        response.headers[.wwwAuthenticate] = "Basic realm=\"Storm\", charset=\"UTF-8\""
        return response
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let body = "{\"error\": \"\(status.code) \(status.reasonPhrase)\", \"errorMessage\": \"\(message)\"}"
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    private func warn(_ address: String, _ line: String) {
        let now = ContinuousClock.now
        let due = lastWarned.withLock { seen -> Bool in
            if let last = seen[address], now - last < .seconds(60) { return false }
            if seen.count > 10_000 { seen.removeAll() }
            seen[address] = now
            return true
        }
        if due { logger.warning("\(daemon.rawValue): \(line)") }
    }
}
