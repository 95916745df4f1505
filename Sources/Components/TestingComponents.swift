import CoreMetrics
import Foundation
import Tuples

#if canImport(Glibc)
import Glibc
#endif

/// Components for tests and benchmarks that need to count: a spout of numbered messages that replays what fails,
/// a sink that records what it saw, and a deliberately slow bolt.
enum TestingComponents {
    static func register(in registry: ComponentRegistry) {
        registry.register(NumberedSpout.className, kind: .spout) { args in
            let usage =
                "\(NumberedSpout.className) takes how many messages, and optionally a file to record progress in and messages per second"
            guard case .longArg(let n)? = args.first ?? .longArg(Int64.max), args.count <= 3 else {
                throw ComponentRegistry.Failure(description: usage)
            }
            var path: String?
            if args.count >= 2 {
                guard case .stringArg(let p) = args[1] else { throw ComponentRegistry.Failure(description: usage) }
                path = p.isEmpty ? nil : p
            }
            var rate = 0.0
            if args.count == 3 {
                guard case .longArg(let r) = args[2], r >= 0 else {
                    throw ComponentRegistry.Failure(description: usage)
                }
                rate = Double(r)
            }
            return NumberedSpout(count: n, statePath: path, perSecond: rate)
        }
        registry.register(RecordingSink.className, kind: .bolt) { args in
            guard case .stringArg(let path)? = args.first else {
                throw ComponentRegistry.Failure(
                    description: "\(RecordingSink.className) takes one argument, the file it appends to")
            }
            return RecordingSink(path: path)
        }
        registry.register(SlowBolt.className, kind: .bolt) { args in
            guard case .longArg(let micros)? = args.first, micros >= 0 else {
                throw ComponentRegistry.Failure(
                    description: "\(SlowBolt.className) takes one argument, microseconds per tuple")
            }
            return SlowBolt(microsPerTuple: micros)
        }
    }
}

/// Emits messages 0, 1, 2, … below `count` on field "n", each with its number as message id, and emits a failed
/// one again: with ackers, every number is eventually acked (at least once). A component of k tasks splits the
/// numbers: task i emits i, i+k, i+2k, …
///
/// With a state file it is the reliable source of a test that kills processes: like a consumer committing its
/// offset, each task records in `<file>.<i>` how far every number has been acked (rewritten whole by a rename,
/// at most every 100 ms), and starts again from there; what was in flight when it died is emitted again. With a
/// rate, new numbers leave at most that many a second (shared by the tasks); replays leave at once.
public final class NumberedSpout: Spout {
    public static let className = "storm.swift.testing.NumberedSpout"
    let count: Int64
    let statePath: String?
    var step: Int64 = 1
    var next: Int64 = 0
    var replay: [Int64] = []
    /// Every number below this one (of this task's) is acked.
    public private(set) var watermark: Int64 = 0
    /// The acked numbers above the watermark: as many as the gaps below them, however long the spout runs.
    var ackedAhead = Set<Int64>()
    /// Where the watermark started (0, or where a previous run's recorded progress left it).
    var startedAt: Int64 = 0
    /// Every number acked since the spout opened. Built on demand; for tests.
    public var acked: Set<Int64> { Set(stride(from: startedAt, to: watermark, by: Int(step))).union(ackedAhead) }
    public private(set) var failures = 0
    var collector: (any SpoutOutputCollector)?
    var stateFile: String?
    var committed: Int64 = -1
    var lastCommit = Date.distantPast
    let perSecond: Double
    var pace: Pace?

