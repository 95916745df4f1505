import Foundation
import HTTPTypes

/// The API's recent answers, so a page open in many browsers, or many monitoring tools polling one endpoint, cost
/// nimbus one call per endpoint per `ttl` instead of one per request. Identical requests that arrive while one is
/// being answered wait for that answer instead of calling nimbus themselves. Errors are not kept: the next request
/// asks again. Any action empties the cache, so a status change shows at once.
actor AnswerCache {
    struct Answer: Sendable {
        let status: HTTPResponse.Status
        let text: String
    }

    private struct Entry {
        let answer: Task<Answer, Never>
        /// When the answer stops being served; nil while it is still being computed.
        var expires: ContinuousClock.Instant?
    }

    private let ttl: Duration
    private let capacity: Int
    private var entries: [String: Entry] = [:]

    init(ttl: Duration, capacity: Int = 1024) {
        self.ttl = ttl
        self.capacity = capacity
    }

    func answer(for key: String, compute: @escaping @Sendable () async -> Answer) async -> Answer {
        guard ttl > .zero else { return await compute() }
        let now = ContinuousClock.now
        if let entry = entries[key], entry.expires.map({ now < $0 }) ?? true {
            return await entry.answer.value
        }
        if entries.count >= capacity { entries = entries.filter { $0.value.expires.map { now < $0 } ?? true } }
        let task = Task { await compute() }
        entries[key] = Entry(answer: task, expires: nil)
        let answer = await task.value
        if answer.status == .ok, entries[key]?.answer == task {
            entries[key]?.expires = .now + ttl
        } else if entries[key]?.answer == task {
            entries[key] = nil
        }
        return answer
    }

    func removeAll() { entries = [:] }
}
