import StormCore

/// Which executors run on another executor's thread when topology.executor.chaining is on. A bolt executor is
/// chained when every tuple it can receive is emitted on one thread of this worker: its input components run
/// here only, and all their executors are on that thread. It then executes each batch on that thread as the batch
/// leaves its producer, as Flink chains operators: no queue, no wake-up, no second thread competing for a core.
/// What needs a thread or a queue of its own stays unchained: spouts, ackers, shell bolts (their children's
/// answers arrive on another thread), bolts with tick tuples, and bolts fed from other workers.
struct ExecutorChains: Sendable {
    /// For each executor, the executor whose thread runs it (itself when it has a thread of its own).
    let host: [Int]
    /// The chained executors in an order where each comes after every chained executor that feeds it.
    let chained: [Int]

    /// No chains: every executor on its own thread.
    init(unchainedCount: Int) {
        host = Array(0..<unchainedCount)
        chained = []
    }

    /// - Parameters:
    ///   - inputs: for each executor, the executors that feed it (nil when some of its input runs elsewhere).
    ///   - chainable: for each executor, whether it may run on another's thread at all.
    init(inputs: [Set<Int>?], chainable: [Bool]) {
        var host = [Int?](repeating: nil, count: inputs.count)
        for i in inputs.indices where !chainable[i] || inputs[i] == nil || inputs[i]!.isEmpty { host[i] = i }
        var chained: [Int] = []
        // Settle executors whose producers are all settled, until none changes; what is left feeds itself
        // through a cycle and keeps its own thread.
        var changed = true
        while changed {
            changed = false
            for i in inputs.indices where host[i] == nil {
                let producers = inputs[i]!
                guard !producers.contains(i), producers.allSatisfy({ host[$0] != nil }) else { continue }
                let threads = Set(producers.map { host[$0]! })
                if threads.count == 1 {
                    host[i] = threads.first!
                    chained.append(i)
                } else {
                    host[i] = i
                }
                changed = true
            }
        }
        self.host = host.indices.map { host[$0] ?? $0 }
        self.chained = chained
    }

    func isChained(_ executor: Int) -> Bool { host[executor] != executor }

    /// The chained executors `executor`'s thread runs, producers before consumers.
    func chained(on executor: Int) -> [Int] { chained.filter { host[$0] == executor } }
}

extension RuntimeLayout {
    /// The chains for these executors: none unless the topology's conf turns chaining on.
    static func chains(
        executors: [ExecutorHandle], executorOfTask: [Int], taskRanges: [String: ClosedRange<Int32>],
        conf: StormConfig
    ) -> ExecutorChains {
        guard conf.boolOrDefault(ConfigKey.topologyExecutorChaining) else {
            return ExecutorChains(unchainedCount: executors.count)
        }
        var inputs: [Set<Int>?] = []
        var chainable: [Bool] = []
        for executor in executors {
            let component = executor.component
            var isJavaObject = false
            if case .javaObject = component.object { isJavaObject = true }
            chainable.append(
                component.kind == .bolt && !executor.isAcker && executor.tickSecs == nil && isJavaObject)
            var producers: Set<Int>? = []
            for source in component.common.inputs.keys {
                guard let range = taskRanges[source.componentId] else {
                    producers = nil
                    break
                }
                for task in range {
                    let index = Int(task) < executorOfTask.count ? executorOfTask[Int(task)] : -1
                    guard index >= 0 && index < executors.count else {
                        producers = nil
                        break
                    }
                    producers?.insert(index)
                }
                if producers == nil { break }
            }
            inputs.append(producers)
        }
        return ExecutorChains(inputs: inputs, chainable: chainable)
    }
}
