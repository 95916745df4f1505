import Components
import Foundation
import Groupings
import Logging
import StormCore
import StormMetrics
import StormThrift
import Tuples

/// How a topology's tuples are tracked, from its conf.
struct AckingSettings: Sendable {
    /// topology.message.timeout.secs, or nil when topology.enable.message.timeouts is off.
    let messageTimeoutNanos: UInt64?
    /// topology.max.spout.pending: trees a spout task may have in flight.
    let maxSpoutPending: Int?
    let hasAckers: Bool

    init(_ conf: StormConfig) {
        let timeoutSecs = max(conf.intOrDefault(ConfigKey.topologyMessageTimeoutSecs), 1)
        messageTimeoutNanos =
            conf.boolOrDefault(ConfigKey.topologyEnableMessageTimeouts) ? UInt64(timeoutSecs) * 1_000_000_000 : nil
        maxSpoutPending = ((try? conf.optionalInt(ConfigKey.topologyMaxSpoutPending)) ?? nil).flatMap {
            $0 > 0 ? $0 : nil
        }
        hasAckers = TopologyPlan.ackerExecutors(conf) > 0
    }
}

/// Where a topology's executors and tasks are, worked out once from the topology and the assignment: which
/// executors run here, which executor runs each task, and whom each component's streams go to. Makes the
/// components and routers each executor thread then owns.
struct RuntimeLayout: Sendable {
    let topologyId: String
    /// The topology as it runs: with the ackers and the streams between them, spouts and bolts.
    let topology: StormTopology
    let streams: StreamTable
    let acking: AckingSettings
    /// One tuple in this many has its latencies timed (see `LatencySampler`).
    let samplePeriod: Int
    /// The executors to run here, by their index in `executorOfTask`.
    let executors: [ExecutorHandle]
    let executorOfTask: [Int]
    /// Which executors run on another's thread (topology.executor.chaining).
    let chains: ExecutorChains
    let localTasks: Set<Int32>
    let taskRanges: [String: ClosedRange<Int32>]
    /// component -> stream -> the subscribers and their groupings. Spouts subscribe too: to their ackers' answers.
    let subscriptions: [String: [String: [(subscriber: String, grouping: Grouping)]]]
    let registry: ComponentRegistry
    let shell: ShellEnvironment

    /// - Parameter assigned: the executors to run here (all of the topology's when nil).
    init(
        topologyId: String, topology submitted: StormTopology, conf: StormConfig, registry: ComponentRegistry,
        assigned: Set<Executor>?, shell: ShellEnvironment, metrics: MetricsScope, workerPort: Int? = nil
    ) throws {
        let topology = SystemTopology.build(submitted, conf: conf)
        self.topologyId = topologyId
        self.topology = topology
        self.registry = registry
        self.shell = shell
        acking = AckingSettings(conf)
        samplePeriod = LatencySampler.period(conf)
        streams = StreamTable(topology)
        let plan = TopologyPlan(topology: topology, conf: conf)
        taskRanges = TaskLayout.taskRanges(plan.tasks)
        var taskToComponent: [Int32: String] = [:]
        for (component, range) in taskRanges { for t in range { taskToComponent[t] = component } }
        var subscriptions: [String: [String: [(subscriber: String, grouping: Grouping)]]] = [:]
        for component in topology.components {
            for (source, grouping) in component.common.inputs {
                subscriptions[source.componentId, default: [:]][source.streamId, default: []].append(
                    (component.id, grouping))
            }
        }
        self.subscriptions = subscriptions

        // A worker runs the executors its assignment names (a rebalance may have changed their number since
        // submission); local mode runs the topology's own.
        let chosen: [(key: Executor, value: String)] =
            if let assigned {
                assigned.sorted().compactMap { e in taskToComponent[e.start].map { (key: e, value: $0) } }
            } else {
                TaskLayout.executors(tasks: plan.tasks, executorCounts: plan.executors).sorted { $0.key < $1.key }
            }
        var executors: [ExecutorHandle] = []
        var executorOfTask: [Int: Int] = [:]
        for (executor, componentId) in chosen {
            let isAcker = componentId == TopologyPlan.ackerComponent
            if TopologyName.isSystemId(componentId) && !isAcker && componentId != TopologyPlan.eventLoggerComponent {
                continue
            }
            guard let component = topology.components.first(where: { $0.id == componentId }) else { continue }
            if !isAcker { try Self.checkMakeable(component, registry: registry) }
            var tasks: [TaskSpec] = []
            for taskId in executor.start...executor.end {
                executorOfTask[Int(taskId)] = executors.count
                // Components see the topology as submitted, as Storm's user context shows it.
                let context = TopologyContext(
                    topologyId: topologyId, thisTaskId: taskId, thisComponentId: componentId,
                    taskToComponent: taskToComponent,
                    conf: conf, topology: submitted,
                    metrics: TaskMetrics(
                        registry: metrics.registry,
                        labels: metrics.labels + [Label("component", componentId), Label("task", "\(taskId)")]),
                    thisWorkerPort: workerPort)
                tasks.append(TaskSpec(taskId: taskId, context: context))
            }
            executors.append(
                ExecutorHandle(
                    componentId: componentId, component: component, isAcker: isAcker, tasks: tasks,
                    tickSecs: Self.tickSecs(component, isAcker: isAcker, conf: conf, acking: acking)))
        }
        self.executors = executors
        var table = [Int](repeating: -1, count: (taskToComponent.keys.max().map(Int.init) ?? 0) + 1)
        for (task, component) in taskToComponent
        where !TopologyName.isSystemId(component) || component == TopologyPlan.ackerComponent
            || component == TopologyPlan.eventLoggerComponent
        {
            table[Int(task)] = executors.count
        }
        for (task, index) in executorOfTask { table[task] = index }
        self.executorOfTask = table
        chains = Self.chains(
            executors: executors, executorOfTask: table, taskRanges: taskRanges, conf: conf)
        localTasks = Set(executorOfTask.keys.map(Int32.init))
        // Routers are made again by each task's thread; made once here, a bad grouping fails the construction.
        for executor in executors { _ = try routes(of: executor.componentId) }
    }

