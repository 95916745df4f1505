import StormCore
import StormThrift
import Tuples

/// A bolt told when it has seen every tuple of a request (Storm's `FinishedCallback`, as an `IBatchBolt` is): in a
/// linear DRPC topology, `finishedId` runs once per request on the task that request's id reached, after the bolt
/// has acked every tuple of it, so an aggregating bolt emits its `[id, result]` there.
public protocol FinishedCallback: AnyObject {
    func finishedId(_ id: Value)
    /// The request was forgotten unfinished (a tuple of it was lost or failed, or it outlived the message timeout).
    func timedOutId(_ id: Value)
}

extension FinishedCallback {
    public func timedOutId(_ id: Value) {}
}

/// Storm's CoordinatedBolt: runs a bolt of a linear DRPC topology (any bolt: a Swift class or a shell component)
/// and tells the bolts after it how many tuples of each request it sent each of their tasks, so they know when they
/// have a request's every tuple. A task has finished a request when each source has reported and it has acked as
/// many of the request's tuples as were reported; it then reports its own counts, anchored to the reports it
/// holds, so the request's tree completes only when every bolt has finished it.
///
/// Unlike Storm's, a finish may come from the bolt's ack as well as from a report, so a bolt that acks later than it
/// executes (a shell bolt, whose child answers in its own time) finishes requests like any other.
public class CoordinatedBolt: Bolt {
    private enum Kind { case regular, id, coordination }

    /// One request's progress on this task.
    private struct Tracking {
        var reports = 0
        var expectedTuples = 0
        var ackedTuples = 0
        var failed = false
        var receivedId: Bool
        var sentTo: [Int32: Int] = [:]
        /// Reports (or the id tuple) held unacked until the request is finished, so its tree stays open.
        var held: [Tuple] = []
        let started: ContinuousClock.Instant
    }

    let delegate: any Bolt
    let spec: CoordinationSpec
    private let finisher: (any FinishedCallback)?
    /// The id stream this task waits for: only a bolt that finishes requests waits (any other acks id tuples).
    private let idStream: GlobalStreamId?
    private var collector: (any OutputCollector)?
    private var reportTo: [Int32] = []
    private var expectedReports = 0
    private var tracked: [Value: Tracking] = [:]
    /// Requests that failed here, kept for a message timeout: a tuple of one arriving late is failed, not taken
    /// for the start of a new request.
    private var failedRequests: [Value: ContinuousClock.Instant] = [:]
    private var expiry = ExpirySweep()

    /// The coordinated form of `delegate`: one that pumps when `delegate` does.
    public static func wrapping(_ delegate: any Bolt, spec: CoordinationSpec) -> CoordinatedBolt {
        if let pumped = delegate as? any PumpedBolt { return PumpedCoordinatedBolt(pumped: pumped, spec: spec) }
        return CoordinatedBolt(delegate: delegate, spec: spec)
    }

