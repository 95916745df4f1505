import Dispatch
import Locking

/// Runs async work from a thread that is not part of Swift's cooperative pool (libthrift's connection threads,
/// timer queues) and waits for its result. Never call it from async code: it blocks its thread.
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Locked<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        result.withLock { $0 = r }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}
