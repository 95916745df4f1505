import ArgumentParser
import Foundation

/// The `storm` command line. A program that registers its own components (`ComponentRegistry.shared.register`)
/// and then calls `StormCLI.run()` is a `storm` that can run them.
public enum StormCLI {
    /// Parses the process' arguments and runs the command; exits the process with its status.
    public static func run() async {
        await Storm.main()
    }
}

struct Storm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "Run and control a Storm cluster.",
        discussion: "Global options (--config FILE, -c key=value) may come before or after the command.",
        subcommands: [
            NimbusCommand.self, SupervisorCommand.self, DevZooKeeperCommand.self, LocalCommand.self, SubmitCommand.self,
            JarCommand.self, ListCommand.self, KillCommand.self, ActivateCommand.self, DeactivateCommand.self,
            RebalanceCommand.self, GetErrorsCommand.self, VersionCommand.self, WorkerCommand.self, UICommand.self,
            LogViewerCommand.self, SetLogLevelCommand.self,
            DRPCCommand.self, DRPCClientCommand.self,
        ])

    /// Storm accepts `storm --config f -c k=v list`; ArgumentParser wants options after the subcommand, so the
    /// global ones are moved there.
    static func main() async {
        var args = Array(CommandLine.arguments.dropFirst())
        var globals: [String] = []
        while let first = args.first, first == "--config" || first == "-c" || first.hasPrefix("--config=") {
            globals.append(args.removeFirst())
            if !first.hasPrefix("--config="), let value = args.first {
                globals.append(value)
                args.removeFirst()
            }
        }
        if !globals.isEmpty, !args.isEmpty { args.insert(contentsOf: globals, at: 1) } else { args += globals }
        do {
            var command = try parseAsRoot(args)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandle.standardError.write(Data("storm: \(failure.message)\n".utf8))
            Foundation.exit(failure.code)
        } catch {
            exit(withError: error)
        }
    }
}

/// A failure the CLI reports as one line on stderr.
struct CLIFailure: Error {
    let message: String
    var code: Int32 = 1
}
