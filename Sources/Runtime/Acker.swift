import Components
import Foundation
import StormCore
import Tuples

/// An acker task (`__acker`): keeps the XOR of every spout tuple tree whose root hashes to it, and tells the
/// spout task when the tree is complete or failed. Trees it has heard of for longer than the message timeout are
/// forgotten: the spout times them out on its own clock and fails them with that reason.
final class AckerBolt: Bolt {
    private var tracker: AckTracker
    private var collector: (any OutputCollector)?

    /// `timeoutNanos`: nil when topology.enable.message.timeouts is off (trees wait for ever, as in Storm).
    init(timeoutNanos: UInt64?) { tracker = AckTracker(timeoutNanos: timeoutNanos ?? .max) }

    func declareOutputFields(_ declarer: inout OutputDeclarer) {}

    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }

    /// The acker's clock only ages trees for the timeout, in seconds: the coarse clock (a few ms old) is enough,
    /// and the precise one read for every message was 3% of an acked word count.
    static func coarseNanos() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    func execute(_ tuple: Tuple) {
        let now = Self.coarseNanos()
        if tuple.isTick {
            _ = tracker.expire(now: now)
            return
        }
        guard let first = tuple.values.first?.intValue else { return }
        let root = UInt64(bitPattern: first)
        let outcome: AckTracker.Outcome?
        switch tuple.stream.stream {
        case SystemTopology.ackInitStream:
            guard tuple.values.count == 3, let value = tuple.values[1].intValue, let task = tuple.values[2].intValue
            else { return }
            outcome = tracker.initialize(
                root: root, value: UInt64(bitPattern: value), spoutTask: Int32(truncatingIfNeeded: task), now: now)
        case SystemTopology.ackAckStream:
            guard tuple.values.count == 2, let value = tuple.values[1].intValue else { return }
            outcome = tracker.ack(root: root, value: UInt64(bitPattern: value), now: now)
        case SystemTopology.ackFailStream:
            outcome = tracker.fail(root: root, now: now)
        default:
            return
        }
        switch outcome {
        case .complete(let root, let task, let latency)?:
            collector?.emitDirect(
                task: task, [.int(Int64(bitPattern: root)), .int(Int64(latency / 1_000_000))],
                stream: SystemTopology.ackAckStream, anchors: [])
        case .failed(let root, let task)?:
            collector?.emitDirect(
                task: task, [.int(Int64(bitPattern: root)), .int(0)], stream: SystemTopology.ackFailStream, anchors: [])
        case nil:
            break
        }
    }
}
