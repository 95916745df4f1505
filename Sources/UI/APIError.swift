import HTTPTypes
import StormCore
import StormThrift

/// A request the API answers with an error: its HTTP status and a one-line message, sent as Storm's UI sends
/// errors (`{"error": "404 Not Found", "errorMessage": "..."}`).
struct APIError: Error {
    let status: HTTPResponse.Status
    let message: String

    static func badRequest(_ message: String) -> APIError { APIError(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> APIError { APIError(status: .notFound, message: message) }

    /// What a nimbus call's failure means to an HTTP client.
    init(_ error: any Error) {
        switch error {
        case let error as APIError: self = error
        case let e as NotAliveException: self.init(status: .notFound, message: e.msg)
        case let e as InvalidTopologyException: self.init(status: .badRequest, message: e.msg)
        case let e as AlreadyAliveException: self.init(status: .conflict, message: e.msg)
        case let e as AuthorizationException: self.init(status: .forbidden, message: "not authorized: \(e.msg)")
        case let e as LeaderNimbus.Unreachable where e.description.contains(" may not act for "):
            // nimbus.impersonation.acl does not let the UI's login act for this HTTP user.
            self.init(status: .forbidden, message: "not authorized: \(e.description)")
        case let e as LeaderNimbus.Unreachable: self.init(status: .serviceUnavailable, message: e.description)
        case let e as ThriftApplicationException:
            self.init(status: .internalServerError, message: "nimbus refused the call: \(e.message)")
        default: self.init(status: .internalServerError, message: "\(error)")
        }
    }

    init(status: HTTPResponse.Status, message: String) {
        self.status = status
        self.message = message
    }

    var json: ConfigValue {
        .map(["error": .string("\(status.code) \(status.reasonPhrase)"), "errorMessage": .string(message)])
    }
}
