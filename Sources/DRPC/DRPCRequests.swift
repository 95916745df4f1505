import Logging
import StormThrift

/// The requests a DRPC server holds: each caller's `execute` waits here until a topology fetches the request and
/// returns its result or fails it, or until `drpc.request.timeout.secs`. As Storm's DRPC: request ids count up
/// from 1; a fetch with nothing waiting answers an empty request; a result or failure for an id no longer here
/// (answered, failed or timed out) is dropped, so no caller is ever answered twice.
public actor DRPCRequests {
    private struct Outstanding {
        let function: String
        let args: String
        let deadline: ContinuousClock.Instant
        let answer: CheckedContinuation<String, any Error>
    }

    /// Ids waiting to be fetched, by function, oldest first; an id whose request left meanwhile is skipped.
    private var waiting: [String: [String]] = [:]
    /// Every request not answered yet, fetched or not.
    private var outstanding: [String: Outstanding] = [:]
    private var lastId: UInt64 = 0
    private var shutDown = false
    public let timeout: Duration
    /// Requests a function may have waiting to be fetched (drpc.queue.size).
    public let queueSize: Int
    let logger: Logger

    public init(timeout: Duration, queueSize: Int, logger: Logger) {
        self.timeout = timeout
        self.queueSize = queueSize
        self.logger = logger
    }

    /// Requests not answered yet.
    public var count: Int { outstanding.count }

    /// Queues a request for `function` and waits for its result. Throws `DRPCExecutionException`: FAILED_REQUEST
    /// when the topology failed it or the function's queue is full, SERVER_TIMEOUT past the timeout,
    /// SERVER_SHUTDOWN when the server stops first. A caller whose task is cancelled takes its request with it.
    public func execute(function: String, args: String) async throws -> String {
        if shutDown { throw Self.failure("Server Shutting Down", .serverShutdown) }
        let queued = waiting[function, default: []].count { outstanding[$0] != nil }
        guard queued < queueSize else {
            throw Self.failure(
                "function '\(function)' has \(queued) requests waiting to be fetched, the most drpc.queue.size allows",
                .failedRequest)
        }
        lastId += 1
        let id = String(lastId)
        let deadline = ContinuousClock.now + timeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outstanding[id] = Outstanding(function: function, args: args, deadline: deadline, answer: continuation)
                waiting[function, default: []].append(id)
            }
        } onCancel: {
            Task { await self.fail(id, Self.failure("the caller went away", .failedRequest)) }
        }
    }

    /// The oldest request for `function` not fetched yet, or an empty one (both fields "") when there is none.
    public func fetch(function: String) -> DRPCRequest {
        while var ids = waiting[function], !ids.isEmpty {
            let id = ids.removeFirst()
            waiting[function] = ids.isEmpty ? nil : ids
            if let request = outstanding[id] { return DRPCRequest(funcArgs: request.args, requestId: id) }
        }
        return DRPCRequest(funcArgs: "", requestId: "")
    }

    /// The function request `id` called; nil when it is no longer here.
    public func function(of id: String) -> String? { outstanding[id]?.function }

    /// Answers request `id` with `result`; returns false when it is no longer here.
    @discardableResult
    public func complete(_ id: String, result: String) -> Bool {
        guard let request = outstanding.removeValue(forKey: id) else {
            logger.debug("drpc: result for request '\(id)', which is not waiting (answered, failed or timed out)")
            return false
        }
        request.answer.resume(returning: result)
        return true
    }

    /// Fails request `id` with `error`; returns false when it is no longer here.
    @discardableResult
    public func fail(_ id: String, _ error: DRPCExecutionException) -> Bool {
        guard let request = outstanding.removeValue(forKey: id) else { return false }
        request.answer.resume(throwing: error)
        return true
    }

    /// Fails every request past its deadline with SERVER_TIMEOUT; returns how many.
    @discardableResult
    public func expire(now: ContinuousClock.Instant = .now) -> Int {
        let late = outstanding.filter { $0.value.deadline <= now }.map(\.key)
        for id in late { fail(id, Self.failure("Timed Out", .serverTimeout)) }
        if !late.isEmpty { dropAnswered() }
        return late.count
    }

    /// Fails every request with SERVER_SHUTDOWN and refuses new ones.
    public func shutdown() {
        shutDown = true
        for id in Array(outstanding.keys) { fail(id, Self.failure("Server Shutting Down", .serverShutdown)) }
        waiting = [:]
    }

    /// Forgets queued ids whose requests are gone, so a function nobody serves does not keep them.
    private func dropAnswered() {
        for (function, ids) in waiting {
            let kept = ids.filter { outstanding[$0] != nil }
            waiting[function] = kept.isEmpty ? nil : kept
        }
    }

    public static func failure(_ message: String, _ type: DRPCExceptionType) -> DRPCExecutionException {
        DRPCExecutionException(msg: message, type: type)
    }
}
