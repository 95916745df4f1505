import StormThrift

/// Both Thrift services of the DRPC server over one set of requests.
public struct DRPCThriftHandler: DistributedRPCHandler, DistributedRPCInvocationsHandler {
    let requests: DRPCRequests

    public init(requests: DRPCRequests) { self.requests = requests }

    public func execute(functionName: String, funcArgs: String) async throws -> String {
        try await requests.execute(function: functionName, args: funcArgs)
    }

    public func fetchRequest(functionName: String) async throws -> DRPCRequest {
        await requests.fetch(function: functionName)
    }

    public func result(id: String, result: String) async throws {
        await requests.complete(id, result: result)
    }

    public func failRequest(id: String) async throws {
        await requests.fail(id, DRPCRequests.failure("Request failed", .failedRequest))
    }

    public func failRequestV2(id: String, e: DRPCExecutionException) async throws {
        await requests.fail(id, e)
    }
}
