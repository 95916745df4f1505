import Components
import Foundation
import Logging
import StormCore
import StormMetrics
import StormThrift
import Tuples

/// What both shell components share: the process, the handshake, and the messages every component may send.
final class ShellConnection {
    let process: ShellProcess
    let logger: Logger
    let componentId: String
    let taskId: Int32
    let metrics: ShellMetrics

    init(
        command: [String], environment: ShellEnvironment, context: TopologyContext, logger: Logger,
        onMessage: @escaping @Sendable () -> Void
    ) {
        let timeout = Double(context.conf.intOrDefault(ConfigKey.topologySubprocessTimeoutSecs))
        var logger = logger
        logger[metadataKey: "shell"] = "\(context.thisComponentId):\(context.thisTaskId)"
        self.logger = logger
        componentId = context.thisComponentId
        taskId = context.thisTaskId
        metrics = ShellMetrics(context.metrics)
        process = ShellProcess(
            command: command, directory: environment.resourcesDirectory, timeout: timeout, logger: logger,
            onMessage: onMessage)
    }

    /// Starts the child and makes the handshake: conf, context and the pid folder in, the child's pid back.
    func start(context: TopologyContext, environment: ShellEnvironment) throws {
        try FileManager.default.createDirectory(atPath: environment.pidDirectory, withIntermediateDirectories: true)
        try process.start()
        let setup: Value = .map([
            "conf": Self.value(.map(context.conf.values)),
            "pidDir": .string(environment.pidDirectory),
            "context": ShellContext.json(context),
        ])
        process.expectReply()
        try process.send(setup)
        let answer = try process.nextMessage(timeout: process.timeout)
        guard case .map(let m) = answer, m["pid"]?.intValue != nil else {
            throw ShellError("the subprocess answered the handshake with \(answer), not its pid")
        }
        logger.info(
            "started \(process.command.joined(separator: " ")) (pid \(process.pid)) in \(environment.resourcesDirectory)"
        )
    }

    /// A conf value as the child sees it.
    static func value(_ c: ConfigValue) -> Value {
        switch c {
        case .null: .null
        case .bool(let b): .bool(b)
        case .int(let i): .int(i)
        case .double(let d): .double(d)
        case .string(let s): .string(s)
        case .list(let l): .list(l.map(value))
        case .map(let m): .map(m.mapValues(value))
        }
    }

    /// Handles a `log` message: the child's line in the worker's log, at its level (0 trace to 4 error).
    func log(_ m: [String: Value]) {
        let text = m["msg"]?.stringValue ?? "\(m["msg"] ?? .null)"
        switch m["level"]?.intValue ?? 2 {
        case 0: logger.trace("\(text)")
        case 1: logger.debug("\(text)")
        case 3: logger.warning("\(text)")
        case 4: logger.error("\(text)")
        default: logger.info("\(text)")
        }
    }

    /// Where an emit goes: its stream, its values, a direct task if any, and whether the child waits for the
    /// task ids (Storm's default, unless `need_task_ids` is false; never for a direct emit).
    struct Emit {
        let stream: String
        let values: TupleValues
        let task: Int32?
        let needTaskIds: Bool
    }

    func parseEmit(_ m: [String: Value]) throws(ShellError) -> Emit {
        guard case .list(let values)? = m["tuple"] else {
            throw ShellError("an emit without a tuple list: \(Value.map(m))")
        }
        let stream = m["stream"]?.stringValue ?? defaultStream
        var task: Int32? = nil
        if let t = m["task"], t != .null {
            guard let i = t.intValue else { throw ShellError("an emit whose task is not a number: \(t)") }
            task = Int32(clamping: i)
        }
        let need: Bool
        if case .bool(let b)? = m["need_task_ids"] { need = b } else { need = true }
        return Emit(stream: stream, values: TupleValues(values), task: task, needTaskIds: need && task == nil)
    }

    /// Handles a `metrics` message: recorded in the task's metrics (see `ShellMetrics`). Storm's worker dies on a
    /// metrics message without a name, and so does this one; a metric that cannot be recorded is returned, to be
    /// reported as the component's error once per name, and the child goes on.
    func recordMetrics(_ m: [String: Value]) throws(ShellError) -> MetricError? {
        guard let name = m["name"]?.stringValue, !name.isEmpty else {
            throw ShellError("the subprocess sent metrics without a name: \(Value.map(m))")
        }
        return metrics.record(name: name, params: m["params"] ?? .null)
    }

    func sendTaskIds(_ ids: [Int32]) throws(ShellError) {
        try process.send(.list(ids.map { .int(Int64($0)) }))
    }

    func stop(grace: TimeInterval = 1) { process.stop(grace: grace) }
}

/// What a shell spout and a shell bolt both are: a command, the streams it declares, where it runs.
public class ShellProgram {
    let command: [String]
    let streams: [String: StreamInfo]
    let environment: ShellEnvironment
    let logger: Logger
    var connection: ShellConnection?

