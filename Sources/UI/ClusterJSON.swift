import StormCore
import StormThrift

/// The cluster-wide answers of Storm's REST API (`/cluster/summary`, `/nimbus/summary`, `/supervisor/summary`,
/// `/supervisor`, `/topology/summary`, `/owner-resources`, `/history/summary`), with Storm's field names.
struct ClusterJSON {
    let links: LogLinks
    /// `nimbus.seeds`: a seed that is not among the registered nimbuses shows as "Offline", as Storm's UI shows it.
    let seeds: [(host: String, port: Int)]

    func clusterSummary(_ cluster: ClusterSummary) -> ConfigValue {
        let slotsTotal = cluster.supervisors.reduce(0) { $0 + Int64($1.numWorkers) }
        let slotsUsed = cluster.supervisors.reduce(0) { $0 + Int64($1.numUsedWorkers) }
        let leader = cluster.nimbuses.first(where: \.isLeader)
        let totalMem = cluster.supervisors.reduce(0) { $0 + (memory($1) ?? 0) }
        let totalCpu = cluster.supervisors.reduce(0) { $0 + (cpu($1) ?? 0) }
        let usedMem = cluster.supervisors.reduce(0) { $0 + ($1.usedMem ?? 0) }
        let usedCpu = cluster.supervisors.reduce(0) { $0 + ($1.usedCpu ?? 0) }
        return .map([
            "user": .null,
            "stormVersion": .text(leader?.version ?? cluster.nimbuses.first?.version),
            "supervisors": .integer(cluster.supervisors.count),
            "topologies": .integer(cluster.topologies.count),
            "slotsTotal": .int(slotsTotal),
            "slotsUsed": .int(slotsUsed),
            "slotsFree": .int(slotsTotal - slotsUsed),
            "executorsTotal": .int(cluster.topologies.reduce(0) { $0 + Int64($1.numExecutors) }),
            "tasksTotal": .int(cluster.topologies.reduce(0) { $0 + Int64($1.numTasks) }),
            "schedulerDisplayResource": .bool(false),
            "totalMem": .double(totalMem),
            "totalCpu": .double(totalCpu),
            "availMem": .double(totalMem - usedMem),
            "availCpu": .double(totalCpu - usedCpu),
            "fragmentedMem": .double(0),
            "fragmentedCpu": .double(0),
            "memAssignedPercentUtil": totalMem > 0 ? Formatting.decimal(usedMem * 100 / totalMem) : .string("0.0"),
            "cpuAssignedPercentUtil": totalCpu > 0 ? Formatting.decimal(usedCpu * 100 / totalCpu) : .string("0.0"),
            "bugtracker-url": .null,
            "central-log-url": .null,
        ])
    }

    func nimbusSummary(_ cluster: ClusterSummary) -> ConfigValue {
        var rows: [ConfigValue] = cluster.nimbuses.map { nimbus in
            .map([
                "host": .string(nimbus.host),
                "port": .integer(nimbus.port),
                "status": .string(nimbus.isLeader ? "Leader" : "Not a Leader"),
                "version": .string(nimbus.version),
                "nimbusUpTime": .string(Formatting.uptime(Int64(nimbus.uptimeSecs))),
                "nimbusUpTimeSeconds": .integer(nimbus.uptimeSecs),
                "nimbusLogLink": .string(links.daemonLog(host: nimbus.host, file: "nimbus.log")),
            ])
        }
        let registered = Set(cluster.nimbuses.map { "\($0.host):\($0.port)" })
        for seed in seeds where !registered.contains("\(seed.host):\(seed.port)") {
            rows.append(
                .map([
                    "host": .string(seed.host),
                    "port": .integer(seed.port),
                    "status": .string("Offline"),
                    "version": .string("Not applicable"),
                    "nimbusUpTime": .string("Not applicable"),
                    "nimbusUpTimeSeconds": .string("Not applicable"),
                    "nimbusLogLink": .string(links.daemonLog(host: seed.host, file: "nimbus.log")),
                ]))
        }
        return .map(["nimbuses": .list(rows)])
    }

