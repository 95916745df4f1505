import Foundation

/// Runs blocking work (a Thrift client's calls, `zookeeper_close`, a runtime's start and stop, large file copies) on
/// a thread of its own and awaits its result: the way async code makes a blocking call.
///
/// Not GCD's pool, whose threads grow slowly when blocked, and never the cooperative pool: the work may wait on
/// Swift tasks that need a thread of that pool to finish (a nimbus answering a Thrift call in the same process).
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
    }
}

/// The same for work that throws: its error is rethrown to the caller.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
