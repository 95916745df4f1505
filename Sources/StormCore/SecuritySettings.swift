/// What a daemon is told about securing itself, checked at its start: Storm's unauthenticated transport and no
/// authorizer are the defaults (a cluster that accepts anyone, as Storm's does out of the box, said once in the
/// log); a transport plugin or authorizer this build does not have is refused, rather than ignored into a
/// cluster its operator believes is closed, and so is an authorizer with nobody authenticated to authorize.
public enum SecuritySettings {
    /// The warning to log at start when `endpoint`'s daemon accepts anyone (or, for nimbus, lets anyone
    /// authenticated do anything); a refusal when it is asked for security it cannot give.
    public static func openClusterWarning(
        _ conf: StormConfig, for endpoint: ThriftEndpoint = .nimbus
    ) throws(ConfigError) -> String? {
        for other in ThriftEndpoint.allCases { _ = try ThriftSecurity.authenticates(conf, other) }
        let authenticates = try ThriftSecurity.authenticates(conf, endpoint)
        if authenticates { _ = try ThriftSecurity.serverAuthentication(conf, endpoint) }
        guard endpoint == .nimbus else {
            let authorizerKey = "drpc.authorizer"
            let authorizes = endpoint == .drpc && conf[authorizerKey].map { !$0.isNull } == true
            if authorizes && !authenticates {
                throw .invalid(
                    authorizerKey,
                    reason:
                        "needs authenticated callers, but \(endpoint.transportKey) is not \(ThriftSecurity.digestTransport): every caller would be anonymous"
                )
            }
            if !authenticates {
                return
                    "this server accepts any client: no authentication (\(endpoint.transportKey)); see docs/security.md"
            }
            if endpoint == .drpc && !authorizes {
                return
                    "callers authenticate, but any of them may call or serve any function: \(authorizerKey) is not set; see docs/security.md"
            }
            return nil
        }
        let authorizer = try SimpleACLAuthorizer.configured(conf)
        // Served alone, the TLS port knows its clients by their certificates.
        let tls = try NimbusTLS.server(conf)
        let tlsOnly = try NimbusTLS.serverOnly(conf) && tls?.requirePeerCertificate == true
        if authorizer != nil && !authenticates && !tlsOnly {
            throw .invalid(
                SimpleACLAuthorizer.key,
                reason:
                    "needs authenticated clients, but storm.thrift.transport is not \(ThriftSecurity.digestTransport) (nor is \(NimbusTLS.serverOnlyKey) true with client certificates): every client would be anonymous"
            )
        }
        if !authenticates && !tlsOnly {
            return
                "this cluster accepts any client: no authentication (storm.thrift.transport) and no authorization (nimbus.authorizer); see docs/security.md"
        }
        if authorizer == nil {
            return
                "clients authenticate, but any of them may do anything: nimbus.authorizer is not set; see docs/security.md"
        }
        return nil
    }
}
