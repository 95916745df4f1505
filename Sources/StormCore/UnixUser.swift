import Foundation
import Glibc

/// A Unix account, for running a topology's workers as its owner (Storm's `supervisor.run.worker.as.user`).
public struct UnixUser: Sendable, Equatable {
    public static let runWorkerAsUserKey = "supervisor.run.worker.as.user"

    public let name: String
    public let uid: uid_t
    public let gid: gid_t
    public let home: String

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Whether a supervisor with `conf` runs workers as their topology's owner (false when unset).
    public static func runsWorkersAsOwner(_ conf: StormConfig) throws(ConfigError) -> Bool {
        guard let value = conf[runWorkerAsUserKey], !value.isNull else { return false }
        guard let on = value.boolValue else {
            throw .wrongType(runWorkerAsUserKey, expected: "true or false", got: value)
        }
        return on
    }

    /// The account named `name`; nil when this host has none.
    public static func named(_ name: String) -> UnixUser? {
        var buffer = [CChar](repeating: 0, count: 16_384)
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        guard !name.isEmpty, getpwnam_r(name, &entry, &buffer, buffer.count, &found) == 0, found != nil else {
            return nil
        }
        return UnixUser(name: name, uid: entry.pw_uid, gid: entry.pw_gid, home: String(cString: entry.pw_dir))
    }

    /// The account a topology's workers run as: its owner's, which must exist here and not be root. The owner
    /// must be one nimbus authenticated (it records `topology.submitter.principal` then alone): on a cluster that
    /// does not authenticate, a client's conf could name anyone.
    public static func owner(ofTopologyConf conf: [String: ConfigValue], id: String) throws(Failure) -> UnixUser {
        guard let principal = conf[ConfigKey.topologySubmitterPrincipal]?.stringValue, !principal.isEmpty,
            let owner = conf[ConfigKey.topologySubmitterUser]?.stringValue, !owner.isEmpty
        else {
            throw Failure(
                description:
                    "topology \(id) was not submitted by an authenticated user, so it has no owner to run its workers as (supervisor.run.worker.as.user needs nimbus to authenticate)"
            )
        }
        guard let user = named(owner) else {
            throw Failure(
                description: "cannot run the workers of \(id) as its owner '\(owner)': no such user on this host")
        }
        guard user.uid != 0 else {
            throw Failure(description: "will not run the workers of \(id) as root, its owner '\(owner)'")
        }
        return user
    }

    /// Gives `url` and everything under it to this user, readable by it alone (others lose every right).
    public func own(_ url: URL) throws(Failure) {
        var paths = [url.path]
        if let walk = FileManager.default.enumerator(atPath: url.path) {
            while let relative = walk.nextObject() as? String { paths.append(url.path + "/" + relative) }
        }
        for path in paths {
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            guard lchown(path, uid, gid) == 0 else {
                throw Failure(description: "cannot give \(path) to \(name): \(String(cString: strerror(errno)))")
            }
            if (info.st_mode & S_IFMT) != S_IFLNK { _ = chmod(path, info.st_mode & 0o700) }
        }
    }

    /// Becomes this user for good (groups, group, then user), as the first thing a worker does; refuses to go on
    /// as anyone else.
    public func become() throws(Failure) {
        guard initgroups(name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw Failure(description: "cannot become \(name) (uid \(uid)): \(String(cString: strerror(errno)))")
        }
        guard getuid() == uid, geteuid() == uid, getgid() == gid, setuid(0) != 0 else {
            throw Failure(description: "became \(name) only in part; refusing to go on")
        }
    }
}
