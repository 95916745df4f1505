import Foundation
import Glibc

/// Storm's ImpersonationAuthorizer (`nimbus.impersonation.acl`): which authenticated users may act for others,
/// as the UI acts for the user it serves. Each entry, keyed by a principal or its local user, lists the `hosts`
/// it may connect from and the `groups` whose members it may act for; `*` allows any. A user with no entry acts
/// for nobody.
public struct ImpersonationACL: Sendable {
    public static let key = "nimbus.impersonation.acl"

    struct Entry: Sendable {
        var hosts: Set<String>
        var groups: Set<String>
    }

    let entries: [String: Entry]
    let groupsOf: @Sendable (String) -> Set<String>
    let addressesOf: @Sendable (String) -> Set<String>

    public init(
        conf: StormConfig, groupsOf: @escaping @Sendable (String) -> Set<String> = UnixGroups.groups(of:),
        addressesOf: @escaping @Sendable (String) -> Set<String> = Self.addresses(of:)
    ) throws(ConfigError) {
        var entries: [String: Entry] = [:]
        if let value = conf[Self.key], !value.isNull {
            guard case .map(let users) = value else {
                throw .wrongType(Self.key, expected: "a map of user to {hosts: [...], groups: [...]}", got: value)
            }
            for (user, acl) in users {
                func names(_ field: String) throws(ConfigError) -> Set<String> {
                    guard case .map(let fields) = acl else {
                        throw .invalid(Self.key, reason: "entry \(user) is not a map of hosts and groups")
                    }
                    switch fields[field] {
                    case nil, .null?: return []
                    case .string(let one)?: return [one]
                    case .list(let items)?:
                        let strings = items.compactMap(\.stringValue)
                        guard strings.count == items.count else {
                            throw .invalid(Self.key, reason: "entry \(user): \(field) must list names")
                        }
                        return Set(strings)
                    case let other?:
                        throw .invalid(Self.key, reason: "entry \(user): \(field) is \(other.display), not a list")
                    }
                }
                entries[user] = Entry(hosts: try names("hosts"), groups: try names("groups"))
            }
        }
        self.entries = entries
        self.groupsOf = groupsOf
        self.addressesOf = addressesOf
    }

    /// Whether `principal`, connected from `peerAddress`, may act for the principal `actingFor`.
    public func permits(_ principal: String, actingFor: String, from peer: String) -> Bool {
        // An IPv4 client of a server listening on IPv6 shows as ::ffff:a.b.c.d.
        let peerAddress = peer.hasPrefix("::ffff:") && peer.contains(".") ? String(peer.dropFirst(7)) : peer
        let own = [entries[principal], entries[SimpleACLAuthorizer.localUser(principal)]].compactMap { $0 }
        guard !own.isEmpty else { return false }
        let hosts = own.reduce(into: Set<String>()) { $0.formUnion($1.hosts) }
        let groups = own.reduce(into: Set<String>()) { $0.formUnion($1.groups) }
        let fromAllowedHost =
            hosts.contains("*") || hosts.contains(peerAddress)
            || hosts.contains { addressesOf($0).contains(peerAddress) }
        guard fromAllowedHost else { return false }
        if groups.contains("*") { return true }
        return !groups.isDisjoint(with: groupsOf(SimpleACLAuthorizer.localUser(actingFor)))
    }

    /// The addresses a host name resolves to (empty when it does not).
    public static func addresses(of host: String) -> Set<String> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &found) == 0, let first = found else { return [] }
        defer { freeaddrinfo(first) }
        var out: Set<String> = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(
                info.pointee.ai_addr, info.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0,
                NI_NUMERICHOST) == 0
            {
                out.insert(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            next = info.pointee.ai_next
        }
        return out
    }
}
