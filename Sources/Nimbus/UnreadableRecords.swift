import ClusterState
import Foundation
import StormCore
import StormThrift

/// A record of the cluster state that exists but cannot be read affects its own topology (or supervisor, or
/// nimbus) alone: every query and monitor round reads the others as usual. Each such record is logged once, and
/// the leader adds it to its topology's errors; nimbus rewrites what it writes itself (assignments, code records,
/// its own registration), and reports what it cannot (a StormBase: that topology is broken until it is killed).
extension Nimbus {
    /// The component an unreadable record's ErrorInfo is filed under: it is the topology's system's trouble, not
    /// one of its components'.
    static let recordErrorsComponent = "__system"

    /// Says once that a record cannot be read: logs it with what happens next, and, when this nimbus leads and the
    /// record belongs to a topology, files it in that topology's errors.
    func noteUnreadable(_ error: ClusterStateError, topology: String?, remedy: String) {
        guard let path = error.unreadablePath else { return }
        guard unreadableRecords.updateValue(error.description, forKey: path) == nil else { return }
        logger.warning("\(error.description); \(remedy)")
        guard let topology, leadership else { return }
        let info = ErrorInfo(
            error: "\(error.description); \(remedy)", errorTimeSecs: Int32(clamping: Int(Date().timeIntervalSince1970)),
            host: host, port: Int32(port))
        Task { [state, logger] in
            do {
                try await state.reportError(topology, component: Self.recordErrorsComponent, info)
            } catch {
                logger.warning("could not add the unreadable record \(path) to topology \(topology)'s errors: \(error)")
            }
        }
    }

    /// Forgets unreadable records that the last round read fine (or that are gone), so a record that breaks again
    /// is logged again. `readKinds`: the folders (`storms`, `assignments`, ...) the round read every record of.
    func forgetMended(readKinds: [String], stillUnreadable: Set<String>) {
        let folders = readKinds.map { state.root + "/" + $0 + "/" }
        let mended = unreadableRecords.keys.filter { path in
            folders.contains { path.hasPrefix($0) } && !stillUnreadable.contains(path)
        }
        for path in mended { unreadableRecords[path] = nil }
        for path in mended.sorted() { logger.info("record \(path) is no longer unreadable") }
    }

    /// Forgets the unreadable records of topologies that are gone.
    func forgetUnreadable(ofTopologiesOtherThan alive: Set<String>) {
        let perTopology = ["storms", "assignments", "workerbeats", "errors", "stormcode", "stormconf"].map {
            state.root + "/" + $0 + "/"
        }
        unreadableRecords = unreadableRecords.filter { path, _ in
            guard let folder = perTopology.first(where: { path.hasPrefix($0) }) else { return true }
            let id = path.dropFirst(folder.count).prefix { $0 != "/" }
            return alive.contains(String(id))
        }
    }

    /// What is known of a topology whose base cannot be read: the name and launch time its id spells, its
    /// assignment if that can be read, and the reason as its scheduling status.
    func brokenSummary(_ id: String, _ error: ClusterStateError, assignment: Assignment?) async -> TopologySummary {
        let plan = try? await plan(id)
        let workers = Set((assignment?.executorNodePort ?? [:]).values.map { "\($0.node):\($0.port.sorted())" })
        var summary = TopologySummary(
            id: id, name: TopologyName.name(ofId: id) ?? id, numTasks: plan?.totalTasks ?? 0,
            numExecutors: plan?.totalExecutors ?? Int32(clamping: assignment?.executorNodePort?.count ?? 0),
            numWorkers: Int32(workers.count), uptimeSecs: Self.uptime(ofId: id), status: Self.unknownStatus,
            stormVersion: Self.version, schedStatus: error.description)
        summary.replicationCount = replicationCounts.counts[id].map { Int32(clamping: $0) }
        return summary
    }

    /// The status of a topology whose base cannot be read: none of Storm's four can be claimed for it.
    static let unknownStatus = "UNKNOWN"

    /// Seconds since the launch time a topology id spells (`<name>-<counter>-<secs>`), or 0.
    static func uptime(ofId id: String) -> Int32 {
        guard let secs = id.split(separator: "-").last.flatMap({ Int($0) }) else { return 0 }
        return Int32(clamping: max(0, Int(Date().timeIntervalSince1970) - secs))
    }

    /// The leader makes sure the topology code and conf records it wrote can be read, rewriting an unreadable one
    /// from its own files, at most once a monitor period (a follower's conf file may predate a rebalance, so only
    /// the leader's files are the truth).
    func mendTopologyRecords(_ alive: [String]) async {
        let period = TimeInterval(conf.intOrDefault(ConfigKey.nimbusMonitorFreqSecs))
        guard Date().timeIntervalSince(lastRecordsCheck) >= period else { return }
        lastRecordsCheck = Date()
        for id in alive where code.has(id) {
            var problems: [ClusterStateError] = []
            do {
                do { _ = try await state.topologyCode(id) } catch let error as ClusterStateError {
                    problems.append(error)
                }
                if let text = try await state.topologyConfJSON(id), (try? JSON.decodeObject(text)) == nil {
                    problems.append(.corrupt(state.stormConfPath + "/" + id, "it is not a JSON object"))
                }
            } catch {
                continue
            }
            if !problems.isEmpty { await rewriteTopologyRecords(id, problems) }
        }
    }

    /// Rewrites a topology's code and conf records from this nimbus' files.
    func rewriteTopologyRecords(_ id: String, _ problems: [ClusterStateError]) async {
        for problem in problems {
            noteUnreadable(
                problem, topology: id, remedy: "the leader rewrites it from its copy of the topology's files")
        }
        do {
            let (topology, topoConf) = (try code.topology(id), try code.conf(id))
            let confJSON = try JSON.encode(.map(topoConf))
            try await state.setTopologyRecords(id, topology: topology, confJSON: confJSON)
            for p in problems.compactMap(\.unreadablePath) { unreadableRecords[p] = nil }
            logger.info("rewrote the code and conf records of topology \(id) from this nimbus' files")
        } catch {
            reportTrouble(id + "/records", "could not rewrite the code and conf records of topology \(id): \(error)")
        }
    }

    /// Each nimbus rewrites its own registration if it cannot be read (its session keeps the node, so nothing
    /// else would replace it).
    func mendOwnRegistration() async {
        do {
            _ = try await state.nimbus(address)
        } catch let error as ClusterStateError {
            noteUnreadable(error, topology: nil, remedy: "nimbus \(address) registers again")
            do {
                try await register()
                unreadableRecords[error.unreadablePath ?? ""] = nil
            } catch {
                logger.warning("could not register nimbus \(address) again: \(error)")
            }
        } catch {}
    }
}
