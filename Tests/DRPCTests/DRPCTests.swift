import DRPCDaemon
import Foundation
import Logging
import ServiceLifecycle
import StormCore
import StormThrift
import TestSupport
import Testing

@testable import DRPC

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

@Suite struct DRPCAuthorizerTests {
    static let className = "org.apache.storm.security.auth.authorizer.DRPCSimpleACLAuthorizer"
    let logger = Logger(label: "drpc-authorizer-test")

    func aclFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drpc-acl-\(UUID().uuidString).yaml")
            .path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func conf(_ path: String, strict: Bool = false) -> StormConfig {
        StormConfig([
            "drpc.authorizer": .string(Self.className), "drpc.authorizer.acl.filename": .string(path),
            "drpc.authorizer.acl.strict": .bool(strict),
        ])
    }

    static let acl = """
        drpc.authorizer.acl:
          reverse:
            client.users: ["bob", "carol"]
            invocation.user: "alice"
          halfdone:
            client.users: ["bob"]
        """

    @Test func callersAndServersAreWhomTheFileNames() throws {
        let path = try aclFile(Self.acl)
        let auth = try #require(try DRPCAuthorizer.configured(conf(path), logger: logger))
        #expect(auth.permits(.execute, function: "reverse", principal: "bob"))
        // A principal matches by its local user too.
        #expect(auth.permits(.execute, function: "reverse", principal: "carol@EXAMPLE.COM"))
        #expect(!auth.permits(.execute, function: "reverse", principal: "alice"))
        #expect(!auth.permits(.execute, function: "reverse", principal: nil))
        for operation in [DRPCAuthorizer.Operation.fetchRequest, .result, .failRequest] {
            #expect(auth.permits(operation, function: "reverse", principal: "alice"))
            #expect(!auth.permits(operation, function: "reverse", principal: "bob"))
        }
        // A function with no invocation user is served by nobody; one the file does not name is open.
        #expect(!auth.permits(.fetchRequest, function: "halfdone", principal: "alice"))
        #expect(auth.permits(.execute, function: "other", principal: nil))
        #expect(auth.permits(.fetchRequest, function: "other", principal: "bob"))
        // Strict: only what the file names.
        let strict = try #require(try DRPCAuthorizer.configured(conf(path, strict: true), logger: logger))
        #expect(!strict.permits(.execute, function: "other", principal: "bob"))
        #expect(strict.permits(.execute, function: "reverse", principal: "bob"))
        #expect(throws: AuthorizationException(msg: "DRPC request 'execute' for 'alice' user is not authorized")) {
            try auth.check(.execute, function: "reverse", principal: "alice")
        }
        #expect(try DRPCAuthorizer.configured(.defaults, logger: logger) == nil)
    }

    @Test func theFileIsReadAgainWhenItChangesAndABadOneKeepsTheLastGood() async throws {
        let path = try aclFile(Self.acl)
        let auth = DRPCAuthorizer(
            path: path, strict: false, acl: try DRPCAuthorizer.read(path), logger: logger, lookEvery: .milliseconds(50))
        #expect(!auth.permits(.execute, function: "reverse", principal: "dave"))
        try Self.acl.replacingOccurrences(of: "\"carol\"", with: "\"dave\"").write(
            toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        try await Task.sleep(for: .milliseconds(100))
        #expect(auth.permits(.execute, function: "reverse", principal: "dave"))
        try "drpc.authorizer.acl: [not, a, map]".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(10)], ofItemAtPath: path)
        try await Task.sleep(for: .milliseconds(100))
        #expect(auth.permits(.execute, function: "reverse", principal: "dave"))
    }

    @Test func whatCannotBeHonouredIsOneLine() throws {
        let good = try aclFile(Self.acl)
        let cases: [(StormConfig, String)] = [
            (
                StormConfig(["drpc.authorizer": "com.example.Mine"]),
                "config key 'drpc.authorizer' is \"com.example.Mine\", which this build does not offer (only \(Self.className))"
            ),
            (
                StormConfig(["drpc.authorizer": .string(Self.className)]),
                "config key 'drpc.authorizer.acl.filename' is not set: \(Self.className) reads its ACL from that YAML file"
            ),
            (
                conf(try aclFile("drpc.authorizer.acl:\n  f: [bob]\n")),
                "function 'f' must have client.users and invocation.user"
            ),
            (
                conf(try aclFile("drpc.authorizer.acl:\n  f:\n    client.users: bob\n")),
                "function 'f': client.users must be a list of user names"
            ),
            (
                conf(try aclFile("drpc.authorizer.acl:\n  f:\n    invocation.user: [alice]\n")),
                "function 'f': invocation.user must be one user name"
            ),
            (conf("/nonexistent/drpc-acl.yaml"), "config key 'drpc.authorizer.acl.filename' cannot be used: "),
            (conf(good).merging(StormConfig(["drpc.authorizer.acl.strict": "yes"])), "drpc.authorizer.acl.strict"),
        ]
        for (conf, message) in cases {
            do {
                _ = try DRPCAuthorizer.configured(conf, logger: logger)
                Issue.record("accepted \(conf.values)")
            } catch {
                #expect(error.description.contains(message), "\(error.description)")
                #expect(!error.description.contains("\n"))
            }
        }
    }

    @Test func theThriftServicesAskTheAuthorizerWithTheConnectionsPrincipal() async throws {
        let path = try aclFile(Self.acl)
        let requests = DRPCRequests(timeout: .seconds(5), queueSize: 10, logger: logger)
        let handler = DRPCThriftHandler(
            requests: requests, authorizer: try DRPCAuthorizer.configured(conf(path), logger: logger))
        await #expect(
            throws: AuthorizationException(msg: "DRPC request 'execute' for 'mallory' user is not authorized")
        ) {
            try await ThriftConnection.$principal.withValue("mallory") {
                try await handler.execute(functionName: "reverse", funcArgs: "x")
            }
        }
        let call = Task {
            try await ThriftConnection.$principal.withValue("bob") {
                try await handler.execute(functionName: "reverse", funcArgs: "ping")
            }
        }
        var fetched = DRPCRequest(funcArgs: "", requestId: "")
        await #expect(throws: AuthorizationException.self) {
            try await ThriftConnection.$principal.withValue("bob") {
                _ = try await handler.fetchRequest(functionName: "reverse")
            }
        }
        while fetched.requestId.isEmpty {
            fetched = try await ThriftConnection.$principal.withValue("alice") {
                try await handler.fetchRequest(functionName: "reverse")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        // Only the function's invocation user answers it.
        await #expect(throws: AuthorizationException.self) {
            try await ThriftConnection.$principal.withValue("bob") {
                try await handler.result(id: fetched.requestId, result: "forged")
            }
        }
        try await ThriftConnection.$principal.withValue("alice") {
            try await handler.result(id: fetched.requestId, result: "gnip")
        }
        #expect(try await call.value == "gnip")
    }
}
