import Flux
import Foundation
import StormCore
import Supervisor

/// Storm's Flux main class run from a topology archive: what `storm jar ARCHIVE org.apache.storm.flux.Flux ...`
/// and `storm local ARCHIVE org.apache.storm.flux.Flux ...` do. There is no JVM here, so Flux is the only main
/// class an archive can name; the archive's `resources/` go with the topology.
struct FluxMain {
    static let className = "org.apache.storm.flux.Flux"

    /// The command that runs it, which decides where the topology goes when Flux's own flags do not.
    enum Launcher {
        /// `storm jar`: submits to the cluster (Storm 2), or runs here with `--local` (Storm 1's Flux).
        case jar
        /// `storm local`: runs here for `--local-ttl` seconds (Storm 2).
        case local
    }

    let launcher: Launcher
    let form: ArchiveForm

    func run() async throws {
        guard form.mainClass == Self.className else {
            throw CLIFailure(
                message:
                    "\(form.mainClass) is not something this cluster can run: archives run Flux topologies only (\(Self.className)), components are Swift or shell programs"
            )
        }
        let arguments: FluxArguments
        do {
            switch try FluxArguments.parse(form.mainArguments) {
            case .help:
                print(FluxArguments.usage.joined(separator: "\n"))
                return
            case .run(let parsed): arguments = parsed
            }
        } catch {
            throw CLIFailure(message: error.description)
        }
        if launcher == .jar && arguments.local && arguments.remote {
            throw CLIFailure(message: "Flux's --local and --remote ask for opposite things: give one")
        }
        guard FileManager.default.fileExists(atPath: form.archive) else {
            throw CLIFailure(message: "\(form.archive): no such archive")
        }
        let conf = try form.launcher.global.load()
        let resources = try ArchiveResources(form.archive)
        print(
            arguments.resource
                ? "Parsing classpath resource: \(arguments.file)"
                : "Parsing file: \(URL(fileURLWithPath: arguments.file).standardizedFileURL.path)")
        let flux: FluxTopology
        do {
            flux =
                arguments.resource
                ? try FluxTopology.load(resource: arguments.file, filter: arguments.filter, from: resources)
                : try FluxTopology.load(file: arguments.file, filter: arguments.filter, resources: resources)
        } catch {
            throw CLIFailure(message: error.description)
        }
        let source = arguments.resource ? "\(form.archive)!/\(arguments.file.drop { $0 == "/" })" : arguments.file
        if !arguments.noDetail { print(flux.outline.details(name: flux.name).joined(separator: "\n")) }
        if arguments.dryRun {
            do {
                try TopologyValidator.validateConf(conf.merging(flux.conf))
            } catch {
                throw CLIFailure(message: "\(source): \(error)")
            }
            print("Dry run: topology \(flux.name) is valid; not run or submitted")
            return
        }
        let scratch = try Self.unpackResources(form.archive)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let folder = scratch.appendingPathComponent("resources").path
        if launcher == .local || arguments.local {
            try await LocalRun(
                flux: flux, source: source, conf: conf, resources: folder, duration: localSeconds(arguments),
                active: !arguments.inactive
            ).run()
        } else {
            let archive: [UInt8]
            do {
                archive = try SubmitCommand.pack(folder)
            } catch {
                throw CLIFailure(message: "cannot pack the resources of \(form.archive): \(error)")
            }
            let id = try SubmitCommand.submit(flux, archive: archive, conf: conf, inactive: arguments.inactive)
            print(
                "Submitted topology \(flux.name) as \(id) with the resources of \(form.archive)\(arguments.inactive ? " (inactive)" : "")"
            )
        }
    }

    /// How long a local run lasts: the launcher's `--local-ttl`, else Flux's `--sleep`, else Storm's default
    /// (20 s for `storm local`, Storm 2's; 60 s for `storm jar ... --local`, Storm 1's Flux).
    func localSeconds(_ arguments: FluxArguments) -> Double {
        form.launcher.localTTL ?? arguments.sleepMillis.map { Double($0) / 1000 } ?? (launcher == .local ? 20 : 60)
    }

    /// The archive's resources/ unpacked into a scratch folder's `resources/` (empty when it has none); the
    /// caller removes the scratch folder.
    static func unpackResources(_ archive: String) throws -> URL {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "storm-jar-\(UUID().uuidString)", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
            try ResourcesArchive.unpack(archive: URL(fileURLWithPath: archive), into: scratch)
        } catch {
            try? FileManager.default.removeItem(at: scratch)
            throw CLIFailure(message: "\(archive): \(error)")
        }
        return scratch
    }
}