    public init(count: Int64, statePath: String? = nil, perSecond: Double = 0) {
        self.count = count
        self.statePath = statePath
        self.perSecond = perSecond
    }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["n"]) }

    public func open(context: TopologyContext, collector: any SpoutOutputCollector) throws {
        self.collector = collector
        let tasks = context.tasks(of: context.thisComponentId)
        let index = Int64(tasks.firstIndex(of: context.thisTaskId) ?? 0)
        step = Int64(max(tasks.count, 1))
        pace = Pace(perSecond: perSecond, context: context)
        next = index
        watermark = index
        startedAt = index
        guard let statePath else { return }
        let file = "\(statePath).\(index)"
        stateFile = file
        if let text = try? String(contentsOfFile: file, encoding: .utf8) {
            guard let saved = Int64(text.trimmingCharacters(in: .whitespacesAndNewlines)), saved >= index,
                (saved - index) % step == 0
            else {
                throw ComponentRegistry.Failure(
                    description: "\(file) holds \(text.debugDescription), not a number of task \(index) of \(step)")
            }
            next = saved
            watermark = saved
            startedAt = saved
        }
        committed = watermark
    }

    public func nextTuple() {
        commitIfDue()
        let n: Int64
        if !replay.isEmpty {
            n = replay.removeFirst()
        } else if next < count {
            guard pace?.admit() ?? true else { return }
            n = next
            next += step
        } else {
            return
        }
        collector?.emit([.int(n)], messageId: .int(n))
    }

    public func ack(_ messageId: Value) {
        guard let n = messageId.intValue, n >= watermark, ackedAhead.insert(n).inserted else { return }
        while ackedAhead.remove(watermark) != nil { watermark += step }
        commitIfDue()
    }

    public func fail(_ messageId: Value) {
        failures += 1
        if let n = messageId.intValue { replay.append(n) }
    }

    public func close() {
        if stateFile != nil { commit() }
    }

    private func commitIfDue() {
        guard stateFile != nil, watermark != committed, Date().timeIntervalSince(lastCommit) >= 0.1 else { return }
        commit()
    }

    private func commit() {
        guard let stateFile else { return }
        lastCommit = Date()
        let scratch = stateFile + ".new"
        do {
            try "\(watermark)\n".write(toFile: scratch, atomically: false, encoding: .utf8)
            guard rename(scratch, stateFile) == 0 else { throw CocoaError(.fileWriteUnknown) }
            committed = watermark
        } catch {
            collector?.reportError(
                ComponentRegistry.Failure(description: "cannot record progress in \(stateFile): \(error)"))
        }
    }
}

/// Appends the first value of every tuple it gets to a file, one per line, and acks it. The file is opened for
/// appending, so the tasks of several sinks (and workers) can share it: each line is one atomic append. Counts
/// what it recorded in its metric `tuples-recorded`.
public final class RecordingSink: Bolt {
    public static let className = "storm.swift.testing.RecordingSink"
    let path: String
    var fd: Int32 = -1
    var collector: (any OutputCollector)?
    var recorded: Counter?

    public init(path: String) { self.path = path }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) {}

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        recorded = try context.metrics.counter("tuples-recorded")
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ComponentRegistry.Failure(
                description: "cannot open \(path) to record into: \(String(cString: strerror(errno)))")
        }
    }

    public func execute(_ tuple: Tuple) {
        if !tuple.isTick, let first = tuple.values.first {
            let line = Array("\(first)\n".utf8)
            _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            recorded?.increment()
        }
        collector?.ack(tuple)
    }

    public func cleanup() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}

/// Passes each tuple on after spending `microsPerTuple` on it: a bolt slower than its spout, for backpressure.
public final class SlowBolt: Bolt {
    public static let className = "storm.swift.testing.SlowBolt"
    let microsPerTuple: Int64
    var collector: (any OutputCollector)?

    public init(microsPerTuple: Int64) { self.microsPerTuple = microsPerTuple }
    public func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["value"]) }
    public func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }

    public func execute(_ tuple: Tuple) {
        if microsPerTuple > 0 { usleep(UInt32(clamping: microsPerTuple)) }
        collector?.emit([tuple.values.first ?? .null], anchor: tuple)
        collector?.ack(tuple)
    }
}
