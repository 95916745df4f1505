import Foundation
import StormCore
import StormThrift

/// A topology's files on nimbus' disk: `<storm.local.dir>/nimbus/stormdist/<id>/` holding the uploaded archive
/// (stormjar.jar), the topology as submitted (stormcode.ser, Thrift binary) and its conf (stormconf.ser, JSON).
struct TopologyCodeStore: Sendable {
    static let archiveFile = "stormjar.jar"
    static let codeFile = "stormcode.ser"
    static let confFile = "stormconf.ser"
    static let files = [archiveFile, codeFile, confFile]

    let root: URL

    init(localDir: URL) throws {
        root = localDir.appendingPathComponent("nimbus/stormdist", isDirectory: true)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func directory(_ id: String) -> URL { root.appendingPathComponent(id, isDirectory: true) }

    /// Writes all three files into a scratch folder and renames it into place, so a topology's folder is either
    /// complete or absent, whatever fails (a full disk included).
    func save(id: String, archive: String, topology: StormTopology, conf: [String: ConfigValue]) throws {
        let fm = FileManager.default
        let scratch = root.appendingPathComponent(".incoming-\(id)", isDirectory: true)
        try? fm.removeItem(at: scratch)
        do {
            try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
            try fm.copyItem(atPath: archive, toPath: scratch.appendingPathComponent(Self.archiveFile).path)
            try Data(ThriftSerialization.serialize(topology)).write(to: scratch.appendingPathComponent(Self.codeFile))
            try Data(JSON.encode(.map(conf)).utf8).write(to: scratch.appendingPathComponent(Self.confFile))
            try fm.moveItem(at: scratch, to: directory(id))
        } catch {
            try? fm.removeItem(at: scratch)
            throw error
        }
    }

    /// Stores files copied from another nimbus, all or none, like save().
    func saveFiles(id: String, _ files: [String: [UInt8]]) throws {
        let fm = FileManager.default
        let scratch = root.appendingPathComponent(".incoming-\(id)", isDirectory: true)
        try? fm.removeItem(at: scratch)
        do {
            try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
            for name in Self.files {
                try Data(files[name] ?? []).write(to: scratch.appendingPathComponent(name))
            }
            try fm.moveItem(at: scratch, to: directory(id))
        } catch {
            try? fm.removeItem(at: scratch)
            throw error
        }
    }

    func has(_ id: String) -> Bool {
        FileManager.default.fileExists(atPath: directory(id).appendingPathComponent(Self.confFile).path)
    }

    func topology(_ id: String) throws -> StormTopology {
        let bytes = try Data(contentsOf: directory(id).appendingPathComponent(Self.codeFile))
        return try ThriftSerialization.deserialize(StormTopology.self, from: [UInt8](bytes))
    }

    func conf(_ id: String) throws -> [String: ConfigValue] {
        let text = try String(contentsOf: directory(id).appendingPathComponent(Self.confFile), encoding: .utf8)
        return try JSON.decodeObject(text)
    }

    func updateConf(_ id: String, _ conf: [String: ConfigValue]) throws {
        try Data(JSON.encode(.map(conf)).utf8).write(
            to: directory(id).appendingPathComponent(Self.confFile), options: .atomic)
    }

    /// Ids of the topologies with files here (scratch folders of submits in progress excluded).
    func storedIds() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { !$0.hasPrefix(".") }
    }

    func remove(_ id: String) {
        try? FileManager.default.removeItem(at: directory(id))
    }

    /// The file a download request names: a topology id (its archive), `<id>/<file>`, or a path to one of a
    /// topology's three files. Anything that resolves outside stormdist is refused.
    func resolveDownload(_ request: String) -> String? {
        let url: URL
        let parts = request.split(separator: "/", omittingEmptySubsequences: false)
        if !request.contains("/") {
            url = directory(request).appendingPathComponent(Self.archiveFile)
        } else if parts.count == 2, !parts[0].isEmpty, !parts[0].hasPrefix(".") {
            url = directory(String(parts[0])).appendingPathComponent(String(parts[1]))
        } else {
            url = URL(fileURLWithPath: request)
        }
        let path = url.standardizedFileURL.path
        let topologyDir = url.deletingLastPathComponent().standardizedFileURL
        guard topologyDir.deletingLastPathComponent().path == root.standardizedFileURL.path,
            Self.files.contains(url.lastPathComponent), FileManager.default.fileExists(atPath: path)
        else { return nil }
        return path
    }
}
