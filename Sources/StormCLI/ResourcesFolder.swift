import Foundation

/// The folder of a topology file's shell components: the one given (which must exist), else `resources/` beside
/// the file when there is one.
func resourcesFolder(given: String?, besideFile file: String) throws -> String? {
    if let given {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: given, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIFailure(message: "\(given): no such resources folder")
        }
        return given
    }
    let beside = URL(fileURLWithPath: file).deletingLastPathComponent().appendingPathComponent("resources").path
    return FileManager.default.fileExists(atPath: beside) ? beside : nil
}
