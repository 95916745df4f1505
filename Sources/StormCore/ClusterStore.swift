/// Which cluster state storage a daemon uses (`storm.cluster.state.store`).
public enum ClusterStoreKind: Sendable, Equatable {
    case memory

    public static let memoryName = "memory"

    public init(_ conf: StormConfig) throws {
        let name = conf[ConfigKey.clusterStateStore]?.stringValue ?? Self.memoryName
        switch name {
        case Self.memoryName:
            self = .memory
        default:
            throw ConfigError.invalid(
                ConfigKey.clusterStateStore, reason: "names '\(name)', which this build does not provide (available: \(Self.memoryName))")
        }
    }
}