    public init(command: [String], streams: [String: StreamInfo], environment: ShellEnvironment, logger: Logger) {
        self.command = command
        self.streams = streams
        self.environment = environment
        self.logger = logger
    }

    public func declareOutputFields(_ declarer: inout OutputDeclarer) {
        for (stream, info) in streams { declarer.declare(info.outputFields, stream: stream, direct: info.direct) }
    }
}

/// Storm's ShellBolt: each tuple goes to the child as it arrives (the pipe is the pipeline; writes gather up to
/// `topology.shellbolt.max.pending` tuples or one executed batch), and what the child says back (emits, acks, fails,
/// logs, errors) is handled on the executor's thread when it pumps. An idle child is asked for a heartbeat every
/// second; one that stays silent past `topology.subprocess.timeout.secs`, exits, or says something malformed is a
/// fatal error for the worker, with the child's last stderr lines.
public final class ShellBolt: ShellProgram, PumpedBolt {
    var collector: (any OutputCollector)?
    var pending: [String: Tuple] = [:]
    var nextId: UInt64 = 0
    var maxPending = 100
    var lastHeartbeat = Date()
    var heartbeatOutstanding = false
    var dead = false
    /// Tuples waiting to be written: one write per batch the executor runs, not one per tuple.
    var outgoing: [UInt8] = []
    var outgoingCount = 0
    /// Commands the child sent that a bolt does not know, each logged once.
    var unknownCommands: Set<String> = []
    public var wake: (@Sendable () -> Void)?

    public func prepare(context: TopologyContext, collector: any OutputCollector) throws {
        self.collector = collector
        maxPending = max(1, context.conf.intOrDefault(ConfigKey.topologyShellboltMaxPending))
        let wake = self.wake
        let connection = ShellConnection(command: command, environment: environment, context: context, logger: logger) {
            wake?()
        }
        self.connection = connection
        try connection.start(context: context, environment: environment)
    }

    public func execute(_ tuple: Tuple) {
        guard connection != nil, !dead else { return }
        nextId &+= 1
        let id = String(nextId)
        pending[id] = tuple
        send(
            id: id, component: .string(tuple.sourceComponent), stream: tuple.sourceStream, task: tuple.sourceTask,
            values: tuple.values)
    }

