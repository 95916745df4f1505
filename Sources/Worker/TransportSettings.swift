import Foundation
import StormCore
import Transport

extension ConfigKey {
    /// The address a worker's tuple port listens on; all interfaces when unset, as Storm's workers do.
    public static let messagingBindAddress = "storm.messaging.bind.address"
    /// How many connections a worker's tuple port holds at once.
    public static let messagingMaxConnections = "storm.messaging.max.connections"
}

/// Where a worker listens for its peers and how many it takes, from the supervisor's configuration.
struct TransportSettings: Equatable {
    var bindAddress = "0.0.0.0"
    var limits = FrameLimits()

    init(_ conf: StormConfig) throws {
        if let value = conf[ConfigKey.messagingBindAddress], !value.isNull {
            let address = try conf.string(ConfigKey.messagingBindAddress).trimmingCharacters(in: .whitespaces)
            guard !address.isEmpty else {
                throw ConfigError.invalid(
                    ConfigKey.messagingBindAddress, reason: "is empty; leave it unset to listen on all interfaces")
            }
            bindAddress = address
        }
        if let most = try conf.optionalInt(ConfigKey.messagingMaxConnections) {
            guard most >= 1 else {
                throw ConfigError.invalid(ConfigKey.messagingMaxConnections, reason: "must be at least 1, not \(most)")
            }
            limits.maxConnections = most
        }
    }

    /// Peers connect to the announced host (`storm.local.hostname`): a bind address that is not one of its
    /// addresses leaves this worker unreachable to them, which an operator should read at once rather than
    /// infer from a topology that does not flow.
    func reachabilityWarning(announcedHost: String) -> String? {
        guard bindAddress != "0.0.0.0" else { return nil }
        let announced = HostAddresses.ipv4(announcedHost)
        let bound = HostAddresses.ipv4(bindAddress)
        guard !announced.isEmpty, !bound.isEmpty, Set(announced).isDisjoint(with: bound) else { return nil }
        return
            "\(ConfigKey.messagingBindAddress) \(bindAddress) is not an address of the announced host '\(announcedHost)' "
            + "(\(announced.joined(separator: ", "))): peers that connect to '\(announcedHost)' cannot reach this worker"
    }
}
