import Foundation

/// Whether a topology's workers authenticate the connections between them, and with what: Storm's
/// `storm.messaging.netty.authentication`, with the topology's secret in Storm's
/// `storm.zookeeper.topology.auth.payload`, which nimbus makes at submit.
public enum WorkerLinkAuthentication {
    public static let key = "storm.messaging.netty.authentication"
    public static let payloadKey = "storm.zookeeper.topology.auth.payload"

    /// For a topology submitted with `conf` (nimbus' merged with the topology's): Storm's key when it is set,
    /// otherwise on whenever nimbus authenticates its own clients (a secured cluster's workers are too).
    public static func enabled(_ conf: StormConfig) throws(ConfigError) -> Bool {
        guard let value = conf[key], !value.isNull else { return try ThriftSecurity.authenticates(conf, .nimbus) }
        guard let on = value.boolValue else { throw .wrongType(key, expected: "true or false", got: value) }
        return on
    }

    /// A new topology secret, in the `user:password` form ZooKeeper's digest scheme takes (the topology's workers log
    /// in there with it too): 8 random bytes, a colon and 32 random bytes, as hex.
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        func hex(_ count: Int) -> String {
            (0..<count).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }
                .joined()
        }
        return hex(8) + ":" + hex(32)
    }

    /// What a worker of a topology with conf `topologyConf` authenticates its links with; nil when they are not.
    public static func secret(_ topologyConf: StormConfig) throws(ConfigError) -> String? {
        guard topologyConf[key]?.boolValue == true else { return nil }
        guard let secret = topologyConf[payloadKey]?.stringValue, !secret.isEmpty else {
            throw .invalid(
                payloadKey, reason: "is not set, but \(key) is true: the workers have no secret to authenticate with")
        }
        return secret
    }
}