    func supervisorSummary(_ supervisors: [SupervisorSummary]) -> ConfigValue {
        .map(["supervisors": .list(supervisors.map(supervisor)), "schedulerDisplayResource": .bool(false)])
    }

    func supervisorPage(_ page: SupervisorPageInfo) -> ConfigValue {
        .map([
            "supervisors": .list((page.supervisorSummaries ?? []).map(supervisor)),
            "workers": .list((page.workerSummaries ?? []).map(worker)),
            "schedulerDisplayResource": .bool(false),
        ])
    }

    func supervisor(_ s: SupervisorSummary) -> ConfigValue {
        let totalMem = memory(s) ?? 0
        let totalCpu = cpu(s) ?? 0
        return .map([
            "id": .string(s.supervisorId),
            "host": .string(s.host),
            "uptime": .string(Formatting.uptime(Int64(s.uptimeSecs))),
            "uptimeSeconds": .integer(s.uptimeSecs),
            "slotsTotal": .integer(s.numWorkers),
            "slotsUsed": .integer(s.numUsedWorkers),
            "slotsFree": .integer(max(0, s.numWorkers - s.numUsedWorkers)),
            "blacklisted": .bool(s.blacklisted ?? false),
            "version": .text(s.version),
            "totalMem": .double(totalMem),
            "totalCpu": .double(totalCpu),
            "usedMem": .double(s.usedMem ?? 0),
            "usedCpu": .double(s.usedCpu ?? 0),
            "availMem": .double(totalMem - (s.usedMem ?? 0)),
            "availCpu": .double(totalCpu - (s.usedCpu ?? 0)),
            "logLink": .string(links.daemonLog(host: s.host, file: "supervisor.log")),
        ])
    }

    func worker(_ w: WorkerSummary) -> ConfigValue {
        let host = w.host ?? ""
        let port = Int(w.port ?? 0)
        return .map([
            "supervisorId": .text(w.supervisorId),
            "host": .string(host),
            "port": .integer(port),
            "topologyId": .text(w.topologyId),
            "topologyName": .text(w.topologyName),
            "executorsTotal": .integer(w.numExecutors ?? 0),
            "assignedMemOnHeap": .double(w.assignedMemonheap ?? 0),
            "assignedMemOffHeap": .double(w.assignedMemoffheap ?? 0),
            "assignedCpu": .double(w.assignedCpu ?? 0),
            "componentNumTasks": .map((w.componentToNumTasks ?? [:]).mapValues { .int($0) }),
            "uptime": .string(Formatting.uptime(Int64(w.uptimeSecs ?? 0))),
            "uptimeSeconds": .integer(w.uptimeSecs ?? 0),
            "owner": .text(w.owner),
            "workerLogLink": .string(links.workerLog(host: host, port: port, topologyId: w.topologyId ?? "")),
        ])
    }

    func topologySummary(_ topologies: [TopologySummary]) -> ConfigValue {
        .map([
            "topologies": .list(topologies.sorted { $0.name < $1.name }.map(topology)),
            "schedulerDisplayResource": .bool(false),
        ])
    }

    func topology(_ t: TopologySummary) -> ConfigValue {
        let requestedOn = t.requestedMemonheap ?? 0
        let requestedOff = t.requestedMemoffheap ?? 0
        let assignedOn = t.assignedMemonheap ?? 0
        let assignedOff = t.assignedMemoffheap ?? 0
        return .map([
            "id": .string(t.id),
            "encodedId": .string(URLPath.encode(t.id)),
            "name": .string(t.name),
            "owner": .text(t.owner),
            "status": .string(t.status),
            "uptime": .string(Formatting.uptime(Int64(t.uptimeSecs))),
            "uptimeSeconds": .integer(t.uptimeSecs),
            "tasksTotal": .integer(t.numTasks),
            "workersTotal": .integer(t.numWorkers),
            "executorsTotal": .integer(t.numExecutors),
            "replicationCount": .integer(t.replicationCount ?? 0),
            "schedulerInfo": .text(t.schedStatus),
            "stormVersion": .text(t.stormVersion),
            "topologyVersion": .text(t.topologyVersion),
            "requestedMemOnHeap": .double(requestedOn),
            "requestedMemOffHeap": .double(requestedOff),
            "requestedTotalMem": .double(requestedOn + requestedOff),
            "requestedCpu": .double(t.requestedCpu ?? 0),
            "assignedMemOnHeap": .double(assignedOn),
            "assignedMemOffHeap": .double(assignedOff),
            "assignedTotalMem": .double(assignedOn + assignedOff),
            "assignedCpu": .double(t.assignedCpu ?? 0),
        ])
    }

