import ClusterState
import Foundation
import Locking
import StormCore
import StormThrift
import TestSupport
import Testing

@testable import Nimbus

/// Hand-made executor stats, as workers report them.
enum Beats {
    static let fromSpout = GlobalStreamId(componentId: "sentences", streamId: "default")
    static let tick = GlobalStreamId(componentId: "__system", streamId: "__tick")

    static func bolt(
        executed: [String: Int64], executeMs: [String: Double], processMs: [String: Double] = [:],
        acked: [String: Int64] = [:], failed: [String: Int64] = [:], emitted: [String: [String: Int64]] = [:],
        input: GlobalStreamId = fromSpout
    ) -> ExecutorStats {
        func onInput<V>(_ byWindow: [String: V]) -> [String: [GlobalStreamId: V]] { byWindow.mapValues { [input: $0] } }
        return ExecutorStats(
            emitted: emitted, transferred: emitted,
            specific: .bolt(
                BoltStats(
                    acked: onInput(acked), failed: onInput(failed), processMsAvg: onInput(processMs),
                    executed: onInput(executed), executeMsAvg: onInput(executeMs))),
            rate: 0)
    }

    static func spout(
        acked: [String: Int64], completeMs: [String: Double], failed: [String: Int64] = [:],
        emitted: [String: [String: Int64]] = [:]
    ) -> ExecutorStats {
        func onDefault<V>(_ byWindow: [String: V]) -> [String: [String: V]] { byWindow.mapValues { ["default": $0] } }
        return ExecutorStats(
            emitted: emitted, transferred: emitted,
            specific: .spout(
                SpoutStats(acked: onDefault(acked), failed: onDefault(failed), completeMsAvg: onDefault(completeMs))),
            rate: 0)
    }

    static func placed(
        _ component: String, tasks: ClosedRange<Int32>, _ stats: ExecutorStats?, port: Int32 = 6700,
        uptime: Int32 = 1000
    ) -> PlacedExecutor {
        PlacedExecutor(
            info: ExecutorInfo(taskStart: tasks.lowerBound, taskEnd: tasks.upperBound), component: component,
            node: "sup-a", host: "host-a", port: port, assignedSecs: uptime, stats: stats, workerUptimeSecs: uptime)
    }
}

@Suite struct StatsAggregationTests {
    let allTime = StatsWindow.allTime

    @Test func boltLatenciesAreWeightedByExecutedAndCapacityIsTheBusiestExecutors() throws {
        // 10 tuples at 2 ms and 30 at 6 ms execute in 5 ms on average, not 4; processing likewise by executed.
        let a = Beats.bolt(
            executed: [allTime: 10, "600": 1200], executeMs: [allTime: 2, "600": 0.5], processMs: [allTime: 4],
            acked: [allTime: 9])
        let b = Beats.bolt(
            executed: [allTime: 30, "600": 100], executeMs: [allTime: 6, "600": 3], processMs: [allTime: 1],
            acked: [allTime: 30], failed: [allTime: 1])
        let page = TopologyAggregate(
            [
                Beats.placed("split", tasks: 1...2, a, uptime: 300),
                Beats.placed("split", tasks: 3...3, b, uptime: 1200),
            ],
            window: allTime, includeSys: false)
        let split = try #require(page.bolts["split"])
        #expect(split.executed == 40 && split.acked == 39 && split.failed == 1)
        #expect(split.executeLatencyMs == 5.0)
        #expect(split.processLatencyMs == 1.75)
        #expect(split.executors == 2 && split.tasks == 3)
        // a: 1200 × 0.5 ms over its 300 s of uptime = 0.002; b: 100 × 3 ms over 600 s (capped) = 0.0005.
        #expect(split.capacity == 0.002)
        let stats = split.aggregate(.bolt)
        guard case .bolt(let bolt) = stats.specificStats else {
            Issue.record("not bolt stats")
            return
        }
        #expect(bolt.capacity == 0.002 && bolt.executed == 40 && bolt.executeLatencyMs == 5.0)
    }

