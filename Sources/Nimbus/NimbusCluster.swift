import ClusterState
import Foundation
import StormCore
import StormThrift

/// A write reached a nimbus that is not the leader.
struct NotLeaderError: Error, CustomStringConvertible {
    let this: String
    let leader: String?
    var description: String {
        "nimbus \(this) is not the leader; the leader is \(leader ?? "not elected yet")"
    }
}

extension Nimbus {
    public nonisolated var address: String { "\(host):\(port)" }

    // MARK: starting and leadership

    /// Prepares the cluster state, registers this nimbus and enters the leader election. While the cluster state
    /// is unreachable it keeps trying (saying so once) rather than giving up.
    public func start() async {
        await retryUntilAvailable("registering nimbus \(address)", logger: logger) {
            try await self.state.setUp()
            try await self.register()
        }
        state.storage.onNewSession { [self] in await self.sessionRenewed() }
    }

    /// The old session's ephemeral nodes and watches are gone: registers, joins the election, watches again, and
    /// says again which topologies' files this nimbus holds (at the next monitor round).
    private func sessionRenewed() async {
        watches.sessionEnded()
        logger.info("new cluster state session: registering nimbus \(address) again")
        heldCode.removeAll()
        await retryUntilAvailable("registering nimbus \(address) again", logger: logger) { try await self.register() }
        clusterChanged.yield()
    }

    nonisolated func register() async throws {
        // As Storm does, nimbuses/ holds the start time in uptime_secs; readers turn it into an uptime.
        try await state.addNimbus(
            address,
            NimbusSummary(
                host: host, port: Int32(port), uptimeSecs: Int32(clamping: Int(startTime.timeIntervalSince1970)),
                isLeader: false, version: Self.version,
                tlsPort: (try? NimbusTLS.port(conf)).flatMap { $0 }.map { Int32($0) }))
        try await election.join()
    }

    /// Throws unless this nimbus leads: writes go to the leader only.
    nonisolated func requireLeader() async throws {
        let (leads, leader) = (try await election.isLeader(), try await election.leader())
        if !leads { throw NotLeaderError(this: address, leader: leader) }
    }

    // MARK: the monitor

    /// One round of nimbus' periodic work (every `nimbus.monitor.freq.secs`, and after changes). The leader
    /// schedules each topology (one topology's trouble never holds up the others), reassigns the work of dead
    /// supervisors and workers, and resumes the kills and rebalances a previous leader left waiting; every nimbus
    /// expires abandoned uploads, makes sure it holds every live topology's files (copying what it lacks from
    /// the cluster state and from other nimbuses), and deletes files of forgotten topologies.
    public func monitor() async {
        let n = transfers.expire()
        if n > 0 { logger.info("expired \(n) abandoned file transfer(s)") }
        do {
            let leads = try await election.isLeader()
            if monitorFailing {
                // Back from a cluster state outage: heartbeats could not be read meanwhile, so none is stale yet.
                let now = Date()
                supervisorBeats = supervisorBeats.mapValues { ($0.timeSecs, now) }
            }
            let tookOver = leads && !leadership
            leadership = leads
            if tookOver {
                logger.info("nimbus \(address) is the leader")
                historyKillTimes = nil
                await resumePendingTransitions()
            }
            if leads {
                await removeOrphanedRecords()
                try await makeAssignments()
            }
            await replicateCode()
            await deleteOrphanedCode()
            await mendOwnRegistration()
            if monitorFailing {
                monitorFailing = false
                logger.info("nimbus monitor rounds work again")
            }
        } catch {
            // Once per outage, not once per round.
            if !monitorFailing {
                monitorFailing = true
                logger.warning("nimbus monitor round failed (retrying every round): \(error)")
            }
        }
    }

    /// Runs a monitor round whenever the set of supervisors changes (a new one, or one whose session ended), or
    /// a topology appears or goes (so a follower copies a new topology's files at once: the leader may be waiting
    /// for `topology.min.replication.count` nimbuses to hold them), rather than waiting for the next period.
    /// Returns when its task is cancelled.
    public func followClusterChanges() async {
        await armWatches()
        for await _ in clusterChanges {
            monitorSoon()
            await armWatches()
        }
    }

