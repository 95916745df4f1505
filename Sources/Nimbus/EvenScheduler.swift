import StormCore
import StormThrift

/// A worker slot: a supervisor's port.
public struct WorkerSlot: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let node: String
    public let port: Int64

    public init(node: String, port: Int64) {
        self.node = node
        self.port = port
    }

    public static func < (a: WorkerSlot, b: WorkerSlot) -> Bool { (a.node, a.port) < (b.node, b.port) }
    public var description: String { "\(node):\(port)" }
}

/// Storm's even scheduling: executors spread round-robin over a topology's slots, slots interleaved across
/// supervisors, only free slots used, a topology that does not fit running on what there is.
public enum EvenScheduler {
    /// Free slots ordered so that consecutive picks alternate between supervisors.
    public static func interleave(_ slots: Set<WorkerSlot>) -> [WorkerSlot] {
        let byNode = Dictionary(grouping: slots, by: \.node).mapValues { $0.sorted() }
        let nodes = byNode.keys.sorted()
        var out: [WorkerSlot] = []
        var i = 0
        while out.count < slots.count {
            for node in nodes where i < byNode[node]!.count { out.append(byNode[node]![i]) }
            i += 1
        }
        return out
    }

    public struct Outcome: Equatable, Sendable {
        public var placement: [Executor: WorkerSlot]
        public var requestedWorkers: Int
        /// Executors left where they were because no live slot could take them.
        public var stranded = false
        public var workers: Int { Set(placement.values).count }
        /// Storm's sched_status: how the topology fared.
        public var status: String {
            EvenScheduler.status(workers: stranded ? 0 : workers, requested: requestedWorkers)
        }
    }

    /// Storm's sched_status for a topology running on `workers` slots of the `requested`.
    public static func status(workers: Int, requested: Int) -> String {
        if workers == 0 { return "Not scheduled: no free slots" }
        if workers < requested {
            return "Running with fewer workers than requested: \(workers) of \(requested) (not enough free slots)"
        }
        return "Fully Scheduled"
    }

    /// Places one topology's executors.
    ///
    /// - `current`: where its executors are now; `alive`: which of those slots still work (supervisor alive,
    ///   port still offered, workers heartbeating); `free`: slots no topology uses.
    /// Executors on live slots stay; the others move to free slots (or, when there are none, join live ones).
    /// A topology running on fewer slots than it asks for is spread anew once enough slots are free.
    public static func schedule(
        executors: Set<Executor>, requestedWorkers: Int, current: [Executor: WorkerSlot], alive: Set<WorkerSlot>,
        free: Set<WorkerSlot>
    ) -> Outcome {
        let requested = max(requestedWorkers, 1)
        var kept: [Executor: WorkerSlot] = [:]
        for (e, slot) in current where executors.contains(e) && alive.contains(slot) { kept[e] = slot }
        let keptSlots = Set(kept.values)
        let usable = min(requested, keptSlots.count + free.count)
        // Nowhere to go: executors stay where they were, so nothing churns if their supervisors come back.
        if usable == 0 {
            return Outcome(
                placement: current.filter { executors.contains($0.key) }, requestedWorkers: requested, stranded: true)
        }

        let unplaced = executors.subtracting(kept.keys).sorted()
        if unplaced.isEmpty && keptSlots.count >= usable {
            return Outcome(placement: kept, requestedWorkers: requested)
        }
        if keptSlots.count < usable && (unplaced.isEmpty || keptSlots.isEmpty) {
            // Fewer workers than possible (slots freed up, or a fresh topology): spread everything anew, reusing
            // its current live slots first so fewer executors move.
            let slots =
                Array(interleave(keptSlots).prefix(usable))
                + interleave(free).prefix(usable - min(usable, keptSlots.count))
            return Outcome(
                placement: roundRobin(executors.sorted(), over: Array(slots.prefix(usable))),
                requestedWorkers: requested)
        }
        // Some executors lost their slots: they go to free slots up to the worker count, else join live ones.
        let fresh = Array(interleave(free).prefix(max(0, usable - keptSlots.count)))
        let targets = fresh.isEmpty ? interleave(keptSlots) : fresh
        var placement = kept
        placement.merge(roundRobin(unplaced, over: targets)) { _, new in new }
        return Outcome(placement: placement, requestedWorkers: requested)
    }

    static func roundRobin(_ executors: [Executor], over slots: [WorkerSlot]) -> [Executor: WorkerSlot] {
        guard !slots.isEmpty else { return [:] }
        var out: [Executor: WorkerSlot] = [:]
        for (i, e) in executors.enumerated() { out[e] = slots[i % slots.count] }
        return out
    }
}
