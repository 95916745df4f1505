import Foundation
import Locking
import Logging
import TestSupport
import Testing

@testable import Transport

@Suite struct TransportTests {
    let logger = Logger(label: "transport-test")

    func frame(_ payload: [UInt8]) -> [UInt8] {
        var f: [UInt8] = []
        Frames.begin(into: &f)
        f.append(contentsOf: payload)
        Frames.seal(&f)
        return f
    }

    func server(
        port: Int = 0, name: String = "topo-1-1", limits: FrameLimits = FrameLimits(), into received: Locked<[[UInt8]]>
    ) throws -> FrameServer {
        let s = FrameServer(host: "127.0.0.1", port: port, name: name, limits: limits, logger: logger) { bytes, _ in
            let copy = [UInt8](bytes)
            received.withLock { $0.append(copy) }
        }
        try s.start()
        return s
    }

    @Test func framesArriveWholeAndInOrder() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let sender = PeerSender(host: "127.0.0.1", port: s.port, name: "topo-1-1", logger: logger)
        var sent: [[UInt8]] = []
        for i in 0..<500 {
            // Sizes from empty to several times the receive buffer, so frames straddle reads.
            let size = i == 250 ? 3 << 20 : (i * 37) % 5000
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ i) }
            sent.append(payload)
            sender.send(frame(payload))
        }
        #expect(await eventually { received.withLock { $0.count } == 500 })
        #expect(received.withLock { $0 } == sent)
        #expect(sender.isConnected)
        sender.close()
    }

    @Test func aWrongHelloOrAnOversizedFrameClosesOnlyThatConnection() async throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        // Another topology's worker on a reused port: its frames are never taken.
        let stranger = PeerSender(host: "127.0.0.1", port: s.port, name: "other-2-2", logger: logger)
        stranger.send(frame([1, 2, 3]))
        // A client that greets correctly and then claims a 4 GiB frame.
        let raw = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        try raw.writeAll(Frames.hello("topo-1-1") + [0xff, 0xff, 0xff, 0xff])
        var byte: UInt8 = 0
        #expect(try raw.read(into: &byte, count: 1) == 0, "the server should close the connection")

        let friend = PeerSender(host: "127.0.0.1", port: s.port, name: "topo-1-1", logger: logger)
        friend.send(frame([9]))
        #expect(await eventually { received.withLock { $0 } == [[9]] })
        try await Task.sleep(for: .milliseconds(100))  // checks an absence: the stranger's frame never arrives
        #expect(received.withLock { $0 } == [[9]])
        stranger.close(flushTimeout: 0.2)
        friend.close()
    }

    @Test func aSenderReconnectsWhenItsPeerRestarts() async throws {
        let received = Locked<[[UInt8]]>([])
        var s = try server(into: received)
        let port = s.port
        let sender = PeerSender(host: "127.0.0.1", port: port, name: "topo-1-1", logger: logger)
        sender.send(frame([1]))
        #expect(await eventually { received.withLock { $0.count } == 1 })
        s.stop()
        // The sender sees its peer go. Frames sent while the peer is down are lost or delivered; frames sent after
        // it is back arrive.
        #expect(
            await eventually {
                sender.send(frame([2]))
                return !sender.isConnected
            })
        s = try server(port: port, into: received)
        defer { s.stop() }
        #expect(
            await eventually {
                sender.send(frame([3]))
                return received.withLock { $0.contains([3]) }
            })
        #expect(sender.isConnected)
        sender.close()
    }

    @Test func anUnreachablePeerKeepsOnlyTheNewestFramesWithinTheBound() async throws {
        let port = try {
            let probe = try Socket.listen(host: "127.0.0.1", port: 0)
            return probe.localPort
        }()
        let sender = PeerSender(host: "127.0.0.1", port: port, name: "topo-1-1", maxQueuedBytes: 1000, logger: logger)
        for i in 0..<100 { sender.send(frame([UInt8](repeating: UInt8(i), count: 96))) }
        #expect(!sender.isConnected)
        #expect(await eventually { sender.dropped >= 90 })
        let received = Locked<[[UInt8]]>([])
        let s = try server(port: port, into: received)
        defer { s.stop() }
        #expect(await eventually { received.withLock { $0.last?.first } == 99 })
        // What survived is the newest frames, in order.
        let firsts = received.withLock { $0.map { $0[0] } }
        #expect(firsts == Array(firsts.sorted()) && firsts.count <= 10)
        sender.close()
    }

    /// True if the server ends `socket`'s connection within `seconds` (nothing else arrives on it).
    func closedByServer(_ socket: Socket, within seconds: Double = 5) -> Bool {
        var byte: UInt8 = 0
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        do { return try socket.read(into: &byte, count: 1, deadline: deadline) == 0 } catch {
            return "\(error)".contains("reset")
        }
    }

    @Test func aFirstFrameLongerThanAHelloIsRefusedAtOnce() throws {
        let received = Locked<[[UInt8]]>([])
        let s = try server(into: received)
        defer { s.stop() }
        let stranger = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        try stranger.writeAll([0, 0, 0, 4])  // 64 MiB
        #expect(closedByServer(stranger, within: 2))
    }

    @Test func aClientThatNeverFinishesItsHelloIsDroppedAndOneThatGreetsStays() async throws {
        var limits = FrameLimits()
        limits.helloTimeoutSeconds = 1
        let received = Locked<[[UInt8]]>([])
        let s = try server(limits: limits, into: received)
        defer { s.stop() }
        let slow = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        let greeted = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        try greeted.writeAll(Frames.hello("topo-1-1"))
        let started = Date()
        try slow.writeAll(Array(Frames.hello("topo-1-1").prefix(6)))
        #expect(closedByServer(slow, within: 5))
        #expect(Date().timeIntervalSince(started) > 0.5)
        // Past the hello's deadline, a client that said it is still served.
        try greeted.writeAll(frame([5]))
        #expect(await eventually { received.withLock { $0 } == [[5]] })
    }

    @Test func connectionsOverTheCapAreRefusedAndRoomComesBackWhenOneCloses() async throws {
        var limits = FrameLimits()
        limits.maxConnections = 2
        let received = Locked<[[UInt8]]>([])
        let s = try server(limits: limits, into: received)
        defer { s.stop() }
        var held: [Socket] = []
        for i in 0..<2 {
            let c = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
            try c.writeAll(Frames.hello("topo-1-1") + frame([UInt8(i)]))
            held.append(c)
        }
        #expect(await eventually { received.withLock { $0.count } == 2 })
        let extra = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        #expect(closedByServer(extra, within: 2))
        try held[0].writeAll(frame([7]))
        #expect(await eventually { received.withLock { $0.contains([7]) } })
        held.removeFirst()
        #expect(
            await eventually {
                guard let again = try? Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000),
                    (try? again.writeAll(Frames.hello("topo-1-1") + frame([9]))) != nil
                else { return false }
                return await eventually(1) { received.withLock { $0.contains([9]) } }
            })
    }

    @Test func eachFrameComesWithTheAddressItCameFrom() async throws {
        let remotes = Locked<[String]>([])
        let s = FrameServer(host: "127.0.0.1", port: 0, name: "topo-1-1", logger: logger) { _, remote in
            remotes.withLock { $0.append(remote) }
        }
        try s.start()
        defer { s.stop() }
        let c = try Socket.connect(host: "127.0.0.1", port: s.port, timeoutMillis: 1000)
        try c.writeAll(Frames.hello("topo-1-1") + frame([1]))
        #expect(await eventually { remotes.withLock { $0.count } == 1 })
        let remote = remotes.withLock { $0[0] }
        #expect(remote.hasPrefix("127.0.0.1:") && Int(remote.dropFirst(10)) != nil, "\(remote)")
    }

    @Test func aBindAddressThatDoesNotResolveIsAClearError() {
        let s = FrameServer(host: "no-such-host.invalid", port: 0, name: "topo-1-1", logger: logger) { _, _ in }
        let error = #expect(throws: TransportError.self) { try s.start() }
        #expect(error?.description == "cannot resolve host 'no-such-host.invalid'")
    }
}
