#if canImport(Glibc)
import Glibc
#endif

/// A bounded queue of batches between threads: many producers, one consumer. Tuples cross threads in batches,
/// so the lock is taken once per batch, not once per tuple. A full queue blocks its producers (backpressure).
public final class BatchQueue<Element> {
    private var mutex = pthread_mutex_t()
    private var notEmpty = pthread_cond_t()
    private var notFull = pthread_cond_t()
    private var batches: [[Element]] = []
    private var closed = false
    private var woken = false
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = capacity
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&notEmpty, nil)
        pthread_cond_init(&notFull, nil)
    }

    deinit {
        pthread_cond_destroy(&notFull)
        pthread_cond_destroy(&notEmpty)
        pthread_mutex_destroy(&mutex)
    }

    /// Adds a batch, waiting while the queue is full; a closed queue drops it.
    public func put(_ batch: [Element]) {
        pthread_mutex_lock(&mutex)
        while batches.count >= capacity && !closed { pthread_cond_wait(&notFull, &mutex) }
        if !closed {
            batches.append(batch)
            pthread_cond_signal(&notEmpty)
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Adds a batch even when the queue is full: for a thread that must never wait on one consumer (a worker's
    /// socket reader, which carries every task's tuples). The caller limits the excess another way.
    /// Returns how many batches are waiting after this one.
    @discardableResult
    public func forcePut(_ batch: [Element]) -> Int {
        pthread_mutex_lock(&mutex)
        if !closed {
            batches.append(batch)
            pthread_cond_signal(&notEmpty)
        }
        let depth = batches.count
        pthread_mutex_unlock(&mutex)
        return depth
    }

    /// Batches waiting.
    public var depth: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return batches.count
    }

    /// Every batch waiting, or none after `timeoutMillis` (or once closed).
    public func takeAll(timeoutMillis: Int) -> [[Element]] { takeAll(timeoutNanos: timeoutMillis * 1_000_000) }

    /// Every batch waiting, or none after `timeoutNanos` (or once closed).
    public func takeAll(timeoutNanos: Int) -> [[Element]] {
        pthread_mutex_lock(&mutex)
        if batches.isEmpty && !closed && !woken {
            var deadline = timespec()
            clock_gettime(CLOCK_REALTIME, &deadline)
            let nanos = Int(deadline.tv_nsec) + timeoutNanos
            deadline.tv_sec += nanos / 1_000_000_000
            deadline.tv_nsec = nanos % 1_000_000_000
            _ = pthread_cond_timedwait(&notEmpty, &mutex, &deadline)
        }
        let out = batches
        batches = []
        woken = false
        pthread_cond_broadcast(&notFull)
        pthread_mutex_unlock(&mutex)
        return out
    }

    /// Every batch waiting now, without waiting for more.
    public func takeReady() -> [[Element]] {
        pthread_mutex_lock(&mutex)
        let out = batches
        if !out.isEmpty {
            batches = []
            pthread_cond_broadcast(&notFull)
        }
        pthread_mutex_unlock(&mutex)
        return out
    }

    /// Ends the consumer's current or next wait without a batch (work arrived by another way). Never blocks.
    public func wake() {
        pthread_mutex_lock(&mutex)
        woken = true
        pthread_cond_signal(&notEmpty)
        pthread_mutex_unlock(&mutex)
    }

    /// Closed, with nothing left to take.
    public var isClosed: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return closed && batches.isEmpty
    }

    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&notFull)
        pthread_cond_broadcast(&notEmpty)
        pthread_mutex_unlock(&mutex)
    }
}

// Wraps a pthread mutex and conditions, which the compiler cannot see guard `batches`; shared only when the
// elements may cross threads.
extension BatchQueue: @unchecked Sendable where Element: Sendable {}
