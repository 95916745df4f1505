import Components
import Foundation
import StormCore
import StormThrift
import Yams

/// A topology written in Storm's Flux YAML (the basic form: name, config, spouts, bolts, streams), as a
/// StormTopology and its conf.
public struct FluxTopology {
    public let name: String
    public let conf: [String: ConfigValue]
    public let topology: StormTopology
    /// Its components and streams in the file's order, for printing.
    public let outline: FluxOutline

    /// An error that names the file, the line and what is wrong.
    public struct Failure: Error, CustomStringConvertible, Equatable, Sendable {
        public let description: String

        /// Public for FluxResources, whose failures name what they could not read.
        public init(description: String) { self.description = description }
    }

    /// - Parameters:
    ///   - filter: a properties file (`key=value` lines) whose values replace `${key}` in the file, as Flux's
    ///     `--filter` does; `${ENV-NAME}` is replaced by the environment variable NAME either way.
    ///   - resources: where includes marked `resource: true` are read from (without, they are refused).
    public static func load(
        file path: String, filter: String? = nil, resources: (any FluxResources)? = nil,
        registry: ComponentRegistry = .shared
    ) throws(Failure) -> FluxTopology {
        let text = try readFile(path)
        let properties = try filter.map { path throws(Failure) in parseProperties(try readFile(path)) } ?? [:]
        return try parse(text, source: path, properties: properties, resources: resources, registry: registry)
    }

    /// Loads a topology file that is a resource (Flux's `--resource`). As in Flux, the filter file is then a
    /// resource too, and included files that are not resources are found from the working directory.
    public static func load(
        resource name: String, filter: String? = nil, from resources: any FluxResources,
        registry: ComponentRegistry = .shared
    ) throws(Failure) -> FluxTopology {
        let (text, source) = try resources.read(name)
        let properties =
            try filter.map { name throws(Failure) in parseProperties(try resources.read(name).text) } ?? [:]
        return try parse(
            text, source: source, properties: properties, resources: resources,
            includeBase: URL(fileURLWithPath: FileManager.default.currentDirectoryPath), registry: registry)
    }

    /// - Parameter includeBase: the folder relative `file` includes are found in (default: the source's).
    public static func parse(
        _ text: String, source: String, properties: [String: String] = [:],
        environment: [String: String] = ProcessInfo.processInfo.environment, resources: (any FluxResources)? = nil,
        includeBase: URL? = nil, registry: ComponentRegistry = .shared
    ) throws(Failure) -> FluxTopology {
        let parser = Parser(
            source: source, registry: registry, properties: properties, environment: environment, resources: resources,
            includeBase: includeBase ?? URL(fileURLWithPath: source).deletingLastPathComponent())
        return try parser.topology(try parser.compose(text))
    }

    static func readFile(_ path: String) throws(Failure) -> String {
        do {
            return try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(description: "\(path): cannot read: \((error as NSError).localizedDescription)")
        }
    }
}

extension FluxTopology {
    /// Java properties as Flux's `--filter` reads them: `key=value` or `key: value` lines; `#` and `!` comments.
    static func parseProperties(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), !line.hasPrefix("!"),
                let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" })
            else { continue }
            out[line[..<separator].trimmingCharacters(in: .whitespaces)] = line[line.index(after: separator)...]
                .trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Replaces `${ENV-NAME}` with the environment's NAME (an unset one is an error naming its line) and `${key}`
    /// with the filter's value for key (others stay as they are).
    static func substitute(
        _ text: String, source: String, properties: [String: String], environment: [String: String]
    ) throws(Failure) -> String {
        guard text.contains("${") else { return text }
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                out += rest[open.lowerBound...]
                rest = ""
                break
            }
            let key = String(rest[open.upperBound..<close])
            if key.hasPrefix("ENV-") {
                let name = String(key.dropFirst(4))
                guard let value = environment[name] else {
                    let line = text[..<open.lowerBound].filter { $0 == "\n" }.count + 1
                    throw Failure(
                        description: "\(source):\(line): environment variable \(name) is not set (${ENV-\(name)})")
                }
                out += value
            } else if let value = properties[key] {
                out += value
            } else {
                out += rest[open.lowerBound...close]
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}

struct Parser {
    let source: String
    let registry: ComponentRegistry
    let properties: [String: String]
    let environment: [String: String]
    let resources: (any FluxResources)?
    let includeBase: URL

