internal import CZooKeeper

/// A failed ZooKeeper operation: the C client's return code with the path it concerned.
public struct ZooKeeperError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        case noNode, nodeExists, badVersion, notEmpty, noChildrenForEphemerals
        /// The connection is down (the client keeps reconnecting) or the call did not finish in time.
        case connectionLoss, operationTimeout
        /// The session ended; a new one replaces it, without the old one's ephemeral nodes and watches.
        case sessionExpired
        /// The client was closed.
        case closed
        /// The node's ACL does not give this session's identity the right.
        case noAuth
        case other(Int32)
    }

    public let code: Code
    public let path: String
    public let message: String

    init(rc: Int32, path: String) {
        self.path = path
        message = String(cString: zerror(rc))
        switch rc {
        case Int32(ZNONODE.rawValue): code = .noNode
        case Int32(ZNODEEXISTS.rawValue): code = .nodeExists
        case Int32(ZBADVERSION.rawValue): code = .badVersion
        case Int32(ZNOTEMPTY.rawValue): code = .notEmpty
        case Int32(ZNOCHILDRENFOREPHEMERALS.rawValue): code = .noChildrenForEphemerals
        case Int32(ZCONNECTIONLOSS.rawValue): code = .connectionLoss
        case Int32(ZOPERATIONTIMEOUT.rawValue): code = .operationTimeout
        case Int32(ZSESSIONEXPIRED.rawValue), Int32(ZINVALIDSTATE.rawValue): code = .sessionExpired
        case Int32(ZCLOSING.rawValue): code = .closed
        case Int32(ZNOAUTH.rawValue): code = .noAuth
        default: code = .other(rc)
        }
    }

    init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    public var description: String { "ZooKeeper \(path): \(message)" }
}

/// Credentials a session authenticates with (`zoo_add_auth`): for the `digest` scheme, `user:password`.
public struct ZooKeeperAuth: Sendable, Equatable {
    public let scheme: String
    public let credentials: String

    public init(scheme: String, credentials: String) {
        self.scheme = scheme
        self.credentials = credentials
    }
}
