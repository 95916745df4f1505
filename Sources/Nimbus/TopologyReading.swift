import ClusterState
import Foundation
import StormCore
import StormThrift

/// One read of a topology's records, which getTopologyInfo and the UI's page queries are all built from.
struct TopologyReading: Sendable {
    var id: String
    /// Nil when the base cannot be read (`trouble` says why).
    var base: StormBase?
    var trouble: ClusterStateError?
    var errors: [String: [ErrorInfo]] = [:]
    var assignment: Assignment?
    var taskToComponent: [Int32: String] = [:]
    /// Every assigned executor, by first task.
    var executors: [PlacedExecutor] = []
    var schedStatus: String?
    var replicationCount: Int = 0

    var name: String { base?.name ?? TopologyName.name(ofId: id) ?? id }
    var status: String { base?.status.thriftName ?? Nimbus.unknownStatus }

    /// Distinct worker slots the assignment uses.
    var numWorkers: Int32 { Int32(Set(executors.map { "\($0.node):\($0.port)" }).count) }

    /// The component's most recent error, as Storm's pages show it.
    func lastError(_ component: String) -> ErrorInfo? { errors[component]?.last }

    /// Storm's worker summaries: one per slot of this topology, restricted to one supervisor when given. Tasks of
    /// system components are counted only when `includeSys`.
    func workers(includeSys: Bool, onSupervisor supervisor: String? = nil) -> [WorkerSummary] {
        var bySlot: [String: WorkerSummary] = [:]
        for executor in executors where supervisor == nil || executor.node == supervisor {
            let slot = "\(executor.node):\(executor.port)"
            var worker =
                bySlot[slot]
                ?? WorkerSummary(
                    supervisorId: executor.node, host: executor.host, port: executor.port, topologyId: id,
                    topologyName: name, numExecutors: 0, componentToNumTasks: [:],
                    uptimeSecs: executor.workerUptimeSecs ?? 0, owner: base?.owner)
            worker.numExecutors = (worker.numExecutors ?? 0) + 1
            for task in executor.info.taskStart...max(executor.info.taskStart, executor.info.taskEnd) {
                guard let component = taskToComponent[task], includeSys || !SystemIds.isSystem(component) else {
                    continue
                }
                worker.componentToNumTasks?[component, default: 0] += 1
            }
            bySlot[slot] = worker
        }
        return bySlot.values.sorted { ($0.supervisorId ?? "", $0.port ?? 0) < ($1.supervisorId ?? "", $1.port ?? 0) }
    }
}

extension Nimbus {
    /// Reads a topology's base, errors (as `errorChoice` asks), assignment, task layout and worker heartbeats,
    /// each record on its own: one that cannot be read shows in the status and errors, and hides no other.
    /// `assignment`, when the caller has read it already, is not read again.
    func readTopology(
        _ id: String, errors errorChoice: NumErrorsChoice = .all, assignment known: Assignment? = nil
    ) async throws -> TopologyReading {
        var reading = TopologyReading(id: id)
        do {
            guard let read = try await state.stormBase(id) else { throw notAlive(id: id) }
            reading.base = read
        } catch let error as ClusterStateError {
            noteUnreadable(error, topology: id, remedy: Self.brokenBaseRemedy)
            reading.trouble = error
        }
        if errorChoice != NumErrorsChoice.none {
            for component in try await state.componentsWithErrors(id) {
                let read = try await state.errors(id, component: component)
                for (_, error) in read.unreadable {
                    noteUnreadable(error, topology: id, remedy: "it is left out of the topology's errors")
                }
                if !read.errors.isEmpty {
                    reading.errors[component] = errorChoice == .one ? Array(read.errors.suffix(1)) : read.errors
                }
            }
        }
        if let known {
            reading.assignment = known
        } else {
            do {
                reading.assignment = try await state.assignment(id)
            } catch let error as ClusterStateError {
                noteUnreadable(error, topology: id, remedy: Self.assignmentRemedy)
                reading.trouble = reading.trouble ?? error
            }
        }
        do {
            let plan = try await plan(id)
            for (component, range) in TaskLayout.taskRanges(plan.tasks) {
                for t in range { reading.taskToComponent[t] = component }
            }
        } catch let error as ClusterStateError {
            reading.trouble = reading.trouble ?? error
        }
        // Each executor's counts, as its worker last reported them.
        var beats: [String: ClusterWorkerHeartbeat] = [:]
        if reading.assignment != nil {
            let read = try await state.workerHeartbeats(id)
            for (_, error) in read.unreadable {
                noteUnreadable(
                    error, topology: id, remedy: "its worker's counts are left out until the worker writes it again")
            }
            beats = read.records
        }
        let now = Int64(Date().timeIntervalSince1970)
        let assignment = reading.assignment
        for (executor, node) in assignment?.executorNodePort ?? [:] where executor.count == 2 {
            let info = ExecutorInfo(taskStart: Int32(clamping: executor[0]), taskEnd: Int32(clamping: executor[1]))
            let port = Int32(clamping: node.port.first ?? 0)
            let beat = beats["\(node.node)-\(port)"]
            reading.executors.append(
                PlacedExecutor(
                    info: info, component: reading.taskToComponent[info.taskStart] ?? "", node: node.node,
                    host: assignment?.nodeHost?[node.node] ?? node.node, port: port,
                    assignedSecs: Int32(clamping: now - (assignment?.executorStartTimeSecs?[executor] ?? 0)),
                    stats: beat?.executorStats[info], workerUptimeSecs: beat?.uptimeSecs))
        }
        reading.executors.sort { $0.info.taskStart < $1.info.taskStart }
        if let trouble = reading.trouble {
            reading.schedStatus = trouble.description
        } else if let base = reading.base {
            reading.schedStatus = schedulingStatus(id, base: base, assignment: assignment)
        }
        reading.replicationCount = try await state.codeHolders(id).count
        return reading
    }
}
