import Foundation
import Testing
import ZIPFoundation

@testable import Supervisor

@Suite struct TopologyFilesTests {
    func archive(_ entries: [String: String], at url: URL) throws {
        let zip = try Archive(url: url, accessMode: .create)
        for (path, text) in entries {
            let data = Data(text.utf8)
            try zip.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count)) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
    }

    @Test func onlyResourcesAreUnpackedAndNothingEscapes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = TopologyFiles(supervisorDir: dir)

        let good = dir.appendingPathComponent("good.jar")
        try archive(["resources/a.py": "a", "resources/sub/b.txt": "b", "other/c.txt": "c"], at: good)
        let target = dir.appendingPathComponent("good")
        try files.unpackResources(archive: good, into: target)
        #expect(try String(contentsOf: target.appendingPathComponent("resources/sub/b.txt"), encoding: .utf8) == "b")
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("resources/other").path))
        #expect(!FileManager.default.fileExists(atPath: target.appendingPathComponent("other").path))

        let evil = dir.appendingPathComponent("evil.jar")
        try archive(["resources/../../escaped.txt": "gotcha"], at: evil)
        #expect(throws: TopologyFiles.Failure.self) {
            try files.unpackResources(archive: evil, into: dir.appendingPathComponent("evil"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("escaped.txt").path))

        let notZip = dir.appendingPathComponent("not.jar")
        try Data("hello".utf8).write(to: notZip)
        #expect(throws: TopologyFiles.Failure.self) {
            try files.unpackResources(archive: notZip, into: dir.appendingPathComponent("nz"))
        }
    }
}
