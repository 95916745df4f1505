import StormThrift

/// Both Thrift services of the DRPC server over one set of requests, each call checked against `drpc.authorizer`
/// with the principal its connection authenticated as.
public struct DRPCThriftHandler: DistributedRPCHandler, DistributedRPCInvocationsHandler {
    let requests: DRPCRequests
    let authorizer: DRPCAuthorizer?

    public init(requests: DRPCRequests, authorizer: DRPCAuthorizer? = nil) {
        self.requests = requests
        self.authorizer = authorizer
    }

    public func execute(functionName: String, funcArgs: String) async throws -> String {
        try authorizer?.check(.execute, function: functionName, principal: ThriftConnection.principal)
        return try await requests.execute(function: functionName, args: funcArgs)
    }

    public func fetchRequest(functionName: String) async throws -> DRPCRequest {
        try authorizer?.check(.fetchRequest, function: functionName, principal: ThriftConnection.principal)
        return await requests.fetch(function: functionName)
    }

    public func result(id: String, result: String) async throws {
        try await checkAnswer(.result, id)
        await requests.complete(id, result: result)
    }

    public func failRequest(id: String) async throws {
        try await checkAnswer(.failRequest, id)
        await requests.fail(id, DRPCRequests.failure("Request failed", .failedRequest))
    }

    public func failRequestV2(id: String, e: DRPCExecutionException) async throws {
        try await checkAnswer(.failRequest, id)
        await requests.fail(id, e)
    }

    /// An answer is checked against its request's function; one for a request no longer here changes nothing.
    private func checkAnswer(_ operation: DRPCAuthorizer.Operation, _ id: String) async throws {
        guard let authorizer, let function = await requests.function(of: id) else { return }
        try authorizer.check(operation, function: function, principal: ThriftConnection.principal)
    }
}
