import Foundation
import StormCore
import StormThrift

/// The per-topology answers of Storm's REST API (`/topology/<id>`, `/topology-workers/<id>`,
/// `/topology/<id>/metrics`, `/topology/<id>/visualization`, `/topology/<id>/component/<component>`), with Storm's
/// field names.
struct TopologyJSON {
    let cluster: ClusterJSON
    /// `ui.actions.enabled`, told to the pages in each topology's configuration (the UI's value wins).
    let actionsEnabled: Bool
    var links: LogLinks { cluster.links }

    func topologyPage(_ page: TopologyPageInfo, window: String, now: Int64) -> ConfigValue {
        var conf = (try? JSON.decodeObject(page.topologyConf ?? "{}")) ?? [:]
        conf[ConfigKey.uiActionsEnabled] = .bool(actionsEnabled)
        let requestedOn = page.requestedMemonheap ?? 0
        let requestedOff = page.requestedMemoffheap ?? 0
        let assignedOn = page.assignedMemonheap ?? 0
        let assignedOff = page.assignedMemoffheap ?? 0
        let debug = page.debugOptions?.enable ?? false
        return .map([
            "id": .string(page.id),
            "encodedId": .string(URLPath.encode(page.id)),
            "name": .text(page.name),
            "owner": .text(page.owner),
            "status": .text(page.status),
            "uptime": .string(Formatting.uptime(Int64(page.uptimeSecs ?? 0))),
            "uptimeSeconds": .integer(page.uptimeSecs ?? 0),
            "tasksTotal": .integer(page.numTasks ?? 0),
            "workersTotal": .integer(page.numWorkers ?? 0),
            "executorsTotal": .integer(page.numExecutors ?? 0),
            "schedulerInfo": .text(page.schedStatus),
            "msgTimeout": conf[ConfigKey.topologyMessageTimeoutSecs] ?? .int(30),
            "window": .string(window),
            "windowHint": .string(Formatting.windowHint(window)),
            "schedulerDisplayResource": .bool(false),
            "replicationCount": .integer(page.replicationCount ?? 0),
            "debug": .bool(debug),
            "samplingPct": .double(debug ? page.debugOptions?.samplingpct ?? 10 : 10),
            "stormVersion": .text(page.stormVersion),
            "topologyVersion": .text(page.topologyVersion),
            "requestedMemOnHeap": .double(requestedOn),
            "requestedMemOffHeap": .double(requestedOff),
            "requestedTotalMem": .double(requestedOn + requestedOff),
            "requestedCpu": .double(page.requestedCpu ?? 0),
            "assignedMemOnHeap": .double(assignedOn),
            "assignedMemOffHeap": .double(assignedOff),
            "assignedTotalMem": .double(assignedOn + assignedOff),
            "assignedCpu": .double(page.assignedCpu ?? 0),
            "topologyStats": topologyStats(page.topologyStats),
            "workers": .list((page.workers ?? []).map(cluster.worker)),
            "spouts": .list(
                (page.idToSpoutAggStats ?? [:]).sorted { $0.key < $1.key }.map {
                    componentRow($0.value, id: $0.key, idKey: "spoutId", topologyId: page.id, now: now)
                }),
            "bolts": .list(
                (page.idToBoltAggStats ?? [:]).sorted { $0.key < $1.key }.map {
                    componentRow($0.value, id: $0.key, idKey: "boltId", topologyId: page.id, now: now)
                }),
            "configuration": .map(conf),
        ])
    }

    /// One row per window the executors report, longest last.
    private func topologyStats(_ stats: TopologyStats?) -> ConfigValue {
        guard let stats else { return .list([]) }
        let present = Set(stats.windowToEmitted?.keys ?? [:].keys)
        return .list(
            Formatting.windows.filter(present.contains).map { window in
                .map([
                    "window": .string(window),
                    "windowPretty": .string(Formatting.windowHint(window)),
                    "emitted": .int(stats.windowToEmitted?[window] ?? 0),
                    "transferred": .int(stats.windowToTransferred?[window] ?? 0),
                    "completeLatency": Formatting.decimal(stats.windowToCompleteLatenciesMs?[window]),
                    "acked": .int(stats.windowToAcked?[window] ?? 0),
                    "failed": .int(stats.windowToFailed?[window] ?? 0),
                ])
            })
    }

    /// A spout's or bolt's row in the topology page: its counts in the window, latencies, and last error.
    private func componentRow(
        _ stats: ComponentAggregateStats, id: String, idKey: String, topologyId: String, now: Int64
    ) -> ConfigValue {
        var row = commonCounts(stats.commonStats)
        row.merge([
            idKey: .string(id),
            idKey == "spoutId" ? "encodedSpoutId" : "encodedBoltId": .string(URLPath.encode(id)),
            "executors": .integer(stats.commonStats?.numExecutors ?? 0),
            "tasks": .integer(stats.commonStats?.numTasks ?? 0),
            "requestedMemOnHeap": .double(0),
            "requestedMemOffHeap": .double(0),
            "requestedCpu": .double(0),
        ]) { $1 }
        specific(stats.specificStats, into: &row)
        row.merge(lastError(stats.lastError, topologyId: topologyId, now: now)) { $1 }
        return .map(row)
    }

