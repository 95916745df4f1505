import Foundation
import Logging
import ServiceLifecycle
import StormCore

#if canImport(Glibc)
import Glibc
#endif

/// Rolls the file a worker's output goes to (its supervisor opens `worker.log` for its stdout and stderr) by size
/// and count, as Storm's log4j does its worker logs: past `worker.log.roll.size.mb`, `worker.log` becomes
/// `worker.log.1` (the older ones move up one, the one past `worker.log.roll.files` is deleted) and a new
/// `worker.log` takes the descriptors' place. Rolled logs stay uncompressed, so the log viewer pages and searches
/// them as they are. Output that is not a regular file (a terminal, a pipe) is never rolled.
struct LogRoller {
    let descriptors: [Int32]
    let maxBytes: Int
    let keptFiles: Int

    init(descriptors: [Int32] = [1, 2], conf: StormConfig) {
        self.descriptors = descriptors
        maxBytes = max(1, conf.intOrDefault(ConfigKey.workerLogRollSizeMb)) * 1_048_576
        keptFiles = max(1, conf.intOrDefault(ConfigKey.workerLogRollFiles))
    }

    init(descriptors: [Int32], maxBytes: Int, keptFiles: Int) {
        self.descriptors = descriptors
        self.maxBytes = maxBytes
        self.keptFiles = keptFiles
    }

    /// The file the first descriptor writes to, when it is a regular file.
    var path: String? {
        guard let fd = descriptors.first else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // A file renamed or deleted under us: /proc says "(deleted)", and there is nothing to roll by that name.
        return path.hasSuffix(" (deleted)") ? nil : path
    }

    /// Rolls when the file has reached the size; returns the path it rolled, if it did.
    func rollIfDue() throws -> String? {
        guard let fd = descriptors.first, let path else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, Int(info.st_size) >= maxBytes else { return nil }
        unlink("\(path).\(keptFiles)")
        for i in stride(from: keptFiles - 1, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
        guard rename(path, "\(path).1") == 0 else { throw RollError(path: path, call: "rename") }
        let fresh = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fresh >= 0 else { throw RollError(path: path, call: "open") }
        defer { close(fresh) }
        for target in descriptors where dup2(fresh, target) < 0 { throw RollError(path: path, call: "dup2") }
        return path
    }

    struct RollError: Error, CustomStringConvertible {
        let path: String
        let call: String
        let code = errno
        var description: String { "cannot roll \(path): \(call): \(String(cString: strerror(code)))" }
    }
}

/// Looks at the worker's log every second and rolls it when it is due.
struct WorkerLogRolling: Service {
    let roller: LogRoller
    let logger: Logger

    func run() async throws {
        // Ending early would end the worker's service group: with nothing to roll, wait for the shutdown.
        guard roller.path != nil else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            var failed = false
            while !Task.isCancelled {
                do {
                    if let path = try roller.rollIfDue() {
                        logger.info("rolled \(path) at \(roller.maxBytes / 1_048_576) MiB; \(roller.keptFiles) kept")
                    }
                    failed = false
                } catch {
                    if !failed { logger.error("\(error)") }
                    failed = true
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
