import Foundation

/// The arguments of Storm's Flux main class (`org.apache.storm.flux.Flux [options] FILE.yaml`), read as Flux reads
/// them with Apache Commons CLI's basic parser: options and the one topology file in any order, an option's value
/// in the next argument (also `--long=value` here), `--` ending the options. As there, an option is found by its
/// name without its leading dashes, so `-local` and `--s` are `--local` and `-s`.
public struct FluxArguments: Equatable, Sendable {
    /// The topology file (with `resource`, a resource name inside the topology archive).
    public var file = ""
    public var local = false
    public var remote = false
    public var resource = false
    public var sleepMillis: Int64?
    public var dryRun = false
    public var noDetail = false
    public var noSplash = false
    public var inactive = false
    public var zookeeper: String?
    public var filter: String?
    public var envFilter = false

    /// What a command line asks for: a run, or Flux's help.
    public enum Request: Equatable, Sendable {
        case run(FluxArguments)
        case help
    }

    /// A mistake on the command line, in one line naming the argument.
    public struct Failure: Error, CustomStringConvertible, Equatable, Sendable {
        public let description: String
    }

    struct Option: Sendable {
        let short: String
        let long: String
        /// The value's name in the usage, or nil for a flag.
        let value: String?
        let help: String
        let set: @Sendable (inout FluxArguments, String) throws(Failure) -> Void
    }

    /// Flux's options, with Storm 1's meanings for those Storm 2 ignores (documented in docs/flux.md).
    static let options: [Option] = [
        Option(short: "h", long: "help", value: nil, help: "print this help") { _, _ in },
        Option(short: "l", long: "local", value: nil, help: "run in this process (storm jar)") { a, _ in a.local = true
        },
        Option(short: "r", long: "remote", value: nil, help: "submit to the cluster (what storm jar does anyway)") {
            a, _ in a.remote = true
        },
        Option(short: "R", long: "resource", value: nil, help: "the file is a resource inside the topology archive") {
            a, _ in a.resource = true
        },
        Option(short: "s", long: "sleep", value: "milliseconds", help: "how long a --local run lasts, in milliseconds")
        { a, v throws(Failure) in
            guard let ms = Int64(v), ms >= 0 else {
                throw Failure(description: "Flux's --sleep takes milliseconds, not '\(v)'")
            }
            a.sleepMillis = ms
        },
        Option(short: "d", long: "dry-run", value: nil, help: "check and print the topology; do not run or submit it") {
            a, _ in a.dryRun = true
        },
        Option(short: "q", long: "no-detail", value: nil, help: "do not print the topology's details") { a, _ in
            a.noDetail = true
        },
        Option(short: "n", long: "no-splash", value: nil, help: "do not print a splash screen (there is none)") {
            a, _ in a.noSplash = true
        },
        Option(short: "i", long: "inactive", value: nil, help: "submit the topology deactivated") { a, _ in
            a.inactive = true
        },
        Option(short: "z", long: "zookeeper", value: "host:port", help: "ignored: local mode keeps its state in memory")
        { a, v in a.zookeeper = v },
        Option(short: "f", long: "filter", value: "file", help: "a properties file whose values replace ${key}") {
            a, v in a.filter = v
        },
        Option(
            short: "e", long: "env-filter", value: nil,
            help: "replace ${ENV-NAME} with the environment's NAME (always done)"
        ) { a, _ in a.envFilter = true },
    ]

    static func option(named token: String) -> Option? {
        let name = token.drop { $0 == "-" }
        return options.first { $0.short == name || $0.long == name }
    }

    /// Reads Flux's arguments: exactly one topology file and any of Flux's options.
    public static func parse(_ arguments: [String]) throws(Failure) -> Request {
        var parsed = FluxArguments()
        var files: [String] = []
        var help = false
        var rest = arguments[...]
        while let token = rest.popFirst() {
            if token == "--" {
                files += rest
                break
            }
            guard token.hasPrefix("-"), token != "-" else {
                files.append(token)
                continue
            }
            let (name, inlineValue) = split(token)
            guard let option = option(named: name) else {
                throw Failure(description: "unknown Flux option '\(token)' (Flux's options: \(summary))")
            }
            if option.long == "help" { help = true }
            guard let valueName = option.value else {
                if inlineValue != nil { throw Failure(description: "Flux option '\(name)' takes no value: '\(token)'") }
                try option.set(&parsed, "")
                continue
            }
            // As Commons CLI does: the next argument is the value unless it is one of the options.
            if let value = inlineValue {
                try option.set(&parsed, value)
            } else if let next = rest.first, !(next.hasPrefix("-") && Self.option(named: split(next).name) != nil) {
                rest.removeFirst()
                try option.set(&parsed, next)
            } else {
                throw Failure(description: "Flux option '\(token)' needs a value: \(valueName)")
            }
        }
        if help { return .help }
        guard let file = files.first else {
            throw Failure(description: "Flux needs the topology file: org.apache.storm.flux.Flux [options] FILE.yaml")
        }
        guard files.count == 1 else {
            throw Failure(
                description: "Flux takes one topology file, not \(files.map { "'\($0)'" }.joined(separator: ", "))")
        }
        parsed.file = file
        return .run(parsed)
    }

    /// `--name=value` as name and value; anything else as it is.
    static func split(_ token: String) -> (name: String, value: String?) {
        guard token.hasPrefix("--"), let eq = token.firstIndex(of: "=") else { return (token, nil) }
        return (String(token[..<eq]), String(token[token.index(after: eq)...]))
    }

    static var summary: String {
        options.map { "-\($0.short)" }.joined(separator: " ") + ", and their long forms"
    }

    /// Flux's usage: how to call it and each option.
    public static var usage: [String] {
        ["usage: org.apache.storm.flux.Flux [options] FILE.yaml"]
            + options.map { o in
                let names = "-\(o.short),--\(o.long)" + (o.value.map { " <\($0)>" } ?? "")
                return " " + names.padding(toLength: 28, withPad: " ", startingAt: 0) + o.help
            }
    }
}