    init(delegate: any Bolt, spec: CoordinationSpec) {
        self.delegate = delegate
        self.spec = spec
        finisher = delegate as? any FinishedCallback
        idStream = finisher == nil ? nil : spec.idStream
    }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) {
        delegate.declareOutputFields(&declarer)
        declarer.declare(
            CoordinationSpec.streamInfo.outputFields, stream: CoordinationSpec.stream, direct: true)
    }

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        reportTo = (context.thisTargets[CoordinationSpec.stream] ?? [:]).keys.sorted().flatMap {
            context.tasks(of: $0)
        }
        expectedReports = spec.sources.reduce(0) { total, source in
            total + (source.value == .single ? 1 : context.tasks(of: source.key).count)
        }
        if let secs = try? context.conf.int(ConfigKey.topologyMessageTimeoutSecs), secs > 0 {
            expiry.timeout = .seconds(secs)
        }
        try delegate.prepare(context: context, collector: CoordinatedOutput(bolt: self, collector: collector))
    }

    public func execute(_ tuple: Tuple) {
        sweepIfDue()
        guard !tuple.isTick, let id = tuple.values.first else {
            delegate.execute(tuple)
            return
        }
        let kind = kind(of: tuple)
        if kind == .id && idStream == nil {
            // This bolt finishes nothing: it needs no id, and the bolt itself never sees one.
            collector?.ack(tuple)
            return
        }
        if failedRequests[id] != nil {
            collector?.fail(tuple)
            return
        }
        if tracked[id] == nil {
            tracked[id] = Tracking(receivedId: idStream == nil, started: .now)
        }
        switch kind {
        case .id:
            tracked[id]?.receivedId = true
            checkFinished(id, tuple, kind)
        case .coordination:
            tracked[id]?.reports += 1
            tracked[id]?.expectedTuples += Int(tuple.values.count > 1 ? tuple.values[1].intValue ?? 0 : 0)
            checkFinished(id, tuple, kind)
        case .regular:
            delegate.execute(tuple)
        }
    }

    public func cleanup() { delegate.cleanup() }

    private func kind(of tuple: Tuple) -> Kind {
        if let idStream = spec.idStream, tuple.sourceComponent == idStream.componentId,
            tuple.sourceStream == idStream.streamId
        {
            return .id
        }
        if !spec.sources.isEmpty && tuple.sourceStream == CoordinationSpec.stream { return .coordination }
        return .regular
    }

    /// Finishes the request when it is done, or fails what it holds when it failed. Returns whether it failed.
    @discardableResult
    private func checkFinished(_ id: Value, _ tuple: Tuple, _ kind: Kind) -> Bool {
        guard let collector else { return false }
        guard var track = tracked[id] else {
            // Finished, failed or forgotten already: a report for it now has nothing to complete.
            if kind != .regular { collector.fail(tuple) }
            return false
        }
        let holds = (idStream == nil && kind == .coordination) || (idStream != nil && kind == .id)
        if holds { track.held.append(tuple) }
        var failed = false
        if track.failed {
            failed = true
            track.held.forEach(collector.fail)
            tracked[id] = nil
            failedRequests[id] = .now
        } else if track.receivedId
            && (spec.sources.isEmpty
                || (track.reports == expectedReports && track.ackedTuples == track.expectedTuples))
        {
            tracked[id] = track
            // Before the counts go out: what the bolt emits as it finishes is counted too.
            finisher?.finishedId(id)
            track = tracked[id] ?? track
            // A tuple not held is acked after this, so it anchors the reports too.
            let anchors = holds ? track.held : track.held + [tuple]
            for task in reportTo {
                collector.emitDirect(
                    task: task, [id, .int(Int64(track.sentTo[task] ?? 0))], stream: CoordinationSpec.stream,
                    anchors: anchors)
            }
            track.held.forEach(collector.ack)
            tracked[id] = nil
        } else {
            tracked[id] = track
        }
        if !holds && kind != .regular {
            if failed { collector.fail(tuple) } else { collector.ack(tuple) }
        }
        return failed
    }

    /// Forgets requests older than the message timeout: their trees have timed out at the spout, which failed them
    /// to their callers; what this task holds of them is failed, and a finishing bolt is told.
    private func sweepIfDue() {
        let now = ContinuousClock.now
        guard expiry.isDue(now) else { return }
        failedRequests = failedRequests.filter { !expiry.hasExpired(since: $0.value, at: now) }
        for (id, track) in tracked where expiry.hasExpired(since: track.started, at: now) {
            tracked[id] = nil
            if let collector { track.held.forEach(collector.fail) }
            finisher?.timedOutId(id)
        }
    }

    fileprivate func counted(_ values: TupleValues, to tasks: [Int32]) {
        guard let id = values.first, tracked[id] != nil else { return }
        for task in tasks { tracked[id]?.sentTo[task, default: 0] += 1 }
    }

    fileprivate func acked(_ tuple: Tuple) -> Bool {
        guard let id = tuple.values.first else { return false }
        tracked[id]?.ackedTuples += 1
        return checkFinished(id, tuple, .regular)
    }

    fileprivate func failed(_ tuple: Tuple) {
        guard let id = tuple.values.first else { return }
        tracked[id]?.failed = true
        checkFinished(id, tuple, .regular)
    }
}

/// A coordinated shell bolt: its executor pumps it as it pumps the bolt inside.
final class PumpedCoordinatedBolt: CoordinatedBolt, PumpedBolt {
    private let pumped: any PumpedBolt

    init(pumped: any PumpedBolt, spec: CoordinationSpec) {
        self.pumped = pumped
        super.init(delegate: pumped, spec: spec)
    }

    var wake: (@Sendable () -> Void)? {
        get { pumped.wake }
        set { pumped.wake = newValue }
    }

    func pump() { pumped.pump() }
}

/// The collector a coordinated bolt's delegate emits through: it counts each request's tuples per receiving task,
/// and an ack or fail may finish the request.
private final class CoordinatedOutput: OutputCollector {
    unowned let bolt: CoordinatedBolt
    let collector: any OutputCollector

    init(bolt: CoordinatedBolt, collector: any OutputCollector) {
        self.bolt = bolt
        self.collector = collector
    }

    func emit(_ values: TupleValues, stream: String, anchors: [Tuple]) -> [Int32] {
        let tasks = collector.emit(values, stream: stream, anchors: anchors)
        bolt.counted(values, to: tasks)
        return tasks
    }

    func emit(_ values: TupleValues, stream: String, anchor: Tuple) -> [Int32] {
        let tasks = collector.emit(values, stream: stream, anchor: anchor)
        bolt.counted(values, to: tasks)
        return tasks
    }

    func emitDirect(task: Int32, _ values: TupleValues, stream: String, anchors: [Tuple]) {
        bolt.counted(values, to: [task])
        collector.emitDirect(task: task, values, stream: stream, anchors: anchors)
    }

    func ack(_ tuple: Tuple) {
        if bolt.acked(tuple) { collector.fail(tuple) } else { collector.ack(tuple) }
    }

    func fail(_ tuple: Tuple) {
        bolt.failed(tuple)
        collector.fail(tuple)
    }

    func reportError(_ error: any Error) { collector.reportError(error) }
    func reportFatal(_ error: any Error) { collector.reportFatal(error) }
}
