import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a pthread mutex, with a condition variable for threads that wait for it to change.
public final class LockedCondition<Value> {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }

    /// Changes the value and wakes every thread waiting in `wait`.
    @discardableResult
    public func withLockBroadcasting<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer {
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
        }
        return try body(&value)
    }

    /// Waits while `until` returns a time to wait until: it runs under the lock, first at once, then after each
    /// broadcast or when that time has come. Returns once it returns nil.
    public func wait(_ until: (inout Value) -> Date?) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        waitLocked(until)
    }

    /// Waits as `wait` does, then runs `body` under the same hold of the lock and wakes every waiter.
    @discardableResult
    public func wait<R>(_ until: (inout Value) -> Date?, thenBroadcasting body: (inout Value) throws -> R) rethrows -> R
    {
        pthread_mutex_lock(&mutex)
        defer {
            pthread_cond_broadcast(&condition)
            pthread_mutex_unlock(&mutex)
        }
        waitLocked(until)
        return try body(&value)
    }

    private func waitLocked(_ until: (inout Value) -> Date?) {
        while let deadline = until(&value) {
            let seconds = deadline.timeIntervalSince1970
            var t = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
            _ = pthread_cond_timedwait(&condition, &mutex, &t)
        }
    }
}

// Wraps a pthread mutex and condition, which the compiler cannot see guard `value`; shared only when the value may
// cross threads.
extension LockedCondition: @unchecked Sendable where Value: Sendable {}
