import Foundation

/// A folder of logs a log viewer serves, and nothing outside it: a path that leaves the folder however it is
/// spelt (`..`, an absolute path, a link pointing out) names no file here.
public struct LogDirectory: Sendable {
    /// The folder's real path (links resolved), what every file's real path must be under.
    public let root: String

    public init(root: String) {
        self.root = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
    }

    /// The real path of the regular file `relative` names, or nil when it is missing, not a regular file, or not
    /// under the root. `components` bounds how many path elements it may have (a daemon log: one).
    public func file(_ relative: String, components: Int? = nil) -> String? {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.isEmpty, !relative.hasPrefix("/"), !relative.contains("\0"),
            parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }),
            components.map({ parts.count == $0 }) ?? true
        else { return nil }
        let real = URL(fileURLWithPath: root).appendingPathComponent(relative).resolvingSymlinksInPath().path
        guard real.hasPrefix(root + "/") else { return nil }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: real, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return nil
        }
        return real
    }

    /// Every file two levels down (`topology/port/file`, as Storm lists a worker's logs), sorted; only one
    /// topology's or one port's when given.
    public func workerFiles(topologyId: String? = nil, port: String? = nil) -> [String] {
        let manager = FileManager.default
        var found: [String] = []
        let topologies = topologyId.map { [$0] } ?? ((try? manager.contentsOfDirectory(atPath: root)) ?? [])
        for topology in topologies where isSafeName(topology) {
            let ports = port.map { [$0] } ?? ((try? manager.contentsOfDirectory(atPath: root + "/" + topology)) ?? [])
            for port in ports where isSafeName(port) {
                let folder = "\(topology)/\(port)"
                for name in (try? manager.contentsOfDirectory(atPath: root + "/" + folder)) ?? []
                where file("\(folder)/\(name)") != nil {
                    found.append("\(folder)/\(name)")
                }
            }
        }
        return found.sorted()
    }

    /// The regular files directly in the root (a node's daemon logs), sorted.
    public func topFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { file($0, components: 1) != nil }
            .sorted()
    }

    private func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }
}
