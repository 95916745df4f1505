internal import COpenSSL
internal import CZooKeeper
import Foundation

/// Who may do what to a node: the ACL a node is created with.
public struct ZooKeeperACL: Sendable, Equatable {
    /// ZooKeeper's rights on one node.
    public struct Permissions: OptionSet, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let read = Permissions(rawValue: 1)
        public static let write = Permissions(rawValue: 2)
        public static let create = Permissions(rawValue: 4)
        public static let delete = Permissions(rawValue: 8)
        public static let admin = Permissions(rawValue: 16)
        public static let all: Permissions = [.read, .write, .create, .delete, .admin]

        /// As ZooKeeper's CLI writes them: `cdrwa`.
        public var description: String {
            zip("cdrwa", [Permissions.create, .delete, .read, .write, .admin]).filter { contains($0.1) }
                .map { String($0.0) }.joined()
        }
    }

    /// One identity's rights: `scheme:id` as ZooKeeper writes it (`digest:user:hash`).
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        public var permissions: Permissions
        public var scheme: String
        public var id: String

        public init(_ permissions: Permissions, scheme: String, id: String) {
            self.permissions = permissions
            self.scheme = scheme
            self.id = id
        }

        public var description: String { "\(scheme):\(id)=\(permissions)" }

        /// The identities the creating session authenticated as (ZooKeeper's `auth` scheme).
        public static func creator(_ permissions: Permissions = .all) -> Entry {
            Entry(permissions, scheme: "auth", id: "")
        }

        /// The identity a session that authenticated with digest `user:password` has.
        public static func digest(credentials: String, _ permissions: Permissions) -> Entry {
            Entry(permissions, scheme: "digest", id: ZooKeeperACL.digestId(credentials: credentials))
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    /// Whether both give the same rights to the same identities, in whatever order.
    public func grantsAsMuch(as other: ZooKeeperACL) -> Bool { Set(entries) == Set(other.entries) }

    /// ZooKeeper's digest identity for `user:password`: the user, then base64 of SHA-1 of the whole string, as its
    /// `DigestAuthenticationProvider` makes it. Knowing it does not let anyone log in as that user.
    public static func digestId(credentials: String) -> String {
        let user = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = Array(credentials.utf8)
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha1(), nil)
        return "\(user):" + Data(digest[0..<Int(length)]).base64EncodedString()
    }

    /// Parses `scheme:id` (Storm's form of `storm.zookeeper.superACL`) into an entry with `permissions`; nil when
    /// there is no scheme or no id.
    public static func entry(parsing text: String, _ permissions: Permissions) -> Entry? {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex
        else { return nil }
        return Entry(permissions, scheme: String(text[..<colon]), id: String(text[text.index(after: colon)...]))
    }

    /// Runs `body` with the ACL as the C client takes it; the C client copies it into the request it queues.
    func withCVector<T>(_ body: (UnsafeMutablePointer<ACL_vector>) -> T) -> T {
        let acls = UnsafeMutablePointer<ACL>.allocate(capacity: max(entries.count, 1))
        for (i, entry) in entries.enumerated() {
            acls[i] = ACL(perms: entry.permissions.rawValue, id: Id(scheme: strdup(entry.scheme), id: strdup(entry.id)))
        }
        defer {
            for i in 0..<entries.count {
                free(acls[i].id.scheme)
                free(acls[i].id.id)
            }
            acls.deallocate()
        }
        var vector = ACL_vector(count: Int32(entries.count), data: acls)
        return body(&vector)
    }
}
