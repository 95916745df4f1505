import ClusterState
import Foundation
import StormCore
import StormThrift

/// The queries behind Storm's UI pages: a topology, one of its components, a supervisor, and owners' totals.
/// Stats are aggregated from the executors' heartbeats as Storm's StatsUtil does (StatsAggregation.swift).
extension Nimbus {
    public func getTopologyPageInfo(id: String, window: String, isIncludeSys: Bool) async throws -> TopologyPageInfo {
        try await authorize("getTopologyPageInfo", topologyId: id)
        let reading = try await readTopology(id, errors: .one)
        let stored = try? await stored(id)
        let aggregate = TopologyAggregate(
            reading.executors, window: StatsWindow.resolve(window), includeSys: isIncludeSys)
        var page = TopologyPageInfo(id: id)
        page.name = reading.name
        page.uptimeSecs = reading.base.map(uptime) ?? Self.uptime(ofId: id)
        page.status = reading.status
        page.numTasks = Int32(reading.taskToComponent.count)
        page.numWorkers = reading.numWorkers
        page.numExecutors = Int32(reading.executors.count)
        page.topologyConf = try stored.map {
            let merged = conf.merging($0.conf).values
            return try JSON.encode(.map(callerOwns($0.conf) ? merged : SecretKeys.redacted(merged)))
        }
        func withErrors(_ tallies: [String: StatsTally], _ type: ComponentType) -> [String: ComponentAggregateStats] {
            Dictionary(
                uniqueKeysWithValues: tallies.map {
                    ($0.key, $0.value.aggregate(type, lastError: reading.lastError($0.key)))
                })
        }
        page.idToSpoutAggStats = withErrors(aggregate.spouts, .spout)
        page.idToBoltAggStats = withErrors(aggregate.bolts, .bolt)
        // Before any executor reports, Storm lists each component with its parallelism and nothing counted.
        if let topology = stored?.topology, let plan = try? await plan(id) {
            let placeholders = Self.placeholders(plan, spouts: Set(topology.spouts.keys), includeSys: isIncludeSys)
            if aggregate.spouts.isEmpty { page.idToSpoutAggStats = placeholders.spouts }
            if aggregate.bolts.isEmpty { page.idToBoltAggStats = placeholders.bolts }
        }
        page.schedStatus = reading.schedStatus
        page.topologyStats = aggregate.stats
        page.owner = reading.base?.owner
        page.replicationCount = Int32(clamping: reading.replicationCount)
        page.workers = reading.workers(includeSys: isIncludeSys)
        page.stormVersion = stored?.topology.stormVersion ?? Self.version
        page.debugOptions = Self.debugOptions(reading.base, topologyId: id, component: nil)
        return page
    }

    public func getComponentPageInfo(
        topologyId: String, componentId: String, window: String, isIncludeSys: Bool
    ) async throws -> ComponentPageInfo {
        try await authorize("getComponentPageInfo", topologyId: topologyId)
        let reading = try await readTopology(topologyId, errors: .all)
        let topology = try? await stored(topologyId).topology
        let known = Set(reading.taskToComponent.values).union(topology?.components.map(\.id) ?? [])
        guard known.contains(componentId) else {
            throw NotAliveException(msg: "component '\(componentId)' is not part of topology id '\(topologyId)'")
        }
        let type: ComponentType = topology?.spouts[componentId] != nil ? .spout : .bolt
        // As in Storm, a system component shows no executors unless system components are asked for.
        let shown = isIncludeSys || !SystemIds.isSystem(componentId)
        let aggregate = ComponentAggregate(
            type: type, shown ? reading.executors.filter { $0.component == componentId } : [],
            window: StatsWindow.resolve(window), includeSys: isIncludeSys)
        var page = ComponentPageInfo(componentId: componentId, componentType: type)
        page.topologyId = topologyId
        page.topologyName = reading.name
        page.numExecutors = aggregate.total.executors ?? 0
        page.numTasks = aggregate.total.tasks ?? 0
        page.windowToStats = aggregate.windows.mapValues { $0.aggregate(type) }
        page.gsidToInputStats = type == .bolt ? aggregate.inputs.mapValues { $0.aggregate(.bolt) } : nil
        page.sidToOutputStats = aggregate.outputs.mapValues { $0.aggregate(type) }
        page.execStats = aggregate.executors.map { executor, tally in
            let e = executor
            return ExecutorAggregateStats(
                execSummary: ExecutorSummary(
                    executorInfo: e.info, componentId: e.component, host: e.host, port: e.port,
                    uptimeSecs: e.statsUptimeSecs),
                stats: tally.aggregate(type))
        }
        page.errors = reading.errors[componentId] ?? []
        page.topologyStatus = reading.status
        page.debugOptions = Self.debugOptions(reading.base, topologyId: topologyId, component: componentId)
        if let logger = Self.eventLogger(of: componentId, in: reading) {
            page.eventlogHost = logger.host
            page.eventlogPort = logger.port
        }
        return page
    }

