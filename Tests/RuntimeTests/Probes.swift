import Components
import Foundation
import Locking
import Tuples

/// What test components received, by topology, component and task. Components live on their executors' threads,
/// so a test reads what they recorded here, under a lock, instead of reading the components.
enum Probes {
    private static let records = Locked<[String: [String: [Int32: [Tuple]]]]>([:])

    /// A task is there (with nothing received) from its prepare on: a task that got nothing is seen to.
    static func prepared(_ context: TopologyContext) {
        records.withLock {
            $0[context.topologyId, default: [:]][context.thisComponentId, default: [:]][
                context.thisTaskId, default: []] = []
        }
    }

    static func received(_ tuple: Tuple, by context: TopologyContext) {
        records.withLock {
            $0[context.topologyId, default: [:]][context.thisComponentId, default: [:]][context.thisTaskId, default: []]
                .append(tuple)
        }
    }

    /// What each task of `component` received, in task order; only `tasks` when given.
    static func received(topology: String, component: String, tasks: Set<Int32>? = nil) -> [[Tuple]] {
        let byTask = records.withLock { $0[topology]?[component] ?? [:] }
        return byTask.keys.sorted().filter { tasks?.contains($0) ?? true }.map { byTask[$0]! }
    }

    /// A topology id no other test uses, so tests running side by side keep their records apart.
    static func newTopologyId() -> String { "t-\(UUID().uuidString.prefix(8))-1-1" }
}