    /// Arms what is not armed of the two watches (the one that fired); retried every 2 s while the cluster state
    /// is unreachable, the periodic monitor covering the gap.
    private func armWatches() async {
        while !Task.isCancelled {
            do {
                try await watches.watchChildren(state.supervisorsPath)
                try await watches.watchChildren(state.stormsPath)
                return
            } catch {
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }

    /// Runs a monitor round soon, as a task of its own (after a submit, a rebalance, a supervisor change).
    /// Requests made while a round is already waiting join it: a burst of submits costs one round, not one each.
    func monitorSoon() {
        guard !monitorQueued else { return }
        monitorQueued = true
        Task {
            monitorQueued = false
            await monitor()
        }
    }

    private func resumePendingTransitions() async {
        do {
            for id in try await state.activeStorms() {
                // A base that cannot be read holds up no other topology's pending kill or rebalance.
                guard let base = try? await state.stormBase(id) else { continue }
                switch (base.status, base.topologyActionOptions) {
                case (.killed, .killOptions(let options)?):
                    logger.info("resuming the kill of \(id)")
                    schedule(after: Int(options.waitSecs ?? 0)) { await self.finishKill(id) }
                case (.rebalancing, .rebalanceOptions(let options)?):
                    logger.info("resuming the rebalance of \(id)")
                    schedule(after: Int(options.waitSecs ?? 0)) { await self.finishRebalance(id) }
                default:
                    break
                }
            }
        } catch {
            logger.warning("could not resume pending kills and rebalances: \(error)")
        }
    }

    /// Deletes the files of topologies the cluster state no longer has.
    private func deleteOrphanedCode() async {
        await writeSection {
            do {
                let alive = Set(try await state.activeStorms())
                for id in code.storedIds() where !alive.contains(id) {
                    code.remove(id)
                    heldCode.remove(id)
                    logger.info("deleted the files of topology \(id), which the cluster state no longer has")
                }
                // Trouble keys are a topology id, or an id and "/what".
                troubles = troubles.filter { alive.contains(String($0.key.prefix { $0 != "/" })) }
                schedulingHolds = schedulingHolds.filter { alive.contains($0.key) }
                awaitingReplication.formIntersection(alive)
                heldCode.formIntersection(alive)
                forgetUnreadable(ofTopologiesOtherThan: alive)
            } catch {
                logger.warning("could not look for orphaned topology files: \(error)")
            }
        }
    }

    /// The leader removes every record of a topology that has no base (its `storms/` node deleted by hand, or a
    /// removal cut short): an assignment left behind would keep its workers running and its slots taken. The
    /// supervisors stop the workers whose assignment is gone. Runs before scheduling, so the slots are free in the
    /// same round.
    func removeOrphanedRecords() async {
        await writeSection {
            do {
                let alive = Set(try await state.activeStorms())
                var recorded = Set<String>()
                for folder in [
                    state.assignmentsPath, state.workerbeatsPath, state.errorsPath, state.stormCodePath,
                    state.stormConfPath,
                    state.codeHoldersPath,
                ] {
                    recorded.formUnion(try await state.storage.childrenIfExists(folder))
                }
                for id in recorded.subtracting(alive).sorted() {
                    try await state.removeStorm(id)
                    plans[id] = nil
                    respread.remove(id)
                    logger.info(
                        "removed the records of topology \(id), which has no base in \(state.stormsPath) (its workers stop)"
                    )
                }
            } catch {
                logger.warning("could not look for records of topologies that are gone: \(error)")
            }
        }
    }

    // MARK: scheduling

    /// What a scheduling round reads, all of it before it places anything.
    /// A record that cannot be read is set aside, with the reason, so it holds up nothing else.
    struct Snapshot: Sendable {
        var supervisors: [String: SupervisorInfo] = [:]
        var bases: [String: StormBase] = [:]
        var assignments: [String: Assignment] = [:]
        var heartbeats: [String: [String: ClusterWorkerHeartbeat]] = [:]
        var holders: [String: Int] = [:]
        /// Topologies whose base cannot be read: not scheduled, but their assignments keep their slots.
        var unreadableBases: [String: ClusterStateError] = [:]
        /// Topologies whose assignment cannot be read: the leader computes and writes a new one.
        var unreadableAssignments: [String: ClusterStateError] = [:]
        /// Worker heartbeats that cannot be read, with their topology.
        var unreadableHeartbeats: [(topology: String, error: ClusterStateError)] = []
        /// Supervisors whose record cannot be read.
        var unreadableSupervisors: [String: ClusterStateError] = [:]

        /// Every unreadable record's path.
        var unreadablePaths: Set<String> {
            let errors =
                Array(unreadableBases.values) + Array(unreadableAssignments.values) + unreadableHeartbeats.map(\.error)
                + Array(unreadableSupervisors.values)
            return Set(errors.compactMap(\.unreadablePath))
        }
    }

    func snapshot() async throws -> Snapshot {
        let awaiting = awaitingReplication
        var s = Snapshot()
        let supervisors = try await state.supervisors()
        (s.supervisors, s.unreadableSupervisors) = (supervisors.records, supervisors.unreadable)
        // Each record read on its own, so one that cannot be read affects only what it describes.
        for id in try await state.activeStorms() {
            do {
                s.bases[id] = try await state.stormBase(id)
            } catch let error as ClusterStateError {
                s.unreadableBases[id] = error
            }
            do {
                s.assignments[id] = try await state.assignment(id)
            } catch let error as ClusterStateError {
                s.unreadableAssignments[id] = error
            }
            if s.assignments[id] != nil {
                let beats = try await state.workerHeartbeats(id)
                s.heartbeats[id] = beats.records
                s.unreadableHeartbeats += beats.unreadable.values.map { (id, $0) }
            }
            // Only a topology waiting for its first assignment needs its count.
            if s.assignments[id] == nil && awaiting.contains(id) {
                s.holders[id] = try await state.codeHolders(id).count
            }
        }
        // Assignments left without a topology still hold their slots until they are removed.
        for id in try await state.storage.childrenIfExists(state.assignmentsPath) where s.assignments[id] == nil {
            if let a = try? await state.assignment(id) { s.assignments[id] = a }
        }
        return s
    }

    /// Live supervisors: registered (their ephemeral node exists) and heartbeating. As Storm does, a heartbeat
    /// counts by nimbus' own clock: a supervisor is dead when nimbus has not seen its heartbeat change for
    /// `nimbus.supervisor.timeout.secs`, so clock skew does not matter, and after nimbus itself lost the cluster
    /// state (or started) every supervisor gets the full timeout to show it is alive. A live supervisor whose node
    /// vanishes stays live for `supervisor.heartbeat.frequency.secs`, 2 s at most: a restarted supervisor replaces
    /// the node its previous run left, and nimbus must not move its work in that moment.
    func liveSupervisors(_ supervisors: [String: SupervisorInfo]) throws -> [String: SupervisorInfo] {
        let timeout = TimeInterval(try conf.int(ConfigKey.nimbusSupervisorTimeoutSecs))
        // Re-registering takes a moment (a busy machine stretched it close to a second); a dead supervisor's work
        // should not wait a whole heartbeat period (5 s by default) more.
        let grace = min(TimeInterval(conf.intOrDefault(ConfigKey.supervisorHeartbeatFrequencySecs)), 2)
        let seen = Date()
        var live = supervisors.filter { id, info in
            if supervisorBeats[id]?.timeSecs != info.timeSecs { supervisorBeats[id] = (info.timeSecs, seen) }
            return seen.timeIntervalSince(supervisorBeats[id]!.seenAt) <= timeout
        }
        // A live supervisor whose node vanished gets one heartbeat period to register again before it is dead.
        let before = vanishedSupervisors.count
        for id in supervisorBeats.keys where supervisors[id] == nil && vanishedSupervisors[id] == nil {
            if let info = lastLive[id] {
                vanishedSupervisors[id] = (info, seen)
                logger.info("supervisor \(id)'s node is gone; it is dead unless it registers again within \(grace) s")
            }
        }
        for id in supervisors.keys { vanishedSupervisors[id] = nil }
        for (id, entry) in vanishedSupervisors where seen.timeIntervalSince(entry.since) > grace {
            logger.info("supervisor \(id) is dead: its node has been gone for \(grace) s")
            vanishedSupervisors[id] = nil
        }
        let kept = vanishedSupervisors.mapValues(\.info)
        let newlyGone = vanishedSupervisors.count > before
        supervisorBeats = supervisorBeats.filter { supervisors[$0.key] != nil || kept[$0.key] != nil }
        live.merge(kept) { current, _ in current }
        lastLive = live
        // Look again once the grace is over, rather than at the next monitor period.
        if newlyGone {
            Task {
                try? await Task.sleep(for: .seconds(grace + 0.1))
                monitorSoon()
            }
        }
        return live
    }

    /// Computes every topology's assignment and writes those that changed.
    func makeAssignments() async throws {
        try await writeSection {
            let now = Int64(Date().timeIntervalSince1970)
            let snap = try await snapshot()
            noteUnreadable(in: snap)
            // A supervisor whose record cannot be read still has its node, so its session lives: it counts with its
            // last readable heartbeat, and is dead if it writes none for nimbus.supervisor.timeout.secs.
            var registered = snap.supervisors
            for id in snap.unreadableSupervisors.keys {
                if let info = lastLive[id] { registered[id] = info }
            }
            let supervisors = try liveSupervisors(registered)
            var offered = Set<WorkerSlot>()
            for (id, info) in supervisors {
                for port in info.meta ?? [] { offered.insert(WorkerSlot(node: id, port: port)) }
            }
            func slots(_ a: Assignment?) -> Set<WorkerSlot> {
                Set(
                    (a?.executorNodePort ?? [:]).values.compactMap { n in
                        n.port.first.map { WorkerSlot(node: n.node, port: $0) }
                    })
            }
            var assignments = snap.assignments
            var changed: [(String, Assignment)] = []
            var respreadDone: [String] = []
            var rewritten: [String] = []
            for (id, base) in snap.bases.sorted(by: { $0.key < $1.key }) {
                // A topology being killed or waiting to rebalance keeps its workers until the wait is over.
                if base.status == .killed || base.status == .rebalancing { continue }
                do {
                    let plan = try await self.plan(id)
                    let existing = assignments[id]
                    if existing == nil, awaitingReplication.contains(id) {
                        if let hold = try await replicationHold(
                            id, base: base, holders: snap.holders[id] ?? 0, now: now)
                        {
                            if schedulingHolds.updateValue(hold, forKey: id) != hold {
                                logger.info("not assigning topology \(id) yet: \(hold)")
                            }
                            continue
                        }
                    }
                    awaitingReplication.remove(id)
                    schedulingHolds.removeValue(forKey: id)
                    let executorSet = Set(
                        TaskLayout.executors(
                            tasks: plan.tasks, executorCounts: base.componentExecutors ?? plan.executors
                        ).keys)
                    let fresh = respread.contains(id)
                    var current: [Executor: WorkerSlot] = [:]
                    for (key, node) in (fresh ? nil : existing)?.executorNodePort ?? [:] where key.count == 2 {
                        if let port = node.port.first {
                            current[Executor(Int32(key[0]), Int32(key[1]))] = WorkerSlot(node: node.node, port: port)
                        }
                    }
                    var usedByOthers = Set<WorkerSlot>()
                    for (other, a) in assignments where other != id { usedByOthers.formUnion(slots(a)) }
                    let alive = try aliveSlots(
                        current: current, existing: existing, beats: snap.heartbeats[id] ?? [:], offered: offered,
                        now: now)
                    let outcome = EvenScheduler.schedule(
                        executors: executorSet, requestedWorkers: Int(base.numWorkers), current: current, alive: alive,
                        free: offered.subtracting(usedByOthers).subtracting(alive))
                    let updated = assignment(
                        for: id, outcome: outcome, existing: existing, supervisors: supervisors, owner: base.owner,
                        now: now)
                    // Nothing placed and nothing before: no assignment to write yet.
                    if fresh && !outcome.placement.isEmpty { respreadDone.append(id) }
                    if updated != existing && !(existing == nil && outcome.placement.isEmpty) {
                        changed.append((id, updated))
                        if snap.unreadableAssignments[id] != nil { rewritten.append(id) }
                        assignments[id] = updated
                        logger.info(
                            "assigned \(id): \(outcome.workers) worker(s) on \(Set(outcome.placement.values).sorted()) (\(outcome.status))"
                        )
                    }
                    clearTrouble(id, "scheduling topology \(id) works again")
                } catch {
                    reportTrouble(id, "cannot schedule topology \(id): \(error)")
                }
            }
            for (id, assignment) in changed { try await state.setAssignment(id, assignment) }
            for id in rewritten {
                unreadableRecords.removeValue(forKey: state.assignmentsPath + "/" + id)
                logger.info("rewrote the assignment of topology \(id), whose record could not be read")
            }
            respread.subtract(respreadDone)
        }
    }

    /// Logs each unreadable record a scheduling round met (once), files it in its topology's errors, and forgets
    /// those that can be read again.
    private func noteUnreadable(in snap: Snapshot) {
        for (id, error) in snap.unreadableBases { noteUnreadable(error, topology: id, remedy: Self.brokenBaseRemedy) }
        for (id, error) in snap.unreadableAssignments {
            noteUnreadable(error, topology: id, remedy: Self.assignmentRemedy)
        }
        for (id, error) in snap.unreadableHeartbeats {
            noteUnreadable(
                error, topology: id, remedy: "its worker's heartbeat is ignored until the worker writes it again")
        }
        for (_, error) in snap.unreadableSupervisors {
            noteUnreadable(
                error, topology: nil,
                remedy: "the supervisor counts with its last readable heartbeat until it writes it again")
        }
        forgetMended(
            readKinds: ["storms", "assignments", "supervisors", "workerbeats"], stillUnreadable: snap.unreadablePaths)
    }

    /// Why a topology submitted here that has no assignment yet must wait, or nil: as Storm does, the leader assigns it once
    /// `topology.min.replication.count` nimbuses hold its files, or after `topology.max.replication.wait.time.sec`
    /// (0 or less: no limit).
    func replicationHold(_ id: String, base: StormBase, holders: Int, now: Int64) async throws -> String? {
        let topoConf = conf.merging(try await stored(id).conf)
        let wanted = try topoConf.int(ConfigKey.topologyMinReplicationCount)
        let maxWait = try topoConf.int(ConfigKey.topologyMaxReplicationWaitTimeSec)
        guard holders < wanted else { return nil }
        let waited = now - Int64(base.launchTimeSecs ?? 0)
        if maxWait > 0 && waited > Int64(maxWait) {
            let note =
                "topology \(id) is assigned with its files on \(holders) of \(wanted) nimbuses: \(ConfigKey.topologyMaxReplicationWaitTimeSec) (\(maxWait)) has passed"
            if troubles.updateValue(note, forKey: id + "/replication") != note { logger.warning("\(note)") }
            return nil
        }
        return
            "Waiting for code replication: \(holders) of \(wanted) nimbuses hold the files (\(ConfigKey.topologyMinReplicationCount))"
    }

    /// Logs a topology's trouble once, and again only when it changes.
    func reportTrouble(_ id: String, _ message: String) {
        if troubles.updateValue(message, forKey: id) != message { logger.warning("\(message)") }
    }

    /// Says once that a topology's trouble is over.
    func clearTrouble(_ id: String, _ message: String) {
        if troubles.removeValue(forKey: id) != nil { logger.info("\(message)") }
    }

    /// Slots of a topology that still work: offered by a live supervisor, and either heartbeating within
    /// `nimbus.task.timeout.secs` or still within `nimbus.task.launch.secs` of their start.
    private func aliveSlots(
        current: [Executor: WorkerSlot], existing: Assignment?, beats: [String: ClusterWorkerHeartbeat],
        offered: Set<WorkerSlot>, now: Int64
    ) throws -> Set<WorkerSlot> {
        let taskTimeout = Int64(try conf.int(ConfigKey.nimbusTaskTimeoutSecs))
        let launchGrace = Int64(conf.intOrDefault(ConfigKey.nimbusTaskLaunchSecs))
        var started: [WorkerSlot: Int64] = [:]
        for (e, slot) in current {
            let t = existing?.executorStartTimeSecs?[e.key] ?? now
            started[slot] = min(started[slot] ?? t, t)
        }
        return Set(
            started.filter { slot, start in
                guard offered.contains(slot) else { return false }
                if let beat = beats["\(slot.node)-\(slot.port)"], now - beat.timeSecs <= taskTimeout { return true }
                return now - start <= launchGrace
            }.keys)
    }

    private func assignment(
        for id: String, outcome: EvenScheduler.Outcome, existing: Assignment?, supervisors: [String: SupervisorInfo],
        owner: String?, now: Int64
    ) -> Assignment {
        var nodePort: [[Int64]: NodeInfo] = [:]
        var startTimes: [[Int64]: Int64] = [:]
        var hosts: [String: String] = [:]
        for (e, slot) in outcome.placement {
            let node = NodeInfo(node: slot.node, port: [slot.port])
            nodePort[e.key] = node
            startTimes[e.key] =
                existing?.executorNodePort?[e.key] == node ? (existing?.executorStartTimeSecs?[e.key] ?? now) : now
            hosts[slot.node] = supervisors[slot.node]?.hostname ?? existing?.nodeHost?[slot.node] ?? slot.node
        }
        return Assignment(
            masterCodeDir: code.directory(id).path, nodeHost: hosts, executorNodePort: nodePort,
            executorStartTimeSecs: startTimes, owner: owner)
    }

}