    /// The supervisor `id`, or when `id` is empty every supervisor on `host`, with the workers assigned to them.
    public func getSupervisorPageInfo(id: String, host: String, isIncludeSys: Bool) async throws -> SupervisorPageInfo {
        try authorize("getSupervisorPageInfo")
        let supervisors = try await readableSupervisors()
        let ids: [String]
        if id.isEmpty {
            ids = supervisors.filter { $0.value.hostname == host }.keys.sorted()
        } else {
            guard supervisors[id] != nil else { throw NotAliveException(msg: "supervisor '\(id)' is not alive") }
            ids = [id]
        }
        let assignments = try await readableAssignments()
        let usedSlots = Self.usedSlots(assignments.records.values)
        var workers: [WorkerSummary] = []
        for (topologyId, assignment) in assignments.records.sorted(by: { $0.key < $1.key }) {
            let nodes = Set((assignment.executorNodePort ?? [:]).values.map(\.node))
            guard ids.contains(where: nodes.contains) else { continue }
            let reading: TopologyReading
            do {
                reading = try await readTopology(topologyId, errors: .none, assignment: assignment)
            } catch is NotAliveException {
                continue  // an assignment left behind by a topology that is gone
            }
            for supervisor in ids { workers += reading.workers(includeSys: isIncludeSys, onSupervisor: supervisor) }
        }
        return SupervisorPageInfo(
            supervisorSummaries: ids.compactMap { sid in
                supervisors[sid].map { Self.supervisorSummary(sid, $0, usedSlots: usedSlots[sid]?.count ?? 0) }
            },
            workerSummaries: workers)
    }

    /// Each owner's topologies and what their assignments hold; an empty `owner` means every owner. Memory and CPU
    /// are left unset: this cluster does not account for resources.
    public func getOwnerResourceSummaries(owner: String) async throws -> [OwnerResourceSummary] {
        try authorize("getOwnerResourceSummaries")
        let bases = try await Self.bases(of: try await state.activeStorms(), in: state)
        let assignments = try await readableAssignments()
        var byOwner: [String: [String]] = owner.isEmpty ? [:] : [owner: []]
        for (id, read) in bases {
            guard case .success(let base?) = read else { continue }
            let topologyOwner = base.owner ?? ""
            if owner.isEmpty || topologyOwner == owner { byOwner[topologyOwner, default: []].append(id) }
        }
        return byOwner.sorted { $0.key < $1.key }.map { owner, ids in
            var summary = OwnerResourceSummary(owner: owner, totalTopologies: Int32(ids.count))
            var (executors, workers, tasks) = (0, 0, 0)
            for id in ids {
                let placement = assignments.records[id]?.executorNodePort ?? [:]
                executors += placement.count
                workers += Set(placement.values).count
                tasks += placement.keys.reduce(0) { $0 + ($1.count == 2 ? Int($1[1] - $1[0] + 1) : 0) }
            }
            summary.totalExecutors = Int32(clamping: executors)
            summary.totalWorkers = Int32(clamping: workers)
            summary.totalTasks = Int32(clamping: tasks)
            return summary
        }
    }

    // MARK: helpers shared with getClusterInfo

    /// Every supervisor whose record can be read; those that cannot are noted.
    func readableSupervisors() async throws -> [String: SupervisorInfo] {
        let registered = try await state.supervisors()
        for (_, error) in registered.unreadable {
            noteUnreadable(
                error, topology: nil, remedy: "the supervisor is left out of cluster queries until it writes it again")
        }
        return registered.records
    }

    /// Each supervisor's ports that some assignment uses.
    static func usedSlots(_ assignments: some Sequence<Assignment>) -> [String: Set<Int64>] {
        var used: [String: Set<Int64>] = [:]
        for assignment in assignments {
            for node in (assignment.executorNodePort ?? [:]).values {
                used[node.node, default: []].formUnion(node.port)
            }
        }
        return used
    }

    static func supervisorSummary(_ id: String, _ info: SupervisorInfo, usedSlots: Int) -> SupervisorSummary {
        SupervisorSummary(
            host: info.hostname, uptimeSecs: Int32(clamping: info.uptimeSecs ?? 0),
            numWorkers: Int32(clamping: info.meta?.count ?? 0), numUsedWorkers: Int32(clamping: usedSlots),
            supervisorId: id, version: info.version ?? "VERSION_NOT_PROVIDED")
    }

    /// Storm's stand-ins for components no executor has reported on yet: their executors and tasks, zero counts.
    static func placeholders(
        _ plan: TopologyPlan, spouts: Set<String>, includeSys: Bool
    ) -> (spouts: [String: ComponentAggregateStats], bolts: [String: ComponentAggregateStats]) {
        var out: (spouts: [String: ComponentAggregateStats], bolts: [String: ComponentAggregateStats]) = ([:], [:])
        for (component, executors) in plan.executors where includeSys || !SystemIds.isSystem(component) {
            var tally = StatsTally()
            tally.executors = executors
            tally.tasks = plan.tasks[component] ?? executors
            if spouts.contains(component) {
                out.spouts[component] = tally.aggregate(.spout)
            } else {
                tally.capacity = 0
                out.bolts[component] = tally.aggregate(.bolt)
            }
        }
        return out
    }
}
