#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex.
///
/// pthread rather than Synchronization.Mutex: ThreadSanitizer on Linux reports false races on the latter.
public final class Locked<Value> {
    private var mutex = pthread_mutex_t()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}

// Wraps a pthread mutex, which the compiler cannot see guards `value`; shared only when the value may cross threads.
extension Locked: @unchecked Sendable where Value: Sendable {}
