import ArgumentParser
import Flux
import Foundation
import StormCore

/// `storm local`: runs a topology in this process, given either as a Flux file (ours) or Storm 2's way, as an
/// archive and Flux's main class. Which form a command line is depends on its first argument: an archive (a
/// `.jar` or `.zip`, or any zip file) is Storm's form.
struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Run a topology in this process.",
        usage: """
            storm local <file.yaml> [--duration <secs>] [--resources <dir>] [--filter <file>]
            storm local <archive> org.apache.storm.flux.Flux [<flux-options>] <file.yaml> [--local-ttl <secs>]
            """,
        discussion: """
            The first form runs a Flux file until --duration passes or Ctrl-C, its shell components in resources/ \
            beside the file (or --resources). The second is Storm 2's: it runs the Flux file with the archive's \
            resources/ for --local-ttl seconds (default 20); Flux's options are in docs/flux.md. Both take \
            --config FILE and -c key=value.
            """)

    @Argument(
        parsing: .captureForPassthrough,
        help: "A Flux file and its options, or an archive, Flux's main class and Flux's arguments.")
    var arguments: [String] = []

    func run() async throws {
        // Everything after `local` is captured, help flags too.
        if let first = arguments.first, ["-h", "--help"].contains(first) {
            print(Storm.helpMessage(for: Self.self))
            return
        }
        if let form = try ArchiveForm.parse(
            arguments, skippingValuesOf: LocalFileCommand.valueOptions, when: ArchiveForm.looksLikeArchive)
        {
            try await FluxMain(launcher: .local, form: form).run()
            return
        }
        let command: LocalFileCommand
        do {
            command = try LocalFileCommand.parse(arguments)
        } catch {
            if LocalFileCommand.exitCode(for: error) == .success {
                print(Storm.helpMessage(for: Self.self))
                return
            }
            throw CLIFailure(
                message: "local: \(LocalFileCommand.message(for: error))", code: ExitCode.validationFailure.rawValue)
        }
        try await command.run()
    }
}

/// `storm local FILE.yaml`: a Flux file in this process until --duration passes or Ctrl-C.
struct LocalFileCommand: ParsableArguments {
    /// Its options that take a value: the form is told by the first argument that is neither one nor a value.
    static let valueOptions: Set<String> = ["--duration", "--resources", "--filter"]

    @Argument(help: "The topology, in Storm's Flux YAML format.") var file: String
    @Option(help: "Seconds to run (default: until Ctrl-C).") var duration: Double?
    @Option(help: "Where shell components run (default: resources/ beside the file, else the file's folder).")
    var resources: String?
    @Option(help: "A properties file whose values replace ${key} in the topology file (Flux's --filter).")
    var filter: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let conf = try global.load()
        let flux: FluxTopology
        do {
            flux = try FluxTopology.load(file: file, filter: filter)
        } catch {
            throw CLIFailure(message: error.description)
        }
        let folder =
            try resourcesFolder(given: resources, besideFile: file)
            ?? URL(fileURLWithPath: file).deletingLastPathComponent().path
        try await LocalRun(flux: flux, source: file, conf: conf, resources: folder, duration: duration).run()
    }
}
