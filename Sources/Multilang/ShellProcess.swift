internal import CDescriptors
import Foundation
import Locking
import Logging
import Synchronization
import Tuples

#if canImport(Glibc)
import Glibc
#endif

public struct ShellError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A multilang subprocess: `command` run in `directory`, JSON messages each followed by a line `end` on its stdin
/// and stdout. A reader thread parses what it says into a queue; another logs its stderr and keeps the last
/// lines for error reports. Writing blocks (the child reads at its pace: that is the backpressure).
final class ShellProcess: Sendable {
    let command: [String]
    let directory: String
    let logger: Logger
    /// Set once the child is spawned.
    private let child = Atomic<pid_t>(0)
    /// The child's stdin, until `stop` closes it (-1 then).
    private let stdin = Atomic<Int32>(-1)
    var pid: pid_t { child.load(ordering: .acquiring) }
    private let messages = Locked<[Result<Value, ShellError>]>([])
    private let arrived = DispatchSemaphore(value: 0)
    private let stderrTail = Locked<[String]>([])
    /// Called from the reader thread whenever a message arrives (the executor that owns the component wakes).
    let onMessage: @Sendable () -> Void
    private let exited = Locked<String?>(nil)
    /// When the oldest request still waiting for the child's answer was sent (nil: none waiting).
    private let awaitingSince = Locked<Date?>(nil)
    private let killReason = Locked<String?>(nil)
    let timeout: TimeInterval

    /// - Parameter timeout: how long the child may leave a request unanswered (topology.subprocess.timeout.secs)
    ///   before it is killed as hung.
    init(
        command: [String], directory: String, timeout: TimeInterval, logger: Logger,
        onMessage: @escaping @Sendable () -> Void = {}
    ) {
        self.timeout = timeout
        self.command = command
        self.directory = directory
        self.logger = logger
        self.onMessage = onMessage
    }

    deinit {
        let fd = stdin.load(ordering: .acquiring)
        if fd >= 0 { close(fd) }
    }

    func start() throws {
        guard !command.isEmpty else { throw ShellError("empty command") }
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        var errors: [Int32] = [0, 0]
        // Close-on-exec from the start: another shell component started meanwhile on another thread must not
        // inherit these ends (it would keep this child's stdin open after this one closed it).
        guard storm_pipe_cloexec(&input) == 0, storm_pipe_cloexec(&output) == 0, storm_pipe_cloexec(&errors) == 0 else {
            let reason = String(cString: strerror(errno))
            for fd in input + output + errors where fd > 0 { close(fd) }
            throw ShellError("cannot make pipes: \(reason)")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errors[1], 2)
        // Nothing else of the worker's: libraries (the ZooKeeper C client) open descriptors without close-on-exec.
        storm_spawn_close_from(&actions, 3)
        // The child runs in the topology's resources folder: a shell wrapper changes there, then execs the
        // command (posix_spawn has no portable chdir), so `python3 splitsentence.py` finds its script.
        let script = "cd \"$0\" && exec \"$@\""
        let argv: [UnsafeMutablePointer<CChar>?] =
            (["/bin/sh", "-c", script, directory] + command).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/bin/sh", &actions, nil, argv, environ)
        close(input[0])
        close(output[1])
        close(errors[1])
        guard rc == 0 else {
            close(input[1])
            close(output[0])
            close(errors[0])
            throw ShellError("cannot start \(command.joined(separator: " ")): \(String(cString: strerror(rc)))")
        }
        self.child.store(child, ordering: .releasing)
        stdin.store(input[1], ordering: .releasing)
        let stdoutFd = output[0]
        let stderrFd = errors[0]
        let reader = Thread { [self] in readMessages(stdoutFd) }
        reader.name = "shell-stdout"
        reader.start()
        let errorReader = Thread { [self] in readStderr(stderrFd) }
        errorReader.name = "shell-stderr"
        errorReader.start()
        let watchdog = Thread { [self] in watch() }
        watchdog.name = "shell-watchdog"
        watchdog.start()
    }

    /// Notes that the message just sent wants an answer: the child has `timeout` seconds to say anything.
    func expectReply() {
        awaitingSince.withLock { if $0 == nil { $0 = Date() } }
    }

    /// Kills a child that leaves a request unanswered too long: a hung child must not hang its executor (whose
    /// writes to a full pipe would block forever).
    private func watch() {
        while !hasExited {
            usleep(200_000)
            guard let since = awaitingSince.withLock({ $0 }), Date().timeIntervalSince(since) > timeout else {
                continue
            }
            killReason.withLock {
                $0 = "said nothing for \(Int(timeout)) s (topology.subprocess.timeout.secs) and was killed"
            }
            kill(pid, SIGKILL)
            return
        }
    }

    // MARK: writing

    /// Writes one message (a JSON text) and its `end` line.
    func send(_ json: [UInt8]) throws(ShellError) {
        var bytes = json
        bytes.append(contentsOf: Array("\nend\n".utf8))
        try sendRaw(bytes)
    }

