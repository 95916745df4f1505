import Foundation
import Locking
import Logging
import StormCore
import StormThrift

/// Storm's DRPCSimpleACLAuthorizer (`drpc.authorizer`): who may call each function (`client.users`) and which user's
/// topology serves it (`invocation.user`), from the YAML file `drpc.authorizer.acl.filename`, read again when it
/// changes (looked at every 5 s at most). A function the file does not name is open to all unless
/// `drpc.authorizer.acl.strict`. A principal matches by itself or by its local user (`alice` for `alice@REALM`).
public final class DRPCAuthorizer: Sendable {
    public static let key = "drpc.authorizer"
    public static let className = "org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer"
    public static let fileKey = "drpc.authorizer.acl.filename"
    public static let strictKey = "drpc.authorizer.acl.strict"
    static let aclKey = "drpc.authorizer.acl"

    /// What a DRPC call does: a caller's `execute`, or a topology's side of a request.
    public enum Operation: String, Sendable {
        case execute, fetchRequest, result, failRequest

        var isInvocation: Bool { self != .execute }
    }

    struct Entry: Sendable, Equatable {
        var clientUsers: Set<String>
        var invocationUser: String?
    }

    private struct Loaded {
        var acl: [String: Entry]
        var modified: Date?
        var lookedAt: ContinuousClock.Instant
    }

    let path: String
    let strict: Bool
    let logger: Logger
    private let loaded: Locked<Loaded>
    /// How often the file is looked at for a change, as Storm's.
    let lookEvery: Duration

    /// The authorizer `conf` names, its ACL file read; nil when `drpc.authorizer` is not set. A class this build does
    /// not have, or an ACL file that cannot be read, is an error naming the key.
    public static func configured(_ conf: StormConfig, logger: Logger) throws(ConfigError) -> DRPCAuthorizer? {
        guard let value = conf[key], !value.isNull else { return nil }
        guard value.stringValue == className else {
            throw .invalid(key, reason: "is \(value.display), which this build does not offer (only \(className))")
        }
        guard let path = try conf.optionalText(fileKey) else {
            throw .invalid(fileKey, reason: "is not set: \(className) reads its ACL from that YAML file")
        }
        return DRPCAuthorizer(
            path: path, strict: try conf.flag(strictKey, default: false), acl: try read(path), logger: logger)
    }

    init(path: String, strict: Bool, acl: [String: Entry], logger: Logger, lookEvery: Duration = .seconds(5)) {
        self.path = path
        self.strict = strict
        self.logger = logger
        self.lookEvery = lookEvery
        loaded = Locked(Loaded(acl: acl, modified: Self.modified(path), lookedAt: .now))
    }

    /// Refuses `operation` on `function` by `principal` (nil: the caller did not authenticate) with Storm's
    /// AuthorizationException. A refused `execute` is logged; a topology's refused polling is not (it polls often).
    public func check(_ operation: Operation, function: String, principal: String?) throws {
        guard !permits(operation, function: function, principal: principal) else { return }
        let who = principal ?? "anonymous"
        if operation != .fetchRequest {
            logger.warning("denied DRPC \(operation.rawValue) of '\(function)' to \(who)")
        }
        throw AuthorizationException(msg: "DRPC request '\(operation.rawValue)' for '\(who)' user is not authorized")
    }

    func permits(_ operation: Operation, function: String, principal: String?) -> Bool {
        guard let entry = currentACL()[function] else { return !strict }
        guard let principal else { return false }
        let names: Set<String> = [principal, SimpleACLAuthorizer.localUser(principal)]
        if operation.isInvocation {
            return entry.invocationUser.map(names.contains) ?? false
        }
        return !entry.clientUsers.isDisjoint(with: names)
    }

    /// The ACL, read again when the file changed. A file that no longer reads keeps the last good ACL, and says so
    /// once per change of the file.
    private func currentACL() -> [String: Entry] {
        let now = ContinuousClock.now
        let stale = loaded.withLock { state -> Date?? in
            guard now - state.lookedAt >= lookEvery else { return .none }
            state.lookedAt = now
            let modified = Self.modified(path)
            return modified == state.modified ? .none : .some(modified)
        }
        if case .some(let modified) = stale {
            do {
                let acl = try Self.read(path)
                loaded.withLock {
                    $0.acl = acl
                    $0.modified = modified
                }
                logger.info("read the DRPC ACL again from \(path): \(acl.count) function(s)")
            } catch {
                loaded.withLock { $0.modified = modified }
                logger.error("kept the DRPC ACL read before: \(error)")
            }
        }
        return loaded.withLock { $0.acl }
    }

    private static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }

    /// Storm's ACL file: `drpc.authorizer.acl` maps each function to its `client.users` (a list) and
    /// `invocation.user` (one name).
    static func read(_ path: String) throws(ConfigError) -> [String: Entry] {
        let file: StormConfig
        do {
            file = try StormConfig.load(yamlFile: path)
        } catch let error as ConfigError {
            throw .invalid(fileKey, reason: "cannot be used: \(error.description)")
        } catch {
            throw .invalid(fileKey, reason: "cannot be used: \(error)")
        }
        func bad(_ reason: String) -> ConfigError { .invalid(fileKey, reason: "\(path): \(reason)") }
        guard let value = file[aclKey], !value.isNull else { return [:] }
        guard case .map(let functions) = value else { throw bad("\(aclKey) must map function names to their ACL") }
        var acl: [String: Entry] = [:]
        for (function, item) in functions {
            guard case .map(let fields) = item else {
                throw bad("function '\(function)' must have client.users and invocation.user")
            }
            var entry = Entry(clientUsers: [], invocationUser: nil)
            switch fields["client.users"] {
            case nil, .null?: break
            case .list(let names)? where names.allSatisfy({ $0.stringValue != nil }):
                entry.clientUsers = Set(names.compactMap(\.stringValue))
            default: throw bad("function '\(function)': client.users must be a list of user names")
            }
            switch fields["invocation.user"] {
            case nil, .null?: break
            case .string(let user)?: entry.invocationUser = user
            default: throw bad("function '\(function)': invocation.user must be one user name")
            }
            acl[function] = entry
        }
        return acl
    }
}
