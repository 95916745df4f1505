import ArgumentParser
import Foundation
import Supervisor

/// `storm jar ARCHIVE org.apache.storm.flux.Flux --local|--remote FILE.yaml`: Storm's way of running a Flux
/// topology, kept for the scripts people already have. The archive's `resources/` go with the topology; there is
/// no JVM here, so Flux is the only main class an archive can name.
struct JarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jar", abstract: "Run a Flux topology Storm's way: storm jar ARCHIVE org.apache.storm.flux.Flux --local|--remote FILE.yaml")
    @Argument(help: "The topology archive (its resources/ folder goes with the topology).") var archive: String
    @Argument(help: "org.apache.storm.flux.Flux") var mainClass: String
    @Flag(help: "Run in this process.") var local = false
    @Flag(help: "Submit to the cluster.") var remote = false
    @Option(help: "Flux's --filter: a properties file for ${key} substitution.") var filter: String?
    @Option(name: .customLong("local-ttl"), help: "Seconds a --local run lasts (Flux's default: 60).") var localTTL: Double = 60
    @Argument(help: "The Flux YAML file.") var file: String
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        guard mainClass == "org.apache.storm.flux.Flux" else {
            throw ValidationError("\(mainClass) is not something this cluster can run: archives run Flux topologies only (org.apache.storm.flux.Flux), components are Swift or shell programs")
        }
        guard local != remote else { throw ValidationError("say --local or --remote") }
    }

    func run() async throws {
        guard FileManager.default.fileExists(atPath: archive) else { throw CLIFailure(message: "\(archive): no such archive") }
        let resources = try Self.unpackResources(archive)
        if local {
            let command = try LocalCommand.parse([file, "--duration", String(localTTL), "--resources", resources] + filterArgs + globalArgs)
            try await command.run()
        } else {
            let command = try SubmitCommand.parse([file, "--resources", resources] + filterArgs + globalArgs)
            try command.run()
        }
    }

    var filterArgs: [String] { filter.map { ["--filter", $0] } ?? [] }
    var globalArgs: [String] {
        (global.configFile.map { ["--config", $0] } ?? []) + global.overrides.flatMap { ["-c", $0] }
    }

    /// The archive's resources/ unpacked into a scratch folder (empty when it has none).
    static func unpackResources(_ archive: String) throws -> String {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("storm-jar-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        do {
            try ResourcesArchive.unpack(archive: URL(fileURLWithPath: archive), into: scratch)
        } catch {
            throw CLIFailure(message: "\(archive): \(error)")
        }
        return scratch.appendingPathComponent("resources").path
    }
}
