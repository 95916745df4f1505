/// Conf keys whose values are secrets, kept out of what nimbus answers about a topology or itself
/// (`getTopologyConf`, `getNimbusConf`, the UI's configuration tables, components' confs in `getTopology`): Storm's
/// password keys, ZooKeeper's auth payloads, and by name any key ending in `password` or `secret` or holding
/// `credentials`, at any depth of a map. Workers and components get the values themselves: they read their
/// topology's files, not these answers.
public enum SecretKeys {
    public static let mask = "*****"

    /// Storm's `@Password` keys and ZooKeeper's digest payloads.
    static let storms: Set<String> = [
        "storm.zookeeper.auth.payload", "storm.zookeeper.topology.auth.payload",
        "logviewer.https.keystore.password", "logviewer.https.key.password", "logviewer.https.truststore.password",
        "ui.https.keystore.password", "ui.https.key.password", "ui.https.truststore.password",
        "drpc.https.keystore.password", "drpc.https.key.password", "drpc.https.truststore.password",
    ]

    public static func isSecret(_ key: String) -> Bool {
        if storms.contains(key) { return true }
        let name = key.lowercased()
        return name.hasSuffix("password") || name.hasSuffix("secret") || name.contains("credentials")
    }

    /// `values` with every secret's value masked, in nested maps too.
    public static func redacted(_ values: [String: ConfigValue]) -> [String: ConfigValue] {
        var out = values
        for (key, value) in values {
            if isSecret(key), !value.isNull {
                out[key] = .string(mask)
            } else if case .map(let inner) = value {
                out[key] = .map(redacted(inner))
            } else if case .list(let items) = value {
                out[key] = .list(items.map { if case .map(let m) = $0 { .map(redacted(m)) } else { $0 } })
            }
        }
        return out
    }

    /// A JSON object's text with its secrets masked; text that is not a JSON object is returned as it is.
    public static func redacted(json: String) -> String {
        guard let object = try? JSON.decodeObject(json) else { return json }
        let masked = redacted(object)
        return masked == object ? json : ((try? JSON.encode(.map(masked))) ?? json)
    }
}