    private func send(id: String, component: Value, stream: String, task: Int32, values: TupleValues) {
        var out = outgoing
        outgoing = []
        out.append(contentsOf: Array(#"{"id":"#.utf8))
        MultilangJSON.writeString(id, into: &out)
        out.append(contentsOf: Array(#","comp":"#.utf8))
        MultilangJSON.write(component, into: &out)
        out.append(contentsOf: Array(#","stream":"#.utf8))
        MultilangJSON.writeString(stream, into: &out)
        out.append(contentsOf: Array(#","task":"#.utf8))
        out.append(contentsOf: String(task).utf8)
        out.append(contentsOf: Array(#","tuple":"#.utf8))
        MultilangJSON.write(.list(values.array), into: &out)
        out.append(contentsOf: Array("}\nend\n".utf8))
        outgoing = out
        outgoingCount += 1
        // Storm's topology.shellbolt.max.pending bounds the tuples waiting to be written; the pipe itself is the
        // backpressure (a write waits while the child is behind). Unacked tuples are not bounded here: a child may
        // hold tuples until a tick (a batching bolt), and waiting for its acks would starve it of that tick.
        if outgoingCount >= maxPending || outgoing.count >= 64 << 10 { flush() }
    }

    /// Writes the tuples waiting to go to the child.
    private func flush() {
        guard let connection, !outgoing.isEmpty, !dead else { return }
        let bytes = outgoing
        outgoing.removeAll(keepingCapacity: true)
        outgoingCount = 0
        do {
            try connection.process.sendRaw(bytes)
        } catch {
            die(error)
        }
    }

    public func pump() {
        guard let connection, !dead else { return }
        flush()
        for message in connection.process.takeMessages() {
            switch message {
            case .success(let m): handle(m)
            case .failure(let error): die(error)
            }
            if dead { return }
        }
        // Ask an idle child whether it is alive; the watchdog kills it if it does not answer in time.
        if !heartbeatOutstanding && Date().timeIntervalSince(lastHeartbeat) >= 1 {
            heartbeatOutstanding = true
            lastHeartbeat = Date()
            connection.process.expectReply()
            nextId &+= 1
            send(id: String(nextId), component: .null, stream: "__heartbeat", task: -1, values: [])
            flush()
        }
    }

    private func handle(_ message: Value) {
        guard let connection, let collector else { return }
        guard case .map(let m) = message, let command = m["command"]?.stringValue else {
            die(ShellError("the subprocess sent a message without a command: \(message)"))
            return
        }
        switch command {
        case "emit":
            do {
                let emit = try connection.parseEmit(m)
                var anchors: [Tuple] = []
                switch m["anchors"] {
                case .list(let ids)?: anchors = ids.compactMap { $0.stringValue.flatMap { pending[$0] } }
                case .string(let id)?: anchors = pending[id].map { [$0] } ?? []
                default: break
                }
                if let task = emit.task {
                    collector.emitDirect(task: task, emit.values, stream: emit.stream, anchors: anchors)
                } else {
                    let tasks = collector.emit(emit.values, stream: emit.stream, anchors: anchors)
                    if emit.needTaskIds { try connection.sendTaskIds(tasks) }
                }
            } catch {
                die(error)
            }
        case "ack", "fail":
            guard let id = m["id"]?.stringValue ?? m["id"].map({ "\($0)" }), let tuple = pending.removeValue(forKey: id)
            else {
                die(
                    ShellError(
                        "the subprocess \(command)ed tuple id \(m["id"] ?? .null), which it was not given or already \(command)ed"
                    ))
                return
            }
            if command == "ack" { collector.ack(tuple) } else { collector.fail(tuple) }
        case "sync":
            heartbeatOutstanding = false
        case "log":
            connection.log(m)
        case "error":
            collector.reportError(ShellError(m["msg"]?.stringValue ?? "\(m["msg"] ?? .null)"))
        case "metrics":
            do {
                if let refusal = try connection.recordMetrics(m) { collector.reportError(refusal) }
            } catch { die(error) }
        default:
            // Storm's ShellBolt ignores what it does not know (a newer adapter's command, say); its ShellSpout dies.
            if unknownCommands.insert(command).inserted {
                connection.logger.debug("ignoring the subprocess' unknown command '\(command)' (logged once)")
            }
        }
    }

    private func die(_ error: any Error) {
        guard !dead else { return }
        dead = true
        collector?.reportFatal(ShellError("shell bolt \(command.joined(separator: " ")): \(error)"))
        connection?.stop(grace: 0)
    }

    public func cleanup() { connection?.stop() }
}

/// Storm's ShellSpout: each call (`next`, `ack`, `fail`, `activate`, `deactivate`) is one command to the child,
/// answered by what it emits and a `sync`. Acks and fails that arrive while the child is busy with `next` wait for
/// its sync.
public final class ShellSpout: ShellProgram, Spout {
    var collector: (any SpoutOutputCollector)?
    var queued: [Value] = []
    var inCall = false
    var dead = false

    public func open(context: TopologyContext, collector: any SpoutOutputCollector) throws {
        self.collector = collector
        let connection = ShellConnection(command: command, environment: environment, context: context, logger: logger) {
        }
        self.connection = connection
        try connection.start(context: context, environment: environment)
    }

    public func nextTuple() {
        call(.map(["command": "next"]))
        while !queued.isEmpty && !dead { call(queued.removeFirst()) }
    }

    public func ack(_ messageId: Value) { enqueue(.map(["command": "ack", "id": messageId])) }
    public func fail(_ messageId: Value) { enqueue(.map(["command": "fail", "id": messageId])) }
    public func activate() { enqueue(.map(["command": "activate"])) }
    public func deactivate() { enqueue(.map(["command": "deactivate"])) }

    private func enqueue(_ command: Value) {
        if inCall { queued.append(command) } else { call(command) }
    }

    /// Sends one command and handles what the child says until its `sync`.
    private func call(_ request: Value) {
        guard let connection, let collector, !dead else { return }
        inCall = true
        defer { inCall = false }
        do {
            connection.process.expectReply()
            try connection.process.send(request)
            while true {
                let message = try connection.process.nextMessage(timeout: connection.process.timeout)
                guard case .map(let m) = message, let command = m["command"]?.stringValue else {
                    throw ShellError("the subprocess sent a message without a command: \(message)")
                }
                switch command {
                case "sync": return
                case "emit":
                    let emit = try connection.parseEmit(m)
                    let id = m["id"].flatMap { $0 == .null ? nil : $0 }
                    if let task = emit.task {
                        collector.emitDirect(task: task, emit.values, stream: emit.stream, messageId: id)
                    } else {
                        let tasks = collector.emit(emit.values, stream: emit.stream, messageId: id)
                        if emit.needTaskIds { try connection.sendTaskIds(tasks) }
                    }
                case "log": connection.log(m)
                case "error": collector.reportError(ShellError(m["msg"]?.stringValue ?? "\(m["msg"] ?? .null)"))
                case "metrics":
                    if let refusal = try connection.recordMetrics(m) { collector.reportError(refusal) }
                // As Storm's ShellSpout: a command a spout does not know ends it (a bolt ignores it).
                default: throw ShellError("the subprocess sent an unknown command '\(command)' to a spout")
                }
            }
        } catch {
            dead = true
            collector.reportFatal(ShellError("shell spout \(command.joined(separator: " ")): \(error)"))
            connection.stop(grace: 0)
        }
    }

    public func close() { connection?.stop() }
}
