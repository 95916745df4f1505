import Flux
import Foundation
import ZIPFoundation

/// A topology archive's entries as Flux's classpath resources (`--resource`, and includes with `resource: true`).
struct ArchiveResources: FluxResources {
    let path: String
    private let archive: Archive

    init(_ path: String) throws {
        self.path = path
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw CLIFailure(message: "\(path): not a topology archive (a zip or jar file): \(error)")
        }
    }

    func read(_ name: String) throws(FluxTopology.Failure) -> (text: String, source: String) {
        let entryPath = String(name.drop { $0 == "/" })
        let source = "\(path)!/\(entryPath)"
        guard let entry = archive[entryPath], entry.type == .file else {
            throw FluxTopology.Failure(description: "\(path): no resource '\(name)' in the archive")
        }
        var data = Data()
        do {
            _ = try archive.extract(entry) { data.append($0) }
        } catch {
            throw FluxTopology.Failure(description: "\(source): cannot read: \(error)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw FluxTopology.Failure(description: "\(source): not UTF-8 text")
        }
        return (text, source)
    }
}
