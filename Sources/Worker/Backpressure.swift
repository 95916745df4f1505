import Foundation
import Locking
import Runtime
import Transport
import Tuples

/// Which congestions have lasted long enough to tell an operator about. A task congested without a break for
/// `threshold` is reported, then again every `repeatEvery` while it lasts, and its end once it was reported: a stream
/// stopped by backpressure (a stuck bolt, or a status that should not be there) shows in the worker's log, while the
/// short congestions of a busy topology stay quiet. A value apart from threads and clocks (times are passed in), so
/// it can be tested alone.
struct LastingCongestion {
    struct Report: Equatable, Sendable {
        let task: Int32
        /// How long it has lasted (or lasted, once ended), in whole seconds.
        let seconds: Int
        let ended: Bool
    }

    static let defaultThresholdNanos: UInt64 = 10_000_000_000
    static let defaultRepeatNanos: UInt64 = 60_000_000_000

    let thresholdNanos: UInt64
    let repeatNanos: UInt64
    private var since: [Int32: UInt64] = [:]
    private var reportedAt: [Int32: UInt64] = [:]

    init(thresholdNanos: UInt64 = defaultThresholdNanos, repeatNanos: UInt64 = defaultRepeatNanos) {
        self.thresholdNanos = thresholdNanos
        self.repeatNanos = repeatNanos
    }

    /// Takes the tasks congested at `now` (uptime nanoseconds; every other task is clear) and says what to log.
    mutating func update(congested: Set<Int32>, now: UInt64) -> [Report] {
        var reports: [Report] = []
        for task in congested {
            let start = since[task] ?? now
            since[task] = start
            let lasted = now - start
            guard lasted >= thresholdNanos else { continue }
            if let last = reportedAt[task], now - last < repeatNanos { continue }
            reportedAt[task] = now
            reports.append(Report(task: task, seconds: Int(lasted / 1_000_000_000), ended: false))
        }
        for (task, start) in since where !congested.contains(task) {
            since[task] = nil
            if reportedAt.removeValue(forKey: task) != nil {
                reports.append(Report(task: task, seconds: Int((now - start) / 1_000_000_000), ended: true))
            }
        }
        return reports.sorted { $0.task < $1.task }
    }
}

/// Asks for a backpressure look from any thread, coalesced: many requests before the look are one. Made before the
/// runtime, whose hook it is, so a request from a thread that starts with the runtime is never lost.
final class BackpressureSignal: Sendable {
    private let wakeUp = DispatchSemaphore(value: 0)
    private let state = Locked((poked: false, stopped: false))

    /// Asks for a look soon; cheap when one is already asked for.
    func poke() {
        let first = state.withLock { s -> Bool in
            defer { s.poked = true }
            return !s.poked
        }
        if first { wakeUp.signal() }
    }

    func stop() {
        state.withLock { $0.stopped = true }
        wakeUp.signal()
    }

    /// Waits for a request or `timeoutNanos`, and takes what was asked; false once stopped.
    func wait(timeoutNanos: UInt64) -> Bool {
        _ = wakeUp.wait(timeout: .now() + .nanoseconds(Int(timeoutNanos)))
        return state.withLock { s -> Bool in
            s.poked = false
            return !s.stopped
        }
    }
}

/// Tells the peers (through the transfer) when this worker's tasks congest or clear, each time the signal says a
/// queue filled or a congested one was taken; resends the status every half second while anything is congested,
/// so a peer that reconnected or missed a frame learns it.
final class BackpressureMonitor: Sendable {
    private let runtime: TopologyRuntime
    private let transfer: WorkerTransfer
    private let signal: BackpressureSignal
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter signal: the one the runtime's `onBackpressureChange` hook pokes.
    init(runtime: TopologyRuntime, transfer: WorkerTransfer, signal: BackpressureSignal) {
        self.runtime = runtime
        self.transfer = transfer
        self.signal = signal
    }

    func start() {
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "backpressure"
        thread.start()
    }

    func stop() {
        signal.stop()
        finished.wait()
    }

    private func run() {
        var lastSent: UInt64 = 0
        var lasting = LastingCongestion()
        var componentOfTask: [Int32: String] = [:]
        for entry in runtime.executorCounts() {
            for task in entry.executor.start...entry.executor.end { componentOfTask[task] = entry.component }
        }
        while signal.wait(timeoutNanos: BackpressureFrame.refreshNanos) {
            let (status, changed) = runtime.checkBackpressure()
            let now = DispatchTime.now().uptimeNanoseconds
            if changed || (!status.congested.isEmpty && now - lastSent >= BackpressureFrame.refreshNanos) {
                transfer.broadcast(BackpressureFrame.encode(status))
                lastSent = now
            }
            for report in lasting.update(congested: Set(status.congested), now: now) {
                let task = "task \(report.task) (\(componentOfTask[report.task] ?? "?"))"
                if report.ended {
                    transfer.logger.info("backpressure: \(task) here is clear again after \(report.seconds) s")
                } else {
                    let peers = transfer.peerEndpoints.map(\.description).sorted()
                    transfer.logger.warning(
                        "backpressure: \(task) here has been congested for \(report.seconds) s (its queue stays full); peers \(peers) hold tuples for it"
                    )
                }
            }
        }
    }
}
