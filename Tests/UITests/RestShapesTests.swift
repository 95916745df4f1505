import StormCore
import StormThrift
import Testing

@testable import UI

/// The pieces of the REST API that need no server: Storm's formats, the rebalance body, error shapes and the
/// per-stream metrics.
@Suite struct RestShapesTests {
    @Test func uptimesAreWrittenAsStormsUIWritesThem() {
        #expect(Formatting.uptime(0) == "")
        #expect(Formatting.uptime(59) == "59s")
        #expect(Formatting.uptime(1759) == "29m 19s")
        #expect(Formatting.windowHint("600") == "10m 0s")
        #expect(Formatting.windowHint("10800") == "3h 0m 0s")
        #expect(Formatting.windowHint("86400") == "1d 0h 0m 0s")
        #expect(Formatting.windowHint(":all-time") == "All time")
        #expect(Formatting.decimal(0.0484) == .string("0.048"))
        #expect(Formatting.decimal(nil) == .string("0.000"))
    }

    @Test func idsAreEncodedForPathsAndQueries() {
        #expect(URLPath.encode("words-1-17") == "words-1-17")
        #expect(URLPath.encode("a/b c:d") == "a%2Fb%20c%3Ad")
        #expect(URLPath.encode("é") == "%C3%A9")
    }

    @Test func theRebalanceBodyTakesStormsShapeWithCountsAsNumbersOrStrings() throws {
        let none = try TopologyActions.rebalanceOptions("  ")
        #expect(none.numWorkers == nil && none.numExecutors == nil)
        let options = try TopologyActions.rebalanceOptions(
            #"{"rebalanceOptions": {"numWorkers": 2, "executors": {"spout": "5", "split": 7}}, "callback": "foo"}"#)
        #expect(options.numWorkers == 2)
        #expect(options.numExecutors == ["spout": 5, "split": 7])
    }

    @Test(arguments: [
        ("{", "the rebalance body is not a JSON object"),
        (#"{"rebalanceOptions": 3}"#, "rebalanceOptions must be a JSON object"),
        (#"{"rebalanceOptions": {"numWorkers": 0}}"#, "rebalanceOptions.numWorkers must be a positive whole number"),
        (#"{"rebalanceOptions": {"executors": {"split": "many"}}}"#, "rebalanceOptions.executors.split must be"),
        (#"{"rebalanceOptions": {"executors": [1]}}"#, "rebalanceOptions.executors must map component ids"),
    ])
    func aBadRebalanceBodyIsABadRequestThatSaysWhatIsWrong(body: String, message: String) {
        do {
            _ = try TopologyActions.rebalanceOptions(body)
            Issue.record("accepted \(body)")
        } catch let error as APIError {
            #expect(error.status == .badRequest)
            #expect(error.message.hasPrefix(message), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func nimbusFailuresBecomeStatusesAndStormsErrorJSON() {
        let notAlive = APIError(NotAliveException(msg: "topology id 'x' is not alive"))
        #expect(notAlive.status == .notFound)
        #expect(
            notAlive.json
                == .map([
                    "error": .string("404 Not Found"), "errorMessage": .string("topology id 'x' is not alive"),
                ]))
        #expect(APIError(LeaderNimbus.Unreachable(description: "cannot reach nimbus")).status == .serviceUnavailable)
        #expect(APIError(InvalidTopologyException(msg: "bad")).status == .badRequest)
        #expect(APIError(AuthorizationException(msg: "no")).status == .forbidden)
    }

    /// Two executors of one bolt and one of a spout: counts summed by stream, latencies weighted by the counts
    /// they average over, system streams and components shown only when asked for.
    @Test func metricsSumExecutorsByStreamAndWeighLatencies() throws {
        let input = GlobalStreamId(componentId: "words", streamId: "default")
        let ackInput = GlobalStreamId(componentId: "__acker", streamId: "__ack_ack")
        func bolt(executed: Int64, latency: Double) -> ExecutorStats {
            ExecutorStats(
                emitted: ["600": ["default": executed, "__ack_ack": executed]], transferred: ["600": ["default": 1]],
                specific: .bolt(
                    BoltStats(
                        acked: ["600": [input: executed]], failed: ["600": [:]],
                        processMsAvg: ["600": [input: latency]], executed: ["600": [input: executed, ackInput: 1]],
                        executeMsAvg: ["600": [input: latency]])), rate: 0.05)
        }
        var executors = [
            ExecutorSummary(
                executorInfo: ExecutorInfo(taskStart: 1, taskEnd: 1), componentId: "count", host: "h", port: 1,
                uptimeSecs: 9),
            ExecutorSummary(
                executorInfo: ExecutorInfo(taskStart: 2, taskEnd: 2), componentId: "count", host: "h", port: 1,
                uptimeSecs: 9),
            ExecutorSummary(
                executorInfo: ExecutorInfo(taskStart: 3, taskEnd: 3), componentId: "__acker", host: "h", port: 1,
                uptimeSecs: 9),
        ]
        executors[0].stats = bolt(executed: 100, latency: 1.0)
        executors[1].stats = bolt(executed: 300, latency: 3.0)
        executors[2].stats = bolt(executed: 5, latency: 0)
        let info = TopologyInfo(
            id: "t-1-1", name: "t", uptimeSecs: 9, executors: executors, status: "ACTIVE", errors: [:])

        let shown = TopologyMetrics(window: "600", includeSys: false).json(info)
        guard case .map(let root) = shown, case .list(let bolts) = root["bolts"] else {
            Issue.record("no bolts in \(shown)")
            return
        }
        #expect(bolts.count == 1, "the acker is hidden without sys")
        guard case .map(let count) = bolts.first else { return }
        #expect(count["id"] == .string("count"))
        #expect(count["emitted"] == .list([.map(["stream_id": .string("default"), "value": .int(400)])]))
        #expect(
            count["executed"]
                == .list([
                    .map(["component_id": .string("words"), "stream_id": .string("default"), "value": .int(400)])
                ]))
        // (100 * 1.0 + 300 * 3.0) / 400
        #expect(
            count["executed_ms_avg"]
                == .list([
                    .map(["component_id": .string("words"), "stream_id": .string("default"), "value": .string("2.500")])
                ]))

        guard case .map(let all) = TopologyMetrics(window: "600", includeSys: true).json(info),
            case .list(let withSys) = all["bolts"]
        else { return }
        #expect(withSys.count == 2)
        guard case .map(let countWithSys) = withSys.first(where: { $0.mapValue?["id"] == .string("count") }),
            case .list(let emitted) = countWithSys["emitted"]
        else { return }
        #expect(emitted.count == 2, "the __ack_ack stream shows with sys")
    }
}

extension ConfigValue {
    fileprivate var mapValue: [String: ConfigValue]? {
        if case .map(let map) = self { return map }
        return nil
    }
}