    @Test func capacityUsesTheTenMinuteWindowWhateverIsAskedAndIsZeroWithoutUptime() {
        let busy = ExecutorStatsView(
            stats: Beats.bolt(executed: [allTime: 5, "600": 600_000], executeMs: [allTime: 100, "600": 1]),
            includeSys: false)
        #expect(busy.capacity(uptimeSecs: 600) == 1.0)
        #expect(busy.capacity(uptimeSecs: 6000) == 1.0)
        #expect(busy.capacity(uptimeSecs: 0) == 0)
        let onlyAllTime = ExecutorStatsView(
            stats: Beats.bolt(executed: [allTime: 5], executeMs: [allTime: 100]), includeSys: false)
        #expect(onlyAllTime.capacity(uptimeSecs: 600) == 0)
        let spout = ExecutorStatsView(
            stats: Beats.spout(acked: [allTime: 1], completeMs: [allTime: 1]), includeSys: true)
        #expect(spout.capacity(uptimeSecs: 600) == nil)
    }

    @Test func completeLatencyIsWeightedByAckedPerComponentAndPerWindow() throws {
        let a = Beats.spout(
            acked: [allTime: 100, "600": 10], completeMs: [allTime: 10, "600": 40], failed: [allTime: 2],
            emitted: [allTime: ["default": 150, "__ack_init": 100]])
        let b = Beats.spout(
            acked: [allTime: 300, "600": 30], completeMs: [allTime: 20, "600": 80],
            emitted: [allTime: ["default": 400]])
        let bolt = Beats.bolt(
            executed: [allTime: 550], executeMs: [allTime: 1], acked: [allTime: 550],
            emitted: [allTime: ["default": 7]])
        let page = TopologyAggregate(
            [
                Beats.placed("sentences", tasks: 1...1, a), Beats.placed("sentences", tasks: 2...2, b),
                Beats.placed("split", tasks: 3...3, bolt),
            ], window: allTime, includeSys: false)
        let spout = try #require(page.spouts["sentences"])
        #expect(spout.acked == 400 && spout.failed == 2)
        #expect(spout.completeLatencyMs == 17.5)
        #expect(spout.emitted == 550)  // __ack_init hidden
        // The topology's acked and failed are its spouts' trees, over every window the executors report.
        #expect(page.stats.windowToAcked == [allTime: 400, "600": 40])
        #expect(page.stats.windowToFailed?[allTime] == 2)
        #expect(page.stats.windowToCompleteLatenciesMs == [allTime: 17.5, "600": 70])
        #expect(page.stats.windowToEmitted?[allTime] == 557)
    }

    @Test func systemComponentsAndStreamsShowOnlyWhenAsked() {
        let split = Beats.bolt(
            executed: [allTime: 4], executeMs: [allTime: 1], emitted: [allTime: ["default": 5, "__ack_ack": 3]])
        let acker = Beats.bolt(
            executed: [allTime: 9], executeMs: [allTime: 1], acked: [allTime: 9],
            input: GlobalStreamId(componentId: "sentences", streamId: "__ack_init"))
        let executors = [Beats.placed("split", tasks: 2...2, split), Beats.placed("__acker", tasks: 1...1, acker)]
        let hidden = TopologyAggregate(executors, window: allTime, includeSys: false)
        #expect(Set(hidden.bolts.keys) == ["split"])
        #expect(hidden.bolts["split"]?.emitted == 5)
        let shown = TopologyAggregate(executors, window: allTime, includeSys: true)
        #expect(Set(shown.bolts.keys) == ["split", "__acker"])
        #expect(shown.bolts["split"]?.emitted == 8)
        #expect(shown.bolts["__acker"]?.executed == 9)
    }

    @Test func aPageShowsTheWindowAskedForAndExecutorsWithoutStatsCountInNothing() throws {
        let bolt = Beats.bolt(executed: [allTime: 50, "600": 5], executeMs: [allTime: 1, "600": 2])
        let executors = [Beats.placed("split", tasks: 1...1, bolt), Beats.placed("split", tasks: 2...2, nil)]
        #expect(TopologyAggregate(executors, window: "600", includeSys: false).bolts["split"]?.executed == 5)
        #expect(TopologyAggregate(executors, window: allTime, includeSys: false).bolts["split"]?.executors == 1)
        #expect(TopologyAggregate(executors, window: "10800", includeSys: false).bolts["split"]?.executed == 0)
        #expect(StatsWindow.resolve("") == allTime)
    }

