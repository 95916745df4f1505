import Synchronization
import Testing

@testable import UI

/// The UI's answer cache: one nimbus call per endpoint per ttl, however many ask at once.
@Suite struct AnswerCacheTests {
    final class Calls: Sendable {
        let count = Atomic<Int>(0)
        func next() -> Int { count.add(1, ordering: .relaxed).newValue }
    }

    @Test func identicalRequestsAtOnceShareOneCallAndAFreshAnswerIsServedAgain() async {
        let cache = AnswerCache(ttl: .seconds(60))
        let calls = Calls()
        let answers = await withTaskGroup(of: String.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    await cache.answer(for: "/api/v1/topology/t") {
                        try? await Task.sleep(for: .milliseconds(100))
                        return .init(status: .ok, text: "call \(calls.next())")
                    }.text
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(answers) == ["call 1"])
        let again = await cache.answer(for: "/api/v1/topology/t") { .init(status: .ok, text: "call \(calls.next())") }
        #expect(again.text == "call 1")
        let other = await cache.answer(for: "/api/v1/cluster/summary") { .init(status: .ok, text: "\(calls.next())") }
        #expect(other.text == "2")
    }

    @Test func errorsAreNotKeptAndActionsEmptyTheCache() async {
        let cache = AnswerCache(ttl: .seconds(60))
        let calls = Calls()
        let failing = await cache.answer(for: "k") { .init(status: .serviceUnavailable, text: "\(calls.next())") }
        let next = await cache.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }
        #expect((failing.text, next.text) == ("1", "2"))
        await cache.removeAll()
        #expect(await cache.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }.text == "3")
    }

    @Test func anAnswerExpiresAfterItsTtlAndZeroMeansNoCache() async throws {
        let cache = AnswerCache(ttl: .milliseconds(50))
        let calls = Calls()
        _ = await cache.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }
        // Lets the 50 ms pass: the only way to see an answer expire.
        try await Task.sleep(for: .milliseconds(120))
        #expect(await cache.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }.text == "2")

        let none = AnswerCache(ttl: .zero)
        _ = await none.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }
        #expect(await none.answer(for: "k") { .init(status: .ok, text: "\(calls.next())") }.text == "4")
    }
}
