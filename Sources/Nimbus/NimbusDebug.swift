import Foundation
import StormCore
import StormThrift
import Tuples

/// Storm's `debug`: a topology's or one component's emitted tuples sampled into its event logger
/// (`topology.eventlogger.executors`), kept in the StormBase's `component_debug` for the workers to follow.
extension Nimbus {
    /// As Storm's: the percentage is clamped to 0...100, an empty component means the whole topology (keyed by its
    /// id), and disabling keeps the percentage. Refused in one line: a component the topology does not have, a
    /// percentage that is not a number, and turning sampling on in a topology with no event logger to sample into.
    public func debug(name: String, component: String, enable: Bool, samplingPercentage: Double) async throws {
        try await authorize("debug", topologyNamed: name)
        try await requireLeader()
        try await writeSection {
            guard let id = try await state.stormId(named: name), var base = try await state.stormBase(id) else {
                throw NotAliveException(msg: "topology '\(name)' is not alive")
            }
            let (topology, topoConf) = try await stored(id)
            if !component.isEmpty && !topology.components.contains(where: { $0.id == component }) {
                throw ThriftApplicationException(
                    .internalError, "topology '\(name)' has no component '\(component)' to debug")
            }
            guard !samplingPercentage.isNaN else {
                throw ThriftApplicationException(.internalError, "the sampling percentage must be a number")
            }
            if enable && TopologyPlan.eventLoggerExecutors(conf.merging(topoConf)) == 0 {
                throw ThriftApplicationException(
                    .internalError,
                    "topology '\(name)' has no event logger to sample into: submit it with \(ConfigKey.topologyEventloggerExecutors) above 0"
                )
            }
            let percentage = min(max(samplingPercentage, 0), 100)
            base.componentDebug = (base.componentDebug ?? [:]).merging(
                [component.isEmpty ? id : component: DebugOptions(enable: enable, samplingpct: percentage)]
            ) { _, new in new }
            try await state.setStormBase(id, base)
            logger.info(
                "debug of \(id)\(component.isEmpty ? "" : " component \(component)") \(enable ? "on at \(percentage)%" : "off")"
            )
        }
    }

    /// The sampling that applies to `component` (its own entry, else the topology's), as the UI pages show it.
    nonisolated static func debugOptions(_ base: StormBase?, topologyId: String, component: String?) -> DebugOptions? {
        let entries = base?.componentDebug ?? [:]
        return component.flatMap { entries[$0] } ?? entries[topologyId]
    }

    /// The worker whose event logger receives `component`'s samples: the task the fields grouping on the
    /// component's id chooses among the event logger's tasks, as Storm's nimbus finds it for the UI's link.
    nonisolated static func eventLogger(of component: String, in reading: TopologyReading) -> PlacedExecutor? {
        let tasks = reading.taskToComponent.filter { $0.value == TopologyPlan.eventLoggerComponent }.keys.sorted()
        guard !tasks.isEmpty else { return nil }
        var hasher = StableHasher()
        hasher.combine(Value.string(component))
        let task = tasks[Int(hasher.value % UInt64(tasks.count))]
        return reading.executors.first { $0.info.taskStart <= task && task <= $0.info.taskEnd }
    }
}