    private func lastError(_ error: ErrorInfo?, topologyId: String, now: Int64) -> [String: ConfigValue] {
        guard let error else {
            return [
                "lastError": .string(""), "errorHost": .string(""), "errorPort": .null,
                "errorWorkerLogLink": .string(""), "errorTime": .null, "errorLapsedSecs": .null,
            ]
        }
        var fields = errorFields(error, topologyId: topologyId, now: now)
        fields["lastError"] = .string(String(error.error.prefix(200)))
        return fields
    }

    private func errorFields(_ error: ErrorInfo, topologyId: String, now: Int64) -> [String: ConfigValue] {
        let host = error.host ?? ""
        let port = Int(error.port ?? 0)
        return [
            "errorTime": .integer(error.errorTimeSecs),
            "errorHost": .string(host),
            "errorPort": .integer(port),
            "errorWorkerLogLink": .string(links.workerLog(host: host, port: port, topologyId: topologyId)),
            "errorLapsedSecs": .int(max(0, now - Int64(error.errorTimeSecs))),
        ]
    }

    func workers(_ info: TopologyInfo) -> ConfigValue {
        var seen = Set<String>()
        var hostPorts: [ConfigValue] = []
        for executor in info.executors.sorted(by: { ($0.host, $0.port) < ($1.host, $1.port) })
        where seen.insert("\(executor.host):\(executor.port)").inserted {
            hostPorts.append(.map(["host": .string(executor.host), "port": .integer(executor.port)]))
        }
        return .map(["hostPortList": .list(hostPorts), "logviewerPort": .integer(links.port)])
    }

    // MARK: the component page

    func componentPage(_ page: ComponentPageInfo, window: String, now: Int64) -> ConfigValue {
        let topologyId = page.topologyId ?? ""
        let isSpout = page.componentType == .spout
        let windows = (page.windowToStats ?? [:]).sorted {
            (Formatting.windows.firstIndex(of: $0.key) ?? 99) < (Formatting.windows.firstIndex(of: $1.key) ?? 99)
        }
        var out: [String: ConfigValue] = [
            "user": .null,
            "id": .string(page.componentId),
            "encodedId": .string(URLPath.encode(page.componentId)),
            "name": .text(page.topologyName),
            "componentType": .string(isSpout ? "spout" : "bolt"),
            "executors": .integer(page.numExecutors ?? 0),
            "tasks": .integer(page.numTasks ?? 0),
            "topologyId": .string(topologyId),
            "encodedTopologyId": .string(URLPath.encode(topologyId)),
            "topologyStatus": .text(page.topologyStatus),
            "window": .string(window),
            "windowHint": .string(Formatting.windowHint(window)),
            "schedulerDisplayResource": .bool(false),
            "requestedMemOnHeap": .double(0),
            "requestedMemOffHeap": .double(0),
            "requestedCpu": .double(0),
            "debug": .bool(page.debugOptions?.enable ?? false),
            "samplingPct": .double(page.debugOptions?.samplingpct ?? 10),
            // The worker whose event logger gets this component's samples (Storm's link to its events.log).
            "eventLogLink": .string(
                page.eventlogHost.flatMap { host in
                    page.eventlogPort.map {
                        links.workerLog(host: host, port: Int($0), topologyId: topologyId, file: "events.log")
                    }
                } ?? ""),
            "profilingAndDebuggingCapable": .bool(false),
            "profileActionEnabled": .bool(false),
            "profilerActive": .list([]),
            "componentErrors": .list(
                (page.errors ?? []).sorted { $0.errorTimeSecs < $1.errorTimeSecs }.map { error in
                    var fields = errorFields(error, topologyId: topologyId, now: now)
                    fields["error"] = .string(error.error)
                    return .map(fields)
                }),
        ]
        let windowRows: [ConfigValue] = windows.map { window, stats in
            var row = commonCounts(stats.commonStats)
            row["window"] = .string(window)
            row["windowPretty"] = .string(Formatting.windowHint(window))
            specific(stats.specificStats, into: &row)
            return .map(row)
        }
        out[isSpout ? "spoutSummary" : "boltStats"] = .list(windowRows)
        out["outputStats"] = .list(
            (page.sidToOutputStats ?? [:]).sorted { $0.key < $1.key }.map { stream, stats in
                var row = commonCounts(stats.commonStats)
                row["stream"] = .string(stream)
                if isSpout { specific(stats.specificStats, into: &row) }
                return .map(row)
            })
        if !isSpout {
            out["inputStats"] = .list(
                (page.gsidToInputStats ?? [:]).sorted {
                    ($0.key.componentId, $0.key.streamId) < ($1.key.componentId, $1.key.streamId)
                }.map { input, stats in
                    var row = commonCounts(stats.commonStats)
                    row["component"] = .string(input.componentId)
                    row["encodedComponentId"] = .string(URLPath.encode(input.componentId))
                    row["stream"] = .string(input.streamId)
                    specific(stats.specificStats, into: &row)
                    return .map(row)
                })
        }
        out["executorStats"] = .list(
            (page.execStats ?? []).compactMap { executor -> ConfigValue? in
                guard let summary = executor.execSummary else { return nil }
                let id = Formatting.executorId(summary.executorInfo.taskStart, summary.executorInfo.taskEnd)
                var row = commonCounts(executor.stats?.commonStats)
                row["id"] = .string(id)
                row["encodedId"] = .string(URLPath.encode(id))
                row["host"] = .string(summary.host)
                row["port"] = .integer(summary.port)
                row["uptime"] = .string(Formatting.uptime(Int64(summary.uptimeSecs)))
                row["uptimeSeconds"] = .integer(summary.uptimeSecs)
                row["workerLogLink"] = .string(
                    links.workerLog(host: summary.host, port: Int(summary.port), topologyId: topologyId))
                specific(executor.stats?.specificStats, into: &row)
                return .map(row)
            })
        return .map(out)
    }

