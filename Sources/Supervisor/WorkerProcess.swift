internal import CDescriptors
import Foundation
import StormCore

#if canImport(Glibc)
import Glibc
#endif

/// Starting and checking worker processes by pid.
enum WorkerProcess {
    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    /// This program's own executable: workers run the same binary as their supervisor, so they have the same
    /// components (a program that registers its own runs them in its workers too).
    static func currentExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `executable arguments` with stdout and stderr appended to `logFile` and stdin from /dev/null, this
    /// process' environment (with `environment` over it) and a worker's allocator settings (`WorkerMallocTuning`), and no other descriptor of
    /// this process: libraries (the ZooKeeper C client, libthrift) open theirs without close-on-exec, and a worker
    /// holding its supervisor's ZooKeeper connection or listeners would keep them open past the supervisor's own
    /// life.
    static func spawn(
        executable: String, arguments: [String], logFile: String, environment: [String: String] = [:]
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        storm_spawn_close_from(&actions, 3)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        let env: [UnsafeMutablePointer<CChar>?] =
            WorkerMallocTuning.environment(ProcessInfo.processInfo.environment.merging(environment) { $1 }).map {
                strdup("\($0)=\($1)")
            } + [nil]
        defer { for p in env { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, env)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// Whether `pid` is a live process whose command line contains `marker` (so a reused pid is not mistaken
    /// for the worker).
    static func isRunning(_ pid: pid_t, marker: String) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // A zombie has exited: field 3, after the parenthesized name.
        if let close = stat.lastIndex(of: ")"),
            stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
        {
            return false
        }
        guard let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        return String(decoding: cmdline.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(marker)
    }

    /// Reaps `pid` if it is a child that has exited; returns its exit description, nil while it runs.
    static func reap(_ pid: pid_t) -> String? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        guard rc == pid else { return nil }
        let signal = status & 0x7f
        return signal == 0 ? "exit status \((status >> 8) & 0xff)" : "signal \(signal)"
    }
}
