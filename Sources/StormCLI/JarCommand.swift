import ArgumentParser

/// `storm jar ARCHIVE org.apache.storm.flux.Flux [options] FILE.yaml`: Storm's way of running a Flux topology,
/// kept for the scripts people already have. Flux's options and the file come in any order, and the launcher's
/// own options (`--config`, `-c`, `--local-ttl`) anywhere, as Storm's `storm` script takes them.
struct JarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jar",
        abstract: "Run a Flux topology Storm's way: submit it, or with --local run it here.",
        usage: "storm jar <archive> org.apache.storm.flux.Flux [<flux-options>] <file.yaml> [--local-ttl <secs>]",
        discussion: """
            Submits the Flux file to the cluster with the archive's resources/ (Storm 2's storm jar); Flux's --local \
            runs it in this process instead, for --sleep milliseconds or --local-ttl seconds (default 60), as Storm \
            1's Flux did. Flux's options are in docs/flux.md. Also takes --config FILE and -c key=value.
            """)

    @Argument(parsing: .captureForPassthrough, help: "The archive, Flux's main class and Flux's arguments.")
    var arguments: [String] = []

    func run() async throws {
        // Everything after `jar` is captured, help flags too; after the archive they are Flux's.
        if let first = arguments.first, ["-h", "--help"].contains(first) {
            print(Storm.helpMessage(for: Self.self))
            return
        }
        guard let form = try ArchiveForm.parse(arguments) else {
            throw CLIFailure(
                message:
                    "jar needs an archive and a main class: storm jar ARCHIVE org.apache.storm.flux.Flux [options] FILE.yaml",
                code: ExitCode.validationFailure.rawValue)
        }
        try await FluxMain(launcher: .jar, form: form).run()
    }
}
