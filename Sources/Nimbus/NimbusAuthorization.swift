import StormCore
import StormThrift

/// Storm's nimbus authorization: every Thrift call names an operation, checked against `nimbus.authorizer`
/// (SimpleACLAuthorizer) with the principal its connection authenticated as; a refusal is Storm's
/// AuthorizationException (`<operation> is not authorized`, `<operation> on topology <name> is not authorized`).
/// Calls from this process (LocalCluster, no Thrift connection) are trusted.
extension Nimbus {
    /// The caller, when the call came over an authenticating Thrift connection.
    nonisolated var caller: String? { ThriftConnection.principal }

    /// Refuses a cluster-wide operation the caller may not run.
    nonisolated func authorize(_ operation: String) throws {
        try authorize(operation, topologyName: nil, topologyConf: nil)
    }

    /// Refuses an operation on the topology named `name` the caller may not run. A topology that does not exist
    /// is left to the operation, which says so; one whose conf cannot be read is for admins alone.
    func authorize(_ operation: String, topologyNamed name: String) async throws {
        guard authorizer != nil, ThriftConnection.current != nil else { return }
        guard let id = try await state.stormId(named: name) else { return }
        try authorize(operation, topologyName: name, topologyConf: try? await stored(id).conf)
    }

    /// Refuses an operation on the topology with id `id` the caller may not run (as the one above).
    func authorize(_ operation: String, topologyId id: String) async throws {
        guard authorizer != nil, ThriftConnection.current != nil else { return }
        guard let base = try? await state.stormBase(id) else { return }
        try authorize(operation, topologyName: base.name, topologyConf: try? await stored(id).conf)
    }

    private nonisolated func authorize(
        _ operation: String, topologyName: String?, topologyConf: [String: ConfigValue]?
    ) throws {
        guard let authorizer, ThriftConnection.current != nil else { return }
        let what = operation + (topologyName.map { " on topology \($0)" } ?? "")
        guard let principal = caller else {
            throw AuthorizationException(msg: "\(what) is not authorized")
        }
        guard authorizer.permits(principal: principal, operation: operation, topologyConf: topologyConf) else {
            logger.warning("denied \(what) to \(principal)")
            throw AuthorizationException(msg: "\(what) is not authorized")
        }
    }

    /// Whether the caller owns the topology with conf `topoConf` (the principal it was submitted with), and may
    /// see its secrets. Nobody is the owner on a cluster that does not authenticate.
    nonisolated func callerOwns(_ topoConf: [String: ConfigValue]) -> Bool {
        guard let principal = caller, ThriftConnection.current != nil else { return false }
        return topoConf[ConfigKey.topologySubmitterPrincipal]?.stringValue == principal
    }

    /// What an authenticated submit records of its submitter, whatever the client's conf says: the principal,
    /// its local user as the owner, and both among the topology's users (Storm's nimbus does the same).
    nonisolated static func recordingSubmitter(
        _ principal: String, in userConf: [String: ConfigValue]
    ) -> [String: ConfigValue] {
        var out = userConf
        let user = SimpleACLAuthorizer.localUser(principal)
        out[ConfigKey.topologySubmitterPrincipal] = .string(principal)
        out[ConfigKey.topologySubmitterUser] = .string(user)
        let users = SimpleACLAuthorizer.aclNames(userConf, ConfigKey.topologyUsers).union([principal, user])
        out[ConfigKey.topologyUsers] = .list(users.sorted().map { .string($0) })
        return out
    }
}
