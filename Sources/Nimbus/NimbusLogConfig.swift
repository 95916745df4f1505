import Foundation
import StormCore
import StormThrift

/// Storm's dynamic log levels: a topology's LogConfig, stored beside its other records, which its workers follow.
extension Nimbus {
    /// Merges `config` into the topology's, as Storm's nimbus does (see `LogLevelConfig.merge`). `id` is the
    /// topology's id, as Storm's; given a name instead, the refusal says which id it has.
    public func setLogConfig(name id: String, config: LogConfig) async throws {
        try await authorize("setLogConfig", topologyId: id)
        try await requireLeader()
        try await writeSection {
            try await requireAlive(id)
            let merged: LogConfig
            do {
                merged = try LogLevelConfig.merge(
                    config, into: try await state.logConfig(id), nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
            } catch {
                throw ThriftApplicationException(.internalError, "\(error)")
            }
            try await state.setLogConfig(id, merged)
            let levels = (merged.namedLoggerLevel ?? [:]).sorted { $0.key < $1.key }.map {
                "\($0.key)=\($0.value.targetLogLevel ?? "?")"
            }
            logger.info("log config of \(id) is now \(levels)")
        }
    }

    public func getLogConfig(name id: String) async throws -> LogConfig {
        try await authorize("getLogConfig", topologyId: id)
        try await requireAlive(id)
        return try await state.logConfig(id) ?? LogConfig(namedLoggerLevel: [:])
    }

    private nonisolated func requireAlive(_ id: String) async throws {
        guard try await state.stormBase(id) == nil else { return }
        if let named = try await state.stormId(named: id) {
            throw NotAliveException(msg: "topology id '\(id)' is not alive; '\(id)' names topology id '\(named)'")
        }
        throw notAlive(id: id)
    }
}