    private func commonCounts(_ common: CommonAggregateStats?) -> [String: ConfigValue] {
        [
            "emitted": .int(common?.emitted ?? 0),
            "transferred": .int(common?.transferred ?? 0),
            "acked": .int(common?.acked ?? 0),
            "failed": .int(common?.failed ?? 0),
        ]
    }

    private func specific(_ stats: SpecificAggregateStats?, into row: inout [String: ConfigValue]) {
        switch stats {
        case .spout(let spout):
            row["completeLatency"] = Formatting.decimal(spout.completeLatencyMs)
        case .bolt(let bolt):
            row["executed"] = .int(bolt.executed ?? 0)
            row["executeLatency"] = Formatting.decimal(bolt.executeLatencyMs)
            row["processLatency"] = Formatting.decimal(bolt.processLatencyMs)
            row["capacity"] = Formatting.decimal(bolt.capacity)
        case nil:
            break
        }
    }

    // MARK: the graph

    /// Storm's visualization data: each component with its type, capacity, latency, transferred count, link and
    /// inputs (`topology` is the one nimbus runs, with its system components, when `sys` is asked for).
    func visualization(_ page: TopologyPageInfo, topology: StormTopology, includeSys: Bool) -> ConfigValue {
        var out: [String: ConfigValue] = [:]
        let components =
            topology.spouts.map { ($0.key, $0.value.common, true) }
            + topology.bolts.map { ($0.key, $0.value.common, false) }
        for (id, common, isSpout) in components where includeSys || !id.hasPrefix("__") {
            let stats = isSpout ? page.idToSpoutAggStats?[id] : page.idToBoltAggStats?[id]
            var latency: Double?
            var capacity = 0.0
            switch stats?.specificStats {
            case .spout(let spout): latency = spout.completeLatencyMs
            case .bolt(let bolt):
                latency = bolt.processLatencyMs
                capacity = bolt.capacity ?? 0
            case nil: break
            }
            let inputs: [ConfigValue] = common.inputs.sorted {
                ($0.key.componentId, $0.key.streamId) < ($1.key.componentId, $1.key.streamId)
            }.compactMap { input, grouping in
                guard includeSys || !input.componentId.hasPrefix("__") else { return nil }
                return .map([
                    ":component": .string(input.componentId),
                    ":stream": .string(input.streamId),
                    ":sani-stream": .string(Self.sanitized(input.streamId)),
                    ":grouping": .string(Self.groupingName(grouping)),
                ])
            }
            out[id] = .map([
                ":type": .string(isSpout ? "spout" : "bolt"),
                ":capacity": .double(capacity),
                ":latency": .number(latency),
                ":transferred": stats?.commonStats?.transferred.map { .int($0) } ?? .null,
                ":link": .string("/component.html?id=\(URLPath.encode(id))&topology_id=\(URLPath.encode(page.id))"),
                ":inputs": .list(inputs),
            ])
        }
        return .map(out)
    }

    /// A stream name usable as an HTML id, as Storm's UI makes it: other characters become "_", plus a hash.
    static func sanitized(_ stream: String) -> String {
        let cleaned = String(stream.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" })
        return cleaned + String(UInt32(truncatingIfNeeded: stream.utf8.reduce(5381) { ($0 << 5) &+ $0 &+ Int($1) }))
    }

    static func groupingName(_ grouping: Grouping) -> String {
        switch grouping {
        case .fields: "fields"
        case .shuffle: "shuffle"
        case .all: "all"
        case .none: "none"
        case .direct: "direct"
        case .customObject: "custom_object"
        case .customSerialized: "custom_serialized"
        case .localOrShuffle: "local_or_shuffle"
        }
    }
}
