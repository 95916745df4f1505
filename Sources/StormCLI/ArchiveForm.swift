import ArgumentParser
import Foundation

/// A command line naming an archive and a main class, as Storm's `storm jar` and `storm local` take it:
/// `ARCHIVE MAIN-CLASS ARGUMENTS...`, with the launcher's own options (`--config`, `-c`, `--local-ttl`) anywhere,
/// as Storm's script takes them; everything else is the main class' arguments, in their order.
struct ArchiveForm {
    var archive: String
    var mainClass: String
    var mainArguments: [String]
    var launcher: LauncherOptions

    /// The options the launcher takes from anywhere on the line.
    struct LauncherOptions: ParsableArguments {
        @OptionGroup var global: GlobalOptions
        @Option(name: .customLong("local-ttl"), help: "Seconds a local run lasts.") var localTTL: Double?
    }

    static let launcherValueOptions: Set<String> = ["--config", "-c", "--local-ttl"]

    /// Reads `arguments` as an archive form, or answers nil when it has no first argument or that is not an
    /// archive by `isArchive` (the first argument that is neither an option nor the value of one of
    /// `skippingValuesOf` or the launcher's options).
    static func parse(
        _ arguments: [String], skippingValuesOf valueOptions: Set<String> = [],
        when isArchive: (String) -> Bool = { _ in true }
    ) throws -> ArchiveForm? {
        guard let first = firstPositional(arguments, skippingValuesOf: valueOptions.union(launcherValueOptions)),
            isArchive(first)
        else {
            return nil
        }
        var launcherTokens: [String] = []
        var positional: [String] = []
        var rest: [String] = []
        var tokens = arguments[...]
        while let token = tokens.popFirst() {
            if token == "--" {
                rest += [token] + tokens
                break
            }
            let name = token.split(separator: "=", maxSplits: 1).first.map(String.init) ?? token
            if launcherValueOptions.contains(name) {
                launcherTokens.append(token)
                if name == token, let value = tokens.popFirst() { launcherTokens.append(value) }
            } else if positional.count < 2 && !token.hasPrefix("-") {
                positional.append(token)
            } else {
                rest.append(token)
            }
        }
        guard positional.count == 2 else {
            throw CLIFailure(
                message:
                    "\(positional[0]) needs a main class after it: ARCHIVE org.apache.storm.flux.Flux [options] FILE.yaml",
                code: ExitCode.validationFailure.rawValue)
        }
        let launcher: LauncherOptions
        do {
            launcher = try LauncherOptions.parse(launcherTokens)
        } catch {
            throw CLIFailure(message: LauncherOptions.message(for: error), code: ExitCode.validationFailure.rawValue)
        }
        return ArchiveForm(archive: positional[0], mainClass: positional[1], mainArguments: rest, launcher: launcher)
    }

    static func firstPositional(_ arguments: [String], skippingValuesOf valueOptions: Set<String>) -> String? {
        var tokens = arguments[...]
        while let token = tokens.popFirst() {
            if token == "--" { return tokens.first }
            if valueOptions.contains(token) {
                tokens = tokens.dropFirst()
            } else if !token.hasPrefix("-") {
                return token
            }
        }
        return nil
    }

    /// A `.jar` or `.zip` (which need not exist yet: its absence is then the error), or any zip file.
    static func looksLikeArchive(_ path: String) -> Bool {
        let lower = path.lowercased()
        if lower.hasSuffix(".jar") || lower.hasSuffix(".zip") { return true }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 2)) == Data("PK".utf8)
    }
}