    func ownerResources(_ owners: [OwnerResourceSummary]) -> ConfigValue {
        .map([
            "owners": .list(owners.sorted { $0.owner < $1.owner }.map(owner)),
            "schedulerDisplayResource": .bool(false),
        ])
    }

    func owner(_ o: OwnerResourceSummary) -> ConfigValue {
        .map([
            "owner": .string(o.owner),
            "totalTopologies": .integer(o.totalTopologies ?? 0),
            "totalExecutors": .integer(o.totalExecutors ?? 0),
            "totalWorkers": .integer(o.totalWorkers ?? 0),
            "totalTasks": .integer(o.totalTasks ?? 0),
            "totalMemoryUsage": .double(o.memoryUsage ?? 0),
            "totalCpuUsage": .double(o.cpuUsage ?? 0),
            "memoryGuarantee": o.memoryGuarantee.map { .double($0) } ?? .string("N/A"),
            "cpuGuarantee": o.cpuGuarantee.map { .double($0) } ?? .string("N/A"),
            "isolatedNodes": o.isolatedNodeGuarantee.map { .integer($0) } ?? .string("N/A"),
            "memoryGuaranteeRemaining": o.memoryGuaranteeRemaining.map { .double($0) } ?? .string("N/A"),
            "cpuGuaranteeRemaining": o.cpuGuaranteeRemaining.map { .double($0) } ?? .string("N/A"),
            "totalReqOnHeapMem": .double(o.requestedOnHeapMemory ?? 0),
            "totalReqOffHeapMem": .double(o.requestedOffHeapMemory ?? 0),
            "totalReqMem": .double(o.requestedTotalMemory ?? 0),
            "totalReqCpu": .double(o.requestedCpu ?? 0),
            "totalAssignedOnHeapMem": .double(o.assignedOnHeapMemory ?? 0),
            "totalAssignedOffHeapMem": .double(o.assignedOffHeapMemory ?? 0),
        ])
    }

    func history(_ info: TopologyHistoryInfo) -> ConfigValue {
        .map(["topo-history": .list((info.topoIds ?? []).map { .string($0) })])
    }

    private func memory(_ s: SupervisorSummary) -> Double? {
        s.totalResources?["memory.mb"] ?? s.totalResources?["supervisor.memory.capacity.mb"]
    }

    private func cpu(_ s: SupervisorSummary) -> Double? {
        s.totalResources?["cpu.pcore.percent"] ?? s.totalResources?["supervisor.cpu.capacity"]
    }
}

/// Links to the log viewer (`logviewer.port` on each node), in the shapes Storm's UI gives them.
struct LogLinks {
    let port: Int
    /// https when the log viewers serve HTTPS (`logviewer.https.port`), as Storm's UI links them.
    var scheme = "http"

    func workerLog(host: String, port workerPort: Int, topologyId: String, file: String = "worker.log") -> String {
        "\(scheme)://\(host):\(port)/api/v1/log?file=\(URLPath.encode("\(topologyId)/\(workerPort)/\(file)"))"
    }

    func daemonLog(host: String, file: String) -> String {
        "\(scheme)://\(host):\(port)/api/v1/daemonlog?file=\(URLPath.encode(file))"
    }
}

/// Percent-encoding for a path segment or a query value, as Java's URLEncoder leaves unreserved characters alone.
enum URLPath {
    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.*".utf8)

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