    /// Writes messages already followed by their `end` lines.
    func sendRaw(_ bytes: [UInt8]) throws(ShellError) {
        let failure: Int32 = bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(stdin.load(ordering: .relaxed), raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        if failure != 0 {
            // A broken pipe is the child ending: its exit status (seen by the reader once its stdout closes) says
            // why, where "Broken pipe" says nothing.
            if failure == EPIPE, let how = exitDescription(waitingUpTo: 2) {
                throw ShellError("the subprocess \(how)\(tailDescription)")
            }
            throw ShellError("cannot write to the subprocess: \(String(cString: strerror(failure)))\(tailDescription)")
        }
    }

    /// How the child ended, once the reader has reaped it, waiting up to `seconds` for that.
    private func exitDescription(waitingUpTo seconds: TimeInterval) -> String? {
        let deadline = Date() + seconds
        while true {
            if let how = exited.withLock({ $0 }) { return how }
            if Date() >= deadline { return nil }
            usleep(10_000)
        }
    }

    func send(_ value: Value) throws(ShellError) {
        var out: [UInt8] = []
        MultilangJSON.write(value, into: &out)
        try send(out)
    }

    // MARK: reading

    /// Every message that has arrived, in order (an error when the child said something that is not JSON, or
    /// ended).
    func takeMessages() -> [Result<Value, ShellError>] {
        messages.withLock { m in
            defer { m = [] }
            return m
        }
    }

    /// The next message, waiting up to `timeout` seconds.
    func nextMessage(timeout: TimeInterval) throws(ShellError) -> Value {
        let deadline = DispatchTime.now() + timeout
        while true {
            let first = messages.withLock { m -> Result<Value, ShellError>? in m.isEmpty ? nil : m.removeFirst() }
            if let first { return try first.get() }
            if arrived.wait(timeout: deadline) == .timedOut {
                throw ShellError(
                    "the subprocess said nothing for \(Int(timeout)) s (topology.subprocess.timeout.secs)\(tailDescription)"
                )
            }
        }
    }

    /// Hands over what one read brought: one lock and one wake-up for all of it, not one per message.
    private func push(_ batch: [Result<Value, ShellError>]) {
        guard !batch.isEmpty else { return }
        awaitingSince.withLock { $0 = nil }
        messages.withLock { $0.append(contentsOf: batch) }
        arrived.signal()
        onMessage()
    }

    private func push(_ message: Result<Value, ShellError>) { push([message]) }

    private func readMessages(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        var pending: [UInt8] = []
        var messageStart = 0
        var lineStart = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending.append(contentsOf: buffer[0..<n])
            var parsed: [Result<Value, ShellError>] = []
            // Messages end with a line that is exactly "end".
            var i = max(lineStart, pending.count - n)
            while i < pending.count {
                if pending[i] == 10 {
                    let line = pending[lineStart..<i]
                    if line.count == 3 && line.elementsEqual("end".utf8) {
                        let body = Array(pending[messageStart..<lineStart])
                        do {
                            parsed.append(.success(try MultilangJSON.parse(body)))
                        } catch {
                            parsed.append(
                                .failure(ShellError("the subprocess sent malformed JSON (\(error))\(tailDescription)")))
                        }
                        messageStart = i + 1
                    }
                    lineStart = i + 1
                }
                i += 1
            }
            push(parsed)
            if messageStart > 0 {
                pending.removeFirst(messageStart)
                lineStart -= messageStart
                messageStart = 0
            }
        }
        close(fd)
        var status: Int32 = 0
        var how: String
        if waitpid(pid, &status, 0) == pid {
            how =
                status & 0x7f == 0
                ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
        } else {
            how = "closed its output"
        }
        if let reason = killReason.withLock({ $0 }) { how = reason }
        // Give the stderr reader a moment to collect the last words.
        usleep(50_000)
        exited.withLock { $0 = how }
        push(.failure(ShellError("the subprocess \(how)\(tailDescription)")))
    }

    private func readStderr(_ fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: 8192)
        var partial: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            partial.append(contentsOf: buffer[0..<n])
            while let newline = partial.firstIndex(of: 10) {
                let line = String(decoding: partial[..<newline], as: UTF8.self)
                partial.removeFirst(newline + 1)
                logger.notice("stderr: \(line)")
                stderrTail.withLock {
                    $0.append(line)
                    if $0.count > 20 { $0.removeFirst($0.count - 20) }
                }
            }
        }
        close(fd)
    }

    /// The last lines the child wrote to stderr, for error reports.
    var tailDescription: String {
        let lines = stderrTail.withLock { $0 }
        return lines.isEmpty ? "" : "; its last stderr lines: " + lines.suffix(10).joined(separator: " | ")
    }

    var hasExited: Bool { exited.withLock { $0 != nil } }

    /// Ends the child: closing its stdin tells a well-behaved adapter to exit; SIGKILL after `grace` otherwise.
    func stop(grace: TimeInterval = 1) {
        guard pid > 0 else { return }
        let fd = stdin.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
        let deadline = Date().addingTimeInterval(grace)
        while !hasExited && Date() < deadline { usleep(10_000) }
        if !hasExited { kill(pid, SIGKILL) }
    }
}
