import ArgumentParser
import Flux
import Foundation
import StormCore
import StormThrift
import ZIPFoundation

/// `storm submit FILE.yaml`: packs a resources folder into the topology's archive, uploads it to the leader
/// nimbus and submits the Flux topology with it.
struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit a topology (a Flux YAML file) and its resources folder to the cluster."
    )
    @Argument(help: "The topology, in Storm's Flux YAML format.") var file: String
    @Option(help: "The folder shell components run in (default: resources/ beside the file, if there is one).")
    var resources: String?
    @Flag(help: "Submit it deactivated.") var inactive = false
    @Option(help: "A properties file whose values replace ${key} in the topology file (Flux's --filter).")
    var filter: String?
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let conf = try global.load()
        let flux: FluxTopology
        do {
            flux = try FluxTopology.load(file: file, filter: filter)
        } catch {
            throw CLIFailure(message: error.description)
        }
        let folder = try resourcesFolder(given: resources, besideFile: file)
        let archive: [UInt8]
        do {
            archive = try Self.pack(folder)
        } catch {
            throw CLIFailure(message: "cannot pack \(folder ?? "the archive"): \(error)")
        }
        let id = try Self.submit(flux, archive: archive, conf: conf, inactive: inactive)
        print(
            "Submitted topology \(flux.name) as \(id)\(folder.map { " with the resources of \($0)" } ?? "")\(inactive ? " (inactive)" : "")"
        )
    }

    /// Uploads `archive` to the leader nimbus and submits the topology with it; answers the topology's id.
    static func submit(_ flux: FluxTopology, archive: [UInt8], conf: StormConfig, inactive: Bool) throws -> String {
        try withNimbus(conf) { nimbus -> String in
            let location = try nimbus.beginFileUpload()
            var offset = 0
            while offset < archive.count {
                let end = min(offset + (1 << 20), archive.count)
                try nimbus.uploadChunk(location: location, chunk: Array(archive[offset..<end]))
                offset = end
            }
            try nimbus.finishFileUpload(location: location)
            try nimbus.submitTopologyWithOpts(
                name: flux.name, uploadedJarLocation: location, jsonConf: try JSON.encode(.map(flux.conf)),
                topology: flux.topology,
                options: SubmitOptions(initialStatus: inactive ? .inactive : .active))
            return try nimbus.getTopologySummaryByName(name: flux.name).id
        }
    }

    /// A zip archive holding `folder`'s files under `resources/` (an empty archive without one).
    static func pack(_ folder: String?) throws -> [UInt8] {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "storm-submit-\(UUID().uuidString).zip")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let archive = try Archive(url: scratch, accessMode: .create)
        if let folder {
            let root = URL(fileURLWithPath: folder).standardizedFileURL
            guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])
            else {
                throw CLIFailure(message: "cannot read \(folder)")
            }
            for case let url as URL in walker
            where (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                let relative = String(url.standardizedFileURL.path.dropFirst(root.path.count + 1))
                try archive.addEntry(with: "resources/" + relative, fileURL: url)
            }
        }
        return [UInt8](try Data(contentsOf: scratch))
    }
}
