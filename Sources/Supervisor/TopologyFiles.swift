import Foundation
import StormCore
import StormThrift
import ZIPFoundation

/// A supervisor's copy of the topologies it runs: `storm.local.dir/supervisor/stormdist/<id>/` with the archive,
/// code and conf from nimbus, and the archive's `resources/` unpacked (the working directory of shell components).
struct TopologyFiles: Sendable {
    static let files = ["stormjar.jar", "stormcode.ser", "stormconf.ser"]
    let root: URL

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(supervisorDir: URL) {
        root = supervisorDir.appendingPathComponent("stormdist", isDirectory: true)
    }

    func directory(_ id: String) -> URL { root.appendingPathComponent(id, isDirectory: true) }

    func has(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: directory(id).appendingPathComponent("stormconf.ser").path)
    }

    var downloaded: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }
    }

    /// Downloads a topology's files from nimbus and unpacks its resources, all or nothing.
    func download(_ id: String, from nimbus: NimbusClient) throws {
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        let scratch = root.appendingPathComponent(".incoming-\(id)", isDirectory: true)
        try? fm.removeItem(at: scratch)
        do {
            try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
            for file in Self.files {
                let bytes = try nimbus.downloadFile("\(id)/\(file)")
                try Data(bytes).write(to: scratch.appendingPathComponent(file))
            }
            try unpackResources(archive: scratch.appendingPathComponent("stormjar.jar"), into: scratch)
            try? fm.removeItem(at: directory(id))
            try fm.moveItem(at: scratch, to: directory(id))
        } catch {
            try? fm.removeItem(at: scratch)
            throw error
        }
    }

    /// Sends this supervisor's copy of a topology's archive to a nimbus that lacks it, with Storm's blob API
    /// (`<id>-stormjar.jar`).
    func upload(_ id: String, to nimbus: NimbusClient) throws {
        let archive = try Data(contentsOf: directory(id).appendingPathComponent("stormjar.jar"))
        let session = try nimbus.beginUpdateBlob(key: "\(id)-stormjar.jar")
        var offset = 0
        repeat {
            let end = min(offset + 256 * 1024, archive.count)
            try nimbus.uploadBlobChunk(session: session, chunk: [UInt8](archive[offset..<end]))
            offset = end
        } while offset < archive.count
        try nimbus.finishBlobUpload(session: session)
    }

    func unpackResources(archive: URL, into dir: URL) throws {
        try ResourcesArchive.unpack(archive: archive, into: dir)
    }

    func remove(_ id: String) {
        try? FileManager.default.removeItem(at: directory(id))
    }
}

/// A topology archive's `resources/` folder: what shell components run in.
public enum ResourcesArchive {
    /// Extracts the archive's `resources/` entries into `dir/resources/`; any entry that would land outside
    /// `resources/` is refused.
    public static func unpack(archive: URL, into dir: URL) throws {
        typealias Failure = TopologyFiles.Failure
        let resources = dir.appendingPathComponent("resources", isDirectory: true)
        try FileManager.default.createDirectory(at: resources, withIntermediateDirectories: true)
        let size = (try? FileManager.default.attributesOfItem(atPath: archive.path)[.size] as? Int) ?? 0
        guard size > 0 else { return }
        let zip: Archive
        do {
            zip = try Archive(url: archive, accessMode: .read)
        } catch {
            throw Failure(description: "the topology archive is not a zip file: \(error)")
        }
        let base = resources.standardizedFileURL.path + "/"
        for entry in zip where entry.path.hasPrefix("resources/") && entry.path != "resources/" {
            let relative = String(entry.path.dropFirst("resources/".count))
            let target = resources.appendingPathComponent(relative).standardizedFileURL
            guard target.path.hasPrefix(base) else {
                throw Failure(description: "archive entry '\(entry.path)' points outside resources/")
            }
            if entry.type == .directory {
                try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            } else if entry.type == .file {
                try FileManager.default.createDirectory(
                    at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                _ = try zip.extract(entry, to: target)
            }
        }
    }
}
