/// What a daemon is told about securing itself, checked at its start: Storm's unauthenticated transport and no
/// authorizer are the defaults (a cluster that accepts anyone, as Storm's does out of the box, said once in the
/// log); a transport plugin or authorizer this build does not have is refused, rather than ignored into a
/// cluster its operator believes is closed.
public enum SecuritySettings {
    public static let simpleTransport = "org.apache.storm.security.auth.SimpleTransportPlugin"
    static let transportKeys = ["storm.thrift.transport", "nimbus.thrift.transport"]
    static let authorizerKey = "nimbus.authorizer"

    /// The warning to log at start, when the daemon accepts anyone; a refusal when it is asked for security it
    /// cannot give.
    public static func openClusterWarning(_ conf: StormConfig) throws(ConfigError) -> String? {
        for key in transportKeys {
            guard let value = conf[key], !value.isNull else { continue }
            guard value.stringValue == simpleTransport else {
                throw .invalid(
                    key,
                    reason:
                        "is \(value.display), which this build does not offer (only \(simpleTransport)): refusing to start rather than accept anyone"
                )
            }
        }
        if let value = conf[authorizerKey], !value.isNull {
            throw .invalid(
                authorizerKey,
                reason:
                    "is \(value.display), which this build does not offer: refusing to start rather than authorize everyone"
            )
        }
        return
            "this cluster accepts any client: no authentication (storm.thrift.transport) and no authorization (nimbus.authorizer); see docs/security.md"
    }
}
