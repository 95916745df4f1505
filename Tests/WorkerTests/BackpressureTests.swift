import Components
import Foundation
import Locking
import Logging
import StormCore
import StormThrift
import Testing
import Transport
import Tuples

@testable import Runtime
@testable import Worker

/// Backpressure between workers: full queues announced instead of a reader that stops, senders that hold the
/// executors which would send to a congested task.
@Suite struct BackpressureTests {
    @Test func aStatusFrameRoundTripsAndIsToldApartFromBatches() throws {
        let status = BackpressureStatus(congested: [3, 4, 70_000], clear: [1])
        let frame = BackpressureFrame.encode(status)
        let payload = Array(frame.dropFirst(4))
        #expect(payload.withUnsafeBytes { BackpressureFrame.isStatus($0) })
        #expect(try payload.withUnsafeBytes { try BackpressureFrame.decode($0) } == status)
        var batch: [UInt8] = []
        TupleBatchCodec.encode([Delivery](), into: &batch)
        #expect(!batch.withUnsafeBytes { BackpressureFrame.isStatus($0) })
        // Cut short, or claiming more tasks than it has bytes: refused, not trusted.
        for bad in [Array(payload.dropLast()), Array(payload.prefix(5)) + [0xff, 0xff, 0xff, 0x0f]] {
            #expect(throws: ValueCodec.DecodingError.self) {
                _ = try bad.withUnsafeBytes { try BackpressureFrame.decode($0) }
            }
        }
    }

    func oneBoltTopology() throws -> StormTopology {
        var builder = TopologyBuilder()
        builder.setSpout("sentences", SentenceSpout.className)
        builder.subscribe(
            builder.setBolt("sink", "org.apache.storm.perf.bolt.DevNullBolt", parallelism: 2).shuffleGrouping(
                "sentences"))
        return try builder.build()
    }

    @Test func receivingNeverWaitsAndAFullQueueIsAnnouncedUntilItDrains() throws {
        // Not started: nothing drains the sink's queues, as when its executor is busy.
        let pokes = Locked(0)
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: try oneBoltTopology(), conf: .defaults,
            hooks: RuntimeHooks(onBackpressureChange: { pokes.withLock { $0 += 1 } }))
        let stream = runtime.streams.stream("sentences", "default")!
        let sinkTasks = runtime.executors.filter { $0.componentId == "sink" }.map { $0.tasks[0].taskId }
        let batch = (0..<256).map { _ in
            Delivery(task: sinkTasks[0], tuple: Tuple(values: [.string("x")], stream: stream, sourceTask: 2))
        }
        let started = Date()
        // Past twice the queue's 64 batches (what local producers may fill it with, and as much again).
        for _ in 0..<150 { runtime.receive(batch) }
        #expect(pokes.withLock { $0 } == 150 - 127, "every batch past that asks for a look until it is announced")
        #expect(Date().timeIntervalSince(started) < 5, "receive waited for room")
        let (status, changed) = runtime.checkBackpressure()
        #expect(changed)
        #expect(status.congested == [sinkTasks[0]] && status.clear == [sinkTasks[1]])
        #expect(!runtime.checkBackpressure().changed, "announced once, until it changes")
        runtime.receive(batch)
        #expect(pokes.withLock { $0 } == 23, "announced already: no more looks asked for")
        let runner = runtime.executors.first { $0.tasks[0].taskId == sinkTasks[0] }!
        #expect(runner.queue.takeAll(timeoutMillis: 0).count == 151)
        let after = runtime.checkBackpressure()
        #expect(after.changed && after.status.congested.isEmpty && Set(after.status.clear) == Set(sinkTasks))
    }

    @Test func aLookAskedForBeforeTheMonitorRunsIsNotLost() throws {
        // As a worker wires it: the signal first, its hook in the runtime, the monitor last. A reader thread may
        // overfill a queue as soon as the server is up, before the monitor's loop runs.
        let signal = BackpressureSignal()
        let runtime = try TopologyRuntime(
            topologyId: "t-1-1", topology: try oneBoltTopology(), conf: .defaults,
            hooks: RuntimeHooks(onBackpressureChange: { signal.poke() }))
        let stream = runtime.streams.stream("sentences", "default")!
        let sink = runtime.executors.first { $0.componentId == "sink" }!.tasks[0].taskId
        let batch = (0..<256).map { _ in
            Delivery(task: sink, tuple: Tuple(values: [.string("x")], stream: stream, sourceTask: 2))
        }
        for _ in 0..<130 { runtime.receive(batch) }
        let started = Date()
        #expect(signal.wait(timeoutNanos: 10_000_000_000))
        #expect(Date().timeIntervalSince(started) < 5, "the look asked for was lost: the monitor slept its full wait")
        #expect(runtime.checkBackpressure().status.congested == [sink])
        signal.stop()
        #expect(!signal.wait(timeoutNanos: 10_000_000_000), "a stopped signal ends the monitor's loop")
    }

    @Test func anExecutorSendingToACongestedTaskWaitsUntilItClears() throws {
        let transfer = WorkerTransfer(name: "t-1-1", routes: PeerRoutes(), logger: Logger(label: "test"))
        transfer.start()
        defer { transfer.close() }
        let stream = TupleStream(component: "a", stream: "default", fields: Fields(["n"]), id: 0)
        let batch = [Delivery(task: 7, tuple: Tuple(values: [.int(1)], stream: stream, sourceTask: 1))]
        transfer.apply(BackpressureStatus(congested: [7, 8]))
        #expect(transfer.congestedTasks == [7, 8])
        let done = DispatchSemaphore(value: 0)
        let other = Thread {
            transfer.transfer(batch)
            done.signal()
        }
        other.start()
        #expect(done.wait(timeout: .now() + 0.5) == .timedOut, "the executor went on while its target was congested")
        // Tuples for other tasks are not held.
        let otherDone = DispatchSemaphore(value: 0)
        Thread {
            transfer.transfer([Delivery(task: 9, tuple: batch[0].tuple)])
            otherDone.signal()
        }.start()
        #expect(otherDone.wait(timeout: .now() + 2) == .success, "a batch for an uncongested task waited")
        #expect(done.wait(timeout: .now()) == .timedOut, "the batch for the congested task went on")
        transfer.apply(BackpressureStatus(clear: [7]))
        #expect(done.wait(timeout: .now() + 2) == .success)
        #expect(transfer.congestedTasks == [8])
    }

    @Test func aCongestionNotRefreshedLapses() throws {
        // A peer that died congested must not hold this worker's executors for ever.
        let transfer = WorkerTransfer(name: "t-1-1", routes: PeerRoutes(), logger: Logger(label: "test"))
        transfer.start()
        defer { transfer.close() }
        transfer.apply(BackpressureStatus(congested: [7]))
        let stream = TupleStream(component: "a", stream: "default", fields: Fields(["n"]), id: 0)
        let started = Date()
        transfer.transfer([Delivery(task: 7, tuple: Tuple(values: [.int(1)], stream: stream, sourceTask: 1))])
        let waited = Date().timeIntervalSince(started)
        #expect(waited > 1.5 && waited < 4)
    }
}