    @Test func componentPageSplitsByInputStreamOutputStreamAndExecutor() throws {
        let a = Beats.bolt(
            executed: [allTime: 10, "600": 2], executeMs: [allTime: 2, "600": 1], processMs: [allTime: 3],
            acked: [allTime: 10], emitted: [allTime: ["default": 20, "__metrics": 1]])
        let b = Beats.bolt(
            executed: [allTime: 30], executeMs: [allTime: 6], processMs: [allTime: 1], acked: [allTime: 29],
            failed: [allTime: 1], emitted: [allTime: ["default": 60]])
        let page = ComponentAggregate(
            type: .bolt,
            [Beats.placed("split", tasks: 3...4, b, port: 6701), Beats.placed("split", tasks: 1...2, a, port: 6700)],
            window: allTime, includeSys: false)
        #expect(page.total.executors == 2 && page.total.tasks == 4)
        let input = try #require(page.inputs[Beats.fromSpout])
        #expect(input.executed == 40 && input.acked == 39 && input.failed == 1)
        #expect(input.executeLatencyMs == 5.0 && input.processLatencyMs == 1.5)
        #expect(Set(page.outputs.keys) == ["default"])
        #expect(page.outputs["default"]?.emitted == 80)
        #expect(Set(page.windows.keys) == [allTime, "600"])
        #expect(page.windows[allTime]?.executed == 40 && page.windows["600"]?.executed == 2)
        #expect(page.executors.map(\.executor.port) == [6700, 6701])
        #expect(page.executors.map(\.tally.executed) == [10, 30])
        #expect(page.executors[0].tally.capacity == 2.0 * 1 / 600_000)
    }

    @Test func spoutComponentPageWeighsCompleteLatencyPerStream() throws {
        let a = Beats.spout(acked: [allTime: 1], completeMs: [allTime: 100], emitted: [allTime: ["default": 3]])
        let b = Beats.spout(acked: [allTime: 3], completeMs: [allTime: 20], failed: [allTime: 2])
        let page = ComponentAggregate(
            type: .spout, [Beats.placed("sentences", tasks: 1...1, a), Beats.placed("sentences", tasks: 2...2, b)],
            window: allTime, includeSys: false)
        let stream = try #require(page.outputs["default"])
        #expect(stream.acked == 4 && stream.failed == 2 && stream.emitted == 3)
        #expect(stream.completeLatencyMs == 40)
        #expect(page.inputs.isEmpty)
        guard case .spout(let spout) = page.windows[allTime]?.aggregate(.spout).specificStats else {
            Issue.record("not spout stats")
            return
        }
        #expect(spout.completeLatencyMs == 40)
    }
}

@Suite struct PageInfoQueryTests {
    func addSupervisor(_ f: NimbusFixture, _ id: String, ports: [Int64]) async throws {
        let info = SupervisorInfo(
            timeSecs: Int64(Date().timeIntervalSince1970), hostname: "host-\(id)", assignmentId: id, meta: ports)
        try await f.state.storage.put(f.state.supervisorsPath + "/" + id, data: ThriftSerialization.serialize(info))
    }

