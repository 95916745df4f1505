import DRPC
import DRPCDaemon
import Foundation
import Logging
import ServiceLifecycle
import StormCore
import StormThrift
import TestSupport
import Testing

/// The DRPC server's requests: each caller answered once, with its own result, or failed with Storm's types.
@Suite struct DRPCRequestsTests {
    func requests(timeout: Duration = .seconds(600), queueSize: Int = 128) -> DRPCRequests {
        DRPCRequests(timeout: timeout, queueSize: queueSize, logger: Logger(label: "drpc-test"))
    }

    /// Waits until `function` has a request to fetch, and fetches it.
    func fetched(_ requests: DRPCRequests, _ function: String) async -> DRPCRequest? {
        var request: DRPCRequest?
        _ = await eventually(10) {
            let r = await requests.fetch(function: function)
            if r.requestId.isEmpty { return false }
            request = r
            return true
        }
        return request
    }

    func failureType(_ call: () async throws -> String) async -> DRPCExceptionType? {
        do {
            _ = try await call()
            return nil
        } catch let error as DRPCExecutionException {
            return error.type
        } catch {
            return nil
        }
    }

    @Test func aCallerGetsTheResultOfItsRequestOnce() async throws {
        let requests = requests()
        #expect(await requests.fetch(function: "echo") == DRPCRequest(funcArgs: "", requestId: ""))
        async let answer = requests.execute(function: "echo", args: "hello")
        let request = try #require(await fetched(requests, "echo"))
        #expect(request.funcArgs == "hello" && request.requestId == "1")
        #expect(await requests.fetch(function: "echo").requestId.isEmpty, "a request is fetched once")
        #expect(await requests.complete(request.requestId, result: "HELLO"))
        #expect(try await answer == "HELLO")
        #expect(await !requests.complete(request.requestId, result: "again"), "never answered twice")
        #expect(await requests.count == 0)
    }

    @Test func fiftyConcurrentCallersEachGetTheirOwnAnswer() async throws {
        let requests = requests()
        let answers = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for i in 0..<50 {
                group.addTask { ("arg\(i)", try await requests.execute(function: "reverse", args: "arg\(i)")) }
            }
            // The topology: fetches and answers in whatever order the requests come.
            group.addTask {
                var served = 0
                while served < 50 {
                    let request = await requests.fetch(function: "reverse")
                    if request.requestId.isEmpty {
                        try await Task.sleep(for: .milliseconds(1))
                        continue
                    }
                    await requests.complete(request.requestId, result: String(request.funcArgs.reversed()))
                    served += 1
                }
                return ("", "")
            }
            var out: [String: String] = [:]
            for try await (arg, result) in group where !arg.isEmpty { out[arg] = result }
            return out
        }
        #expect(answers.count == 50)
        #expect(answers.allSatisfy { $0.value == String($0.key.reversed()) })
    }

    @Test func failedRequestsReachTheirCallersWithStormsTypes() async throws {
        let requests = requests()
        async let failed = failureType { try await requests.execute(function: "f", args: "a") }
        let first = try #require(await fetched(requests, "f"))
        await requests.fail(first.requestId, DRPCExecutionException(msg: "Request failed", type: .failedRequest))
        #expect(await failed == .failedRequest)

        async let custom = failureType { try await requests.execute(function: "f", args: "b") }
        let second = try #require(await fetched(requests, "f"))
        await requests.fail(second.requestId, DRPCExecutionException(msg: "bad input", type: .internalError))
        #expect(await custom == .internalError)
    }

    @Test func anUnfetchedRequestTimesOutAndItsLateResultIsDropped() async throws {
        let requests = requests(timeout: .milliseconds(50))
        async let timedOut = failureType { try await requests.execute(function: "nobody-serves-this", args: "x") }
        _ = await eventually(5) { await requests.count == 1 }
        try await Task.sleep(for: .milliseconds(60))
        #expect(await requests.expire() == 1)
        #expect(await timedOut == .serverTimeout)
        #expect(await requests.fetch(function: "nobody-serves-this").requestId.isEmpty, "nothing left to fetch")
        #expect(await !requests.complete("1", result: "late"))
    }

    @Test func aFullQueueRefusesAtOnceAndSaysWhy() async throws {
        let requests = requests(queueSize: 2)
        async let a = failureType { try await requests.execute(function: "f", args: "1") }
        async let b = failureType { try await requests.execute(function: "f", args: "2") }
        _ = await eventually(5) { await requests.count == 2 }
        do {
            _ = try await requests.execute(function: "f", args: "3")
            Issue.record("a third request was queued")
        } catch let error as DRPCExecutionException {
            #expect(error.type == .failedRequest)
            #expect(error.msg == "function 'f' has 2 requests waiting to be fetched, the most drpc.queue.size allows")
        }
        // Another function has its own queue.
        async let other = failureType { try await requests.execute(function: "g", args: "1") }
        _ = await eventually(5) { await requests.count == 3 }
        await requests.shutdown()
        let (first, second, third) = await (a, b, other)
        #expect(first == .serverShutdown && second == .serverShutdown && third == .serverShutdown)
        #expect(await failureType { try await requests.execute(function: "f", args: "4") } == .serverShutdown)
    }

    @Test func aCallerThatGoesAwayTakesItsRequestWithIt() async throws {
        let requests = requests()
        let caller = Task { try await requests.execute(function: "f", args: "x") }
        _ = await eventually(5) { await requests.count == 1 }
        caller.cancel()
        #expect(await eventually(5) { await requests.count == 0 })
        #expect(await requests.fetch(function: "f").requestId.isEmpty)
    }
}

/// The server over real sockets: both Thrift services, from Swift clients.
@Suite struct DRPCServerTests {
    @Test func executeOverThriftIsAnsweredByAnInvocationsClient() async throws {
        let conf = StormConfig.defaults.merging([
            ConfigKey.drpcPort: 0, ConfigKey.drpcInvocationsPort: 0, ConfigKey.drpcHttpPort: 0,
            ConfigKey.drpcRequestTimeoutSecs: 5,
        ])
        let bound = AsyncStream.makeStream(of: DRPCPorts.self)
        let server = try DRPCServer(conf: conf, logger: Logger(label: "drpc-test")) { bound.continuation.yield($0) }
        let group = ServiceGroup(services: [server], logger: Logger(label: "drpc-test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = bound.stream.makeAsyncIterator()
            let ports = try #require(await iterator.next())
            // The topology's side, on a thread of its own: answers every request with its args upper-cased.
            tasks.addTask {
                let invocations = try DistributedRPCInvocationsClient(host: "127.0.0.1", port: ports.invocations)
                defer { invocations.close() }
                var served = 0
                while served < 2 {
                    let request = try invocations.fetchRequest(functionName: "upper")
                    if request.requestId.isEmpty {
                        try await Task.sleep(for: .milliseconds(5))
                        continue
                    }
                    try invocations.result(id: request.requestId, result: request.funcArgs.uppercased())
                    served += 1
                }
            }
            let caller = try DistributedRPCClient(host: "127.0.0.1", port: ports.execute)
            #expect(try caller.execute(functionName: "upper", funcArgs: "thrift") == "THRIFT")
            #expect(try caller.execute(functionName: "upper", funcArgs: "again") == "AGAIN")
            caller.close()
            #expect(ports.http != nil, "HTTP is served (tested over HTTP in Tests/e2e/test_drpc.py)")
            try await tasks.next()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