    /// A file's YAML tree, after `${...}` substitution (included files are substituted too, as in Flux).
    func compose(_ text: String) throws(FluxTopology.Failure) -> Node {
        let text = try FluxTopology.substitute(text, source: source, properties: properties, environment: environment)
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw FluxTopology.Failure(description: "\(source): the file is empty")
            }
            return node
        } catch let failure as FluxTopology.Failure {
            throw failure
        } catch {
            throw FluxTopology.Failure(
                description: "\(source): bad YAML: \("\(error)".replacingOccurrences(of: "\n", with: " "))")
        }
    }

    /// A parser for a file this one includes.
    func including(_ source: String, base: URL) -> Parser {
        Parser(
            source: source, registry: registry, properties: properties, environment: environment, resources: resources,
            includeBase: base)
    }

    func fail(_ node: Node?, _ message: String) -> FluxTopology.Failure {
        let line = node?.mark.map { ":\($0.line)" } ?? ""
        return FluxTopology.Failure(description: "\(source)\(line): \(message)")
    }

    func mapping(_ node: Node, _ what: String) throws(FluxTopology.Failure) -> Node.Mapping {
        guard let m = node.mapping else { throw fail(node, "\(what) must be a mapping") }
        return m
    }

    func string(
        _ m: Node.Mapping, _ key: String, in what: String, required: Bool = true
    ) throws(FluxTopology.Failure) -> String? {
        guard let node = m[key] else {
            if required { throw fail(Node.mapping(m), "\(what) has no '\(key)'") }
            return nil
        }
        guard let s = node.string, !s.isEmpty else {
            throw fail(node, "'\(key)' of \(what) must be a non-empty string")
        }
        return s
    }

    func int(_ m: Node.Mapping, _ key: String, in what: String) throws(FluxTopology.Failure) -> Int32? {
        guard let node = m[key] else { return nil }
        guard let i = node.int, let v = Int32(exactly: i) else {
            throw fail(node, "'\(key)' of \(what) must be an integer")
        }
        return v
    }

    func topology(_ root: Node) throws(FluxTopology.Failure) -> FluxTopology {
        let top = try mapping(root, "the top level")
        guard let name = try string(top, "name", in: "the topology") else { throw fail(root, "no name") }
        let defs = Definitions()
        try collect(root, into: defs, override: true, depth: 0)
        if let linear = top["linearDRPC"] {
            return try linearDRPC(linear, name: name, defs: defs)
        }
        if defs.spouts.isEmpty { throw fail(root, "no spouts") }
        for (parser, item) in defs.streams { try parser.stream(item, defs) }
        let topology = StormTopology(spouts: defs.spouts, bolts: defs.bolts, stateSpouts: [:])
        do {
            try TopologyValidator.validate(topology)
        } catch {
            throw fail(root, error.description)
        }
        return FluxTopology(name: name, conf: defs.conf, topology: topology, outline: defs.outline)
    }

    /// What a file and the files it includes define, before the streams are resolved against all of it.
    final class Definitions {
        var conf: [String: ConfigValue] = [:]
        var spouts: [String: SpoutSpec] = [:]
        var bolts: [String: StormThrift.Bolt] = [:]
        var declared: [String: [String: StreamInfo]] = [:]
        var streams: [(Parser, Node)] = []
        var outline = FluxOutline()
    }

    /// Adds a file's includes (first), config and components to `defs`. With `override`, what this file defines
    /// replaces what an include defined under the same key or id, as Flux's `override: true` does.
    func collect(_ root: Node, into defs: Definitions, override: Bool, depth: Int) throws(FluxTopology.Failure) {
        let top = try mapping(root, "the top level")
        if let includes = top["includes"] {
            guard let items = includes.sequence else { throw fail(includes, "'includes' must be a list") }
            guard depth < 10 else { throw fail(includes, "includes nested deeper than 10 (a cycle?)") }
            for item in items {
                let m = try mapping(item, "an include")
                guard let file = try string(m, "file", in: "an include") else { continue }
                let parser: Parser
                let text: String
                if m["resource"]?.bool == true {
                    guard let resources else {
                        throw fail(
                            item,
                            "classpath resources are included from a topology archive (storm jar or storm local ARCHIVE org.apache.storm.flux.Flux ...): use file here"
                        )
                    }
                    let found: (text: String, source: String)
                    do {
                        found = try resources.read(file)
                    } catch {
                        throw fail(m["file"], error.description)
                    }
                    // As in Flux, files a resource includes are found from the working directory.
                    parser = including(
                        found.source, base: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
                    text = found.text
                } else {
                    let path = file.hasPrefix("/") ? file : includeBase.appendingPathComponent(file).path
                    do {
                        text = try String(contentsOfFile: path, encoding: .utf8)
                    } catch {
                        throw fail(m["file"], "cannot read included file \(path)")
                    }
                    parser = including(path, base: URL(fileURLWithPath: path).deletingLastPathComponent())
                }
                try parser.collect(
                    try parser.compose(text), into: defs, override: m["override"]?.bool ?? false, depth: depth + 1)
            }
        }
        if let config = top["config"] {
            let m = try mapping(config, "config")
            for (k, v) in m {
                guard let key = k.string else { throw fail(k, "config keys must be strings") }
                if override || defs.conf[key] == nil { defs.conf[key] = value(v) }
            }
        }
        var seen: Set<String> = []
        func add(
            _ id: String, _ kind: ComponentRegistry.Kind, _ object: ComponentObject, _ streams: [String: StreamInfo],
            _ m: Node.Mapping,
            className: String
        ) throws(FluxTopology.Failure) {
            if !override && defs.declared[id] != nil { return }
            defs.declared[id] = streams
            let parallelism = try int(m, "parallelism", in: "\(kind.rawValue) '\(id)'") ?? 1
            defs.outline.put(
                FluxOutline.Component(id: id, parallelism: parallelism, className: className), spout: kind == .spout)
            var common = ComponentCommon(inputs: [:], streams: streams, parallelismHint: parallelism)
            if let tasks = try int(m, "numTasks", in: "\(kind.rawValue) '\(id)'") {
                common.jsonConf = try? JSON.encode(.map([ConfigKey.topologyTasks: .int(Int64(tasks))]))
            }
            if kind == .spout {
                defs.bolts[id] = nil
                defs.spouts[id] = SpoutSpec(spoutObject: object, common: common)
            } else {
                defs.spouts[id] = nil
                defs.bolts[id] = StormThrift.Bolt(boltObject: object, common: common)
            }
        }
        if let components = top["components"] {
            throw fail(
                components,
                "'components' define JVM objects for 'ref' arguments; Swift and shell components take numbers, booleans and strings"
            )
        }
        for (list, kind) in [("spouts", ComponentRegistry.Kind.spout), ("bolts", .bolt)] {
            guard let node = top[list] else { continue }
            guard let items = node.sequence else { throw fail(node, "'\(list)' must be a list") }
            for item in items {
                let m = try mapping(item, "an entry of \(list)")
                let what = "a \(kind.rawValue)"
                guard let id = try string(m, "id", in: what),
                    let className = try string(m, "className", in: "\(kind.rawValue) '\(id)'")
                else { continue }
                if !seen.insert(id).inserted { throw fail(item, "component id '\(id)' is used twice") }
                let (object, streams) = try component(m, id: id, className: className, kind: kind, list: list)
                try add(id, kind, object, streams, m, className: className)
            }
        }
        for item in top["streams"]?.sequence ?? [] { defs.streams.append((self, item)) }
    }

    /// What one entry of a component list runs (a registered class or a shell command) and the streams it declares.
    func component(
        _ m: Node.Mapping, id: String, className: String, kind: ComponentRegistry.Kind, list: String
    ) throws(FluxTopology.Failure) -> (ComponentObject, [String: StreamInfo]) {
        if let shellKind = Self.shellClasses[className] {
            guard shellKind == kind else {
                throw fail(m["className"], "\(className) is a \(shellKind.rawValue), listed under \(list)")
            }
            let (program, fields) = try shell(m, id: id)
            return (.shell(program), try shellStreams(m, id: id, defaultFields: fields))
        }
        let object = JavaObject(fullClassName: className, argsList: try constructorArgs(m, id: id))
        do {
            try registry.check(object, as: kind, component: id)
        } catch {
            throw fail(m["className"], error.description)
        }
        do {
            return (.javaObject(object), try registry.declaredStreams(className, args: object.argsList))
        } catch {
            throw fail(m["className"], "\(error)")
        }
    }

    /// Resolves one entry of `streams` against every definition.
    func stream(_ item: Node, _ defs: Definitions) throws(FluxTopology.Failure) {
        let m = try mapping(item, "a stream")
        guard let from = try string(m, "from", in: "a stream"), let to = try string(m, "to", in: "a stream") else {
            return
        }
        guard defs.declared[from] != nil else { throw fail(m["from"], "stream from unknown component '\(from)'") }
        guard defs.bolts[to] != nil else {
            throw fail(
                m["to"],
                defs.spouts[to] != nil ? "stream to '\(to)', which is a spout" : "stream to unknown bolt '\(to)'")
        }
        guard let groupingNode = m["grouping"] else { throw fail(item, "stream \(from) -> \(to) has no grouping") }
        let (grouping, type, streamId) = try grouping(groupingNode, from: from, declared: defs.declared[from] ?? [:])
        defs.bolts[to]!.common.inputs[GlobalStreamId(componentId: from, streamId: streamId)] = grouping
        defs.outline.put(FluxOutline.Stream(from: from, to: to, grouping: type, streamId: streamId))
    }

    /// A grouping of the stream `from` declares that it names (default: `default`), and its Flux type name.
    func grouping(
        _ groupingNode: Node, from: String, declared: [String: StreamInfo]
    ) throws(FluxTopology.Failure) -> (Grouping, type: String, streamId: String) {
        let g = try mapping(groupingNode, "a grouping")
        let streamId = try string(g, "streamId", in: "the grouping", required: false) ?? defaultStream
        guard let info = declared[streamId] else {
            throw fail(groupingNode, "component '\(from)' declares no stream '\(streamId)'")
        }
        let type = try string(g, "type", in: "the grouping") ?? ""
        let args = g["args"]?.sequence?.compactMap(\.string) ?? []
        let grouping: Grouping
        switch type.uppercased() {
        case "SHUFFLE": grouping = .shuffle(NullStruct())
        case "FIELDS":
            guard !args.isEmpty else { throw fail(groupingNode, "a FIELDS grouping needs args: the fields") }
            for field in args where !info.outputFields.contains(field) {
                throw fail(
                    g["args"], "field '\(field)' is not among the fields of \(from):\(streamId) \(info.outputFields)")
            }
            grouping = .fields(args)
        case "ALL": grouping = .all(NullStruct())
        case "GLOBAL": grouping = .fields([])
        case "NONE": grouping = .none(NullStruct())
        case "DIRECT": grouping = .direct(NullStruct())
        case "LOCAL_OR_SHUFFLE": grouping = .localOrShuffle(NullStruct())
        case "CUSTOM":
            guard let custom = g["customClass"]?.mapping, let className = custom["className"]?.string else {
                throw fail(groupingNode, "a CUSTOM grouping needs customClass: {className: ...}")
            }
            grouping = .customObject(JavaObject(fullClassName: className, argsList: []))
        default:
            throw fail(
                g["type"],
                "unknown grouping type '\(type)' (SHUFFLE, FIELDS, ALL, GLOBAL, NONE, DIRECT, LOCAL_OR_SHUFFLE, CUSTOM)"
            )
        }
        return (grouping, type.uppercased(), streamId)
    }

    /// A component's scalar constructor arguments, as JavaObject arguments.
    func constructorArgs(_ m: Node.Mapping, id: String) throws(FluxTopology.Failure) -> [JavaObjectArg] {
        guard let node = m["constructorArgs"] else { return [] }
        guard let items = node.sequence else { throw fail(node, "constructorArgs of '\(id)' must be a list") }
        var out: [JavaObjectArg] = []
        for item in items {
            switch value(item) {
            case .int(let i): out.append(.longArg(i))
            case .double(let d): out.append(.doubleArg(d))
            case .bool(let b): out.append(.boolArg(b))
            case .string(let s): out.append(.stringArg(s))
            default: throw fail(item, "constructor argument of '\(id)' must be a number, a boolean or a string")
            }
        }
        return out
    }

    /// A shell wrapper's streams: the constructor's fields on the default stream, changed by the configMethods
    /// `setDefaultStream([fields])` and `setNamedStream(stream, [fields])`.
    func shellStreams(
        _ m: Node.Mapping, id: String, defaultFields: [String]
    ) throws(FluxTopology.Failure) -> [String: StreamInfo] {
        var streams = [defaultStream: StreamInfo(outputFields: defaultFields, direct: false)]
        for call in m["configMethods"]?.sequence ?? [] {
            let c = try mapping(call, "a configMethod of '\(id)'")
            let name = try string(c, "name", in: "a configMethod of '\(id)'") ?? ""
            let args = c["args"]?.sequence ?? []
            switch (name, args.count) {
            case ("setDefaultStream", 1):
                guard let fields = args[0].sequence?.compactMap(\.string) else {
                    throw fail(c["args"], "setDefaultStream takes a list of fields")
                }
                streams[defaultStream] = StreamInfo(outputFields: fields, direct: false)
            case ("setNamedStream", 2):
                guard let stream = args[0].string, let fields = args[1].sequence?.compactMap(\.string) else {
                    throw fail(c["args"], "setNamedStream takes a stream id and a list of fields")
                }
                streams[stream] = StreamInfo(outputFields: fields, direct: false)
            default:
                throw fail(
                    call,
                    "unknown configMethod '\(name)' with \(args.count) argument(s) for shell component '\(id)' (setDefaultStream, setNamedStream)"
                )
            }
        }
        return streams
    }

    /// Flux's shell wrappers: run a program as a multilang component.
    static let shellClasses: [String: ComponentRegistry.Kind] = [
        "org.apache.storm.flux.wrappers.spouts.FluxShellSpout": .spout,
        "org.apache.storm.flux.wrappers.bolts.FluxShellBolt": .bolt,
    ]

    /// A FluxShellSpout's or FluxShellBolt's constructor arguments: the command (program and script), then the
    /// output fields.
    func shell(_ m: Node.Mapping, id: String) throws(FluxTopology.Failure) -> (ShellComponent, [String]) {
        guard let args = m["constructorArgs"]?.sequence, args.count == 2,
            let command = args[0].sequence?.compactMap(\.string), let fields = args[1].sequence?.compactMap(\.string)
        else {
            throw fail(
                m["constructorArgs"] ?? m["className"],
                "shell component '\(id)' needs constructorArgs: [[program, script], [fields...]]")
        }
        guard (1...2).contains(command.count) else {
            throw fail(
                m["constructorArgs"],
                "shell component '\(id)': the command is a program and at most one script, as Storm's ShellComponent carries"
            )
        }
        return (ShellComponent(executionCommand: command[0], script: command.count > 1 ? command[1] : ""), fields)
    }

    func value(_ node: Node) -> ConfigValue {
        switch node {
        case .scalar:
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .int(Int64(i)) }
            if let d = node.float { return .double(d) }
            return .string(node.string ?? "")
        case .sequence(let s): return .list(s.map(value))
        case .mapping(let m):
            var out: [String: ConfigValue] = [:]
            for (k, v) in m { out[k.string ?? ""] = value(v) }
            return .map(out)
        }
    }
}