    /// A bolt's tick tuples: its own conf's topology.tick.tuple.freq.secs, else the topology's. An acker ticks
    /// every second to forget trees past the message timeout.
    private static func tickSecs(
        _ component: ComponentRef, isAcker: Bool, conf: StormConfig, acking: AckingSettings
    ) -> Int? {
        if isAcker { return acking.messageTimeoutNanos != nil ? 1 : nil }
        guard component.kind == .bolt else { return nil }
        let own = (try? JSON.decodeObject(component.common.jsonConf ?? "{}"))?[ConfigKey.topologyTickTupleFreqSecs]
        let secs = (own ?? conf[ConfigKey.topologyTickTupleFreqSecs])?.intValue ?? 0
        return secs > 0 ? Int(secs) : nil
    }

    /// Refuses what no thread could make: a class this program lacks, a shell component without a command.
    private static func checkMakeable(_ component: ComponentRef, registry: ComponentRegistry) throws {
        switch component.object {
        case .javaObject(let object):
            guard registry.entry(object.fullClassName) != nil else {
                throw RuntimeError(
                    description:
                        "component '\(component.id)' names class \(object.fullClassName), which this program does not have"
                )
            }
        case .shell(let program):
            guard !shellCommand(program).isEmpty else {
                throw RuntimeError(description: "shell component '\(component.id)' has no command")
            }
        case .serializedJava:
            throw RuntimeError(
                description: "component '\(component.id)' is a serialized Java object, which cannot run here")
        }
    }

    private static func shellCommand(_ program: ShellComponent) -> [String] {
        [program.executionCommand, program.script].compactMap { $0 }.filter { !$0.isEmpty }
    }

    /// A new instance of the component an executor runs, for one of its tasks; a coordinated bolt (of a linear DRPC
    /// topology) runs inside a CoordinatedBolt.
    func makeComponent(_ executor: ExecutorHandle, logger: Logger) throws -> any Component {
        if executor.isAcker { return AckerBolt(timeoutNanos: acking.messageTimeoutNanos) }
        let made = try makeUncoordinated(executor.component, logger: logger)
        guard let bolt = made as? any Components.Bolt,
            let spec = try CoordinationSpec.of(jsonConf: executor.component.common.jsonConf)
        else { return made }
        return CoordinatedBolt.wrapping(bolt, spec: spec)
    }

    private func makeUncoordinated(_ component: ComponentRef, logger: Logger) throws -> any Component {
        switch component.object {
        case .javaObject(let object):
            guard let entry = registry.entry(object.fullClassName) else {
                throw RuntimeError(
                    description:
                        "component '\(component.id)' names class \(object.fullClassName), which this program does not have"
                )
            }
            return try entry.make(object.argsList)
        case .shell(let program):
            return try registry.makeShellComponent(
                ShellComponentSpec(
                    componentId: component.id, kind: component.kind == .spout ? .spout : .bolt,
                    command: Self.shellCommand(program),
                    streams: component.common.streams, environment: shell, logger: logger))
        case .serializedJava:
            throw RuntimeError(
                description: "component '\(component.id)' is a serialized Java object, which cannot run here")
        }
    }

    /// New routers for one task of `component`: a router keeps its own rotation, so each emitting task has its own.
    func routes(of component: String) throws -> [String: [Route]] {
        var routes: [String: [Route]] = [:]
        for (stream, subscribers) in subscriptions[component] ?? [:] {
            let fields = streams.stream(component, stream)?.fields ?? Fields([])
            routes[stream] = try subscribers.map { subscriber, grouping in
                let targets = taskRanges[subscriber].map { Array($0) } ?? []
                return Route(
                    subscriber: subscriber,
                    router: try Router(
                        grouping: grouping, subscriber: subscriber, tasks: targets, sourceFields: fields.names,
                        localTasks: localTasks.intersection(targets), custom: { try registry.makeGrouping($0) }))
            }
        }
        return routes
    }

    /// Shell components run in `resources/` under the working directory when there is one (a worker's is its
    /// topology's folder), else in the working directory itself.
    static func defaultShellEnvironment(_ topologyId: String) -> ShellEnvironment {
        let cwd = FileManager.default.currentDirectoryPath
        let resources = cwd + "/resources"
        var isDirectory: ObjCBool = false
        let dir =
            FileManager.default.fileExists(atPath: resources, isDirectory: &isDirectory) && isDirectory.boolValue
            ? resources : cwd
        return ShellEnvironment(
            resourcesDirectory: dir, pidDirectory: NSTemporaryDirectory() + "storm-shell-pids-\(topologyId)-\(getpid())"
        )
    }
}