    /// A word count on one worker of supervisor "a", every executor having reported `stats(component)`.
    func runningWordCount(
        _ f: NimbusFixture, stats: (String) -> ExecutorStats
    ) async throws -> (id: String, assignment: Assignment) {
        try await addSupervisor(f, "a", ports: [6700])
        try await f.submit("pages", conf: #"{"topology.workers": 1, "topology.users": ["alice"]}"#)
        let id = try await f.client { try $0.getTopologySummaryByName(name: "pages") }.id
        await f.nimbus.monitor()
        let assignment = try #require(try await f.state.assignment(id))
        let plan = try await f.nimbus.plan(id)
        var component: [Int32: String] = [:]
        for (name, range) in TaskLayout.taskRanges(plan.tasks) { for t in range { component[t] = name } }
        var beats: [ExecutorInfo: ExecutorStats] = [:]
        for key in assignment.executorNodePort!.keys {
            let info = ExecutorInfo(taskStart: Int32(key[0]), taskEnd: Int32(key[1]))
            beats[info] = stats(component[info.taskStart]!)
        }
        let beat = ClusterWorkerHeartbeat(
            stormId: id, executorStats: beats, timeSecs: Int64(Date().timeIntervalSince1970), uptimeSecs: 60)
        try await f.state.setWorkerHeartbeat(id, node: "a", port: 6700, beat)
        return (id, assignment)
    }

    static func stats(_ component: String) -> ExecutorStats {
        switch component {
        case "sentences":
            Beats.spout(
                acked: [":all-time": 10], completeMs: [":all-time": 5],
                emitted: [":all-time": ["default": 10, "__ack_init": 10]])
        case "__acker":
            Beats.bolt(
                executed: [":all-time": 20], executeMs: [":all-time": 0.1],
                input: GlobalStreamId(componentId: "sentences", streamId: "__ack_init"))
        default:
            Beats.bolt(
                executed: [":all-time": 3], executeMs: [":all-time": 2], acked: [":all-time": 3],
                emitted: [":all-time": ["default": 6]])
        }
    }

    @Test func topologyPageCountsWhatTheWorkersReported() async throws {
        let f = try await NimbusFixture()
        let (id, _) = try await runningWordCount(f, stats: Self.stats)
        try await f.state.reportError(
            id, component: "split", ErrorInfo(error: "boom", errorTimeSecs: 1, host: "host-a", port: 6700))
        let page = try await f.client { try $0.getTopologyPageInfo(id: id, window: "", isIncludeSys: false) }
        #expect(page.name == "pages" && page.status == "ACTIVE")
        // 1 spout + 4 split + 2 count + 1 acker, one task each, on one worker.
        #expect(page.numExecutors == 8 && page.numTasks == 8 && page.numWorkers == 1)
        #expect(Set(page.idToSpoutAggStats!.keys) == ["sentences"])
        #expect(Set(page.idToBoltAggStats!.keys) == ["split", "count"])
        let split = try #require(page.idToBoltAggStats?["split"])
        #expect(split.commonStats?.numExecutors == 4 && split.commonStats?.emitted == 24)
        #expect(split.lastError?.error == "boom")
        guard case .bolt(let bolt) = split.specificStats else {
            Issue.record("not bolt stats")
            return
        }
        #expect(bolt.executed == 12 && bolt.executeLatencyMs == 2)
        #expect(page.topologyStats?.windowToAcked == [":all-time": 10])
        #expect(page.topologyStats?.windowToEmitted == [":all-time": 10 + 4 * 6 + 2 * 6])
        let conf = try JSON.decodeObject(try #require(page.topologyConf))
        #expect(conf["topology.name"] == "pages" && conf["storm.zookeeper.root"] == "/storm")
        let worker = try #require(page.workers?.first)
        #expect(page.workers?.count == 1)
        #expect(worker.supervisorId == "a" && worker.host == "host-a" && worker.port == 6700)
        #expect(worker.numExecutors == 8 && worker.uptimeSecs == 60 && worker.topologyName == "pages")
        #expect(worker.componentToNumTasks == ["sentences": 1, "split": 4, "count": 2])
        let withSys = try await f.client { try $0.getTopologyPageInfo(id: id, window: "", isIncludeSys: true) }
        #expect(Set(withSys.idToBoltAggStats!.keys) == ["split", "count", "__acker"])
        #expect(withSys.workers?.first?.componentToNumTasks?["__acker"] == 1)
    }

    @Test func componentPageListsEachExecutorWhereItRuns() async throws {
        let f = try await NimbusFixture()
        let (id, _) = try await runningWordCount(f, stats: Self.stats)
        let page = try await f.client {
            try $0.getComponentPageInfo(topologyId: id, componentId: "split", window: ":all-time", isIncludeSys: false)
        }
        #expect(page.componentType == .bolt && page.topologyName == "pages" && page.topologyStatus == "ACTIVE")
        #expect(page.numExecutors == 4 && page.numTasks == 4)
        #expect(page.execStats?.count == 4)
        for executor in page.execStats ?? [] {
            #expect(executor.execSummary?.host == "host-a" && executor.execSummary?.port == 6700)
            #expect(executor.stats?.commonStats?.emitted == 6)
        }
        let input = try #require(page.gsidToInputStats?[Beats.fromSpout])
        #expect(input.commonStats?.acked == 12)
        #expect(page.sidToOutputStats?["default"]?.commonStats?.emitted == 24)
        let spout = try await f.client {
            try $0.getComponentPageInfo(topologyId: id, componentId: "sentences", window: "", isIncludeSys: false)
        }
        #expect(spout.componentType == .spout && spout.gsidToInputStats == nil)
        #expect(Set(spout.sidToOutputStats!.keys) == ["default"])
    }

    @Test func supervisorPageShowsItsWorkersByIdOrByHost() async throws {
        let f = try await NimbusFixture()
        let (id, _) = try await runningWordCount(f, stats: Self.stats)
        try await addSupervisor(f, "b", ports: [6800])
        let byId = try await f.client { try $0.getSupervisorPageInfo(id: "a", host: "", isIncludeSys: false) }
        #expect(byId.supervisorSummaries?.map(\.supervisorId) == ["a"])
        #expect(byId.supervisorSummaries?.first?.numUsedWorkers == 1)
        let worker = try #require(byId.workerSummaries?.first)
        #expect(byId.workerSummaries?.count == 1)
        #expect(worker.topologyId == id && worker.port == 6700 && worker.numExecutors == 8)
        let byHost = try await f.client { try $0.getSupervisorPageInfo(id: "", host: "host-b", isIncludeSys: false) }
        #expect(byHost.supervisorSummaries?.map(\.supervisorId) == ["b"] && byHost.workerSummaries == [])
    }

    @Test func ownersCountTheirTopologies() async throws {
        let f = try await NimbusFixture()
        _ = try await runningWordCount(f, stats: Self.stats)
        let all = try await f.client { try $0.getOwnerResourceSummaries(owner: "") }
        let mine = try #require(all.first)
        #expect(all.count == 1 && mine.owner == Nimbus.processUser)
        #expect(mine.totalTopologies == 1 && mine.totalExecutors == 8 && mine.totalWorkers == 1 && mine.totalTasks == 8)
        let nobody = try await f.client { try $0.getOwnerResourceSummaries(owner: "nobody") }
        #expect(nobody.map(\.owner) == ["nobody"] && nobody.first?.totalTopologies == 0)
    }

    @Test func historyKeepsKilledTopologiesForTheirUsersAcrossNimbuses() async throws {
        let store = InMemoryStore()
        let f = try await NimbusFixture([ConfigKey.nimbusAdmins: ["root"]], store: store)
        let (id, _) = try await runningWordCount(f, stats: Self.stats)
        #expect(try await f.client { try $0.getTopologyHistory(user: "") }.topoIds == [id])
        #expect(try await f.client { try $0.getTopologyHistory(user: "alice") }.topoIds == [id])
        #expect(try await f.client { try $0.getTopologyHistory(user: "mallory") }.topoIds == [])
        try await f.client { try $0.killTopologyWithOpts(name: "pages", options: KillOptions(waitSecs: 0)) }
        #expect(try await eventually { try await f.state.activeStorms().isEmpty })
        // Another nimbus of the same cluster answers from the same history.
        let other = try await NimbusFixture([ConfigKey.nimbusAdmins: ["root"]], store: store)
        for nimbus in [f, other] {
            #expect(try await nimbus.client { try $0.getTopologyHistory(user: "alice") }.topoIds == [id])
            #expect(try await nimbus.client { try $0.getTopologyHistory(user: "root") }.topoIds == [id])
            #expect(try await nimbus.client { try $0.getTopologyHistory(user: "mallory") }.topoIds == [])
        }
    }

    /// A kill reads no other kill's history entry (the leader keeps their kill times), and still drops the expired.
    @Test func aKillReadsTheHistoryOncePerLeadershipAndDropsWhatExpired() async throws {
        let store = InMemoryStore()
        let seed = StormClusterState(storage: store.session())
        let now = Int64(Date().timeIntervalSince1970)
        for (id, age) in [("expired-1-1", Int64(8 * 24 * 3600)), ("recent-2-2", Int64(3600))] {
            try await seed.addTopologyHistory(
                TopologyHistoryEntry(topologyId: id, killedAtSecs: now - age, users: [], groups: []))
        }
        let reads = Locked(0)
        let f = try await NimbusFixture(store: store) { HistoryReadCounter(inner: $0, reads: reads) }
        for i in 0..<8 {
            try await f.submit("killed\(i)")
            try await f.client { try $0.killTopologyWithOpts(name: "killed\(i)", options: KillOptions(waitSecs: 0)) }
            #expect(try await eventually { try await f.state.activeStorms().isEmpty })
        }
        // The first kill read the entries there were then (three); before, each kill read every entry (3 + ... + 10).
        #expect(reads.withLock { $0 } <= 3)
        let kept = Set(try await f.state.topologyHistory().records.keys)
        #expect(!kept.contains("expired-1-1") && kept.contains("recent-2-2"))
        #expect(kept.filter { $0.hasPrefix("killed") }.count == 8)
    }

    @Test func unknownIdsAreNotAliveAndSayWhich() async throws {
        let f = try await NimbusFixture()
        let (id, _) = try await runningWordCount(f, stats: Self.stats)
        let calls: [(String, @Sendable (NimbusClient) throws -> Void)] = [
            ("ghost-1-1", { _ = try $0.getTopologyPageInfo(id: "ghost-1-1", window: "", isIncludeSys: false) }),
            (
                "ghost-1-1",
                {
                    _ = try $0.getComponentPageInfo(
                        topologyId: "ghost-1-1", componentId: "split", window: "", isIncludeSys: false)
                }
            ),
            (
                "nosuch",
                {
                    _ = try $0.getComponentPageInfo(
                        topologyId: id, componentId: "nosuch", window: "", isIncludeSys: false)
                }
            ),
            ("sup-x", { _ = try $0.getSupervisorPageInfo(id: "sup-x", host: "", isIncludeSys: false) }),
        ]
        for (name, call) in calls {
            do {
                try await f.client { try call($0) }
                Issue.record("a call about \(name) succeeded")
            } catch let error as NotAliveException {
                #expect(error.msg.contains("'\(name)'"), "\(error.msg)")
            }
        }
    }
}

/// Counts reads of topology history entries, passing everything to the storage it wraps.
struct HistoryReadCounter: ClusterStorage {
    let inner: any ClusterStorage
    let reads: Locked<Int>

    func create(_ path: String, data: [UInt8], mode: NodeMode, access: NodeAccess) async throws -> String {
        try await inner.create(path, data: data, mode: mode, access: access)
    }
    func get(_ path: String, watch: Watcher?) async throws -> (data: [UInt8], version: Int32) {
        if path.contains("/topology-history/") { reads.withLock { $0 += 1 } }
        return try await inner.get(path, watch: watch)
    }
    func set(_ path: String, data: [UInt8], version: Int32?) async throws -> Int32 {
        try await inner.set(path, data: data, version: version)
    }
    func delete(_ path: String, version: Int32?) async throws { try await inner.delete(path, version: version) }
    func children(_ path: String, watch: Watcher?) async throws -> [String] {
        try await inner.children(path, watch: watch)
    }
    func exists(_ path: String, watch: Watcher?) async throws -> Int32? { try await inner.exists(path, watch: watch) }
    func close() async { await inner.close() }
    func onNewSession(_ handler: @escaping @Sendable () async -> Void) { inner.onNewSession(handler) }
}
