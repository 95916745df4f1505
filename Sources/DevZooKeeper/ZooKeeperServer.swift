import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Debian's ZooKeeper server (`apt-get install zookeeper`) as a child process: for `storm dev-zookeeper` and for
/// tests that need a real ZooKeeper. Standalone, on loopback unless told otherwise, with its data in `dataDir`.
public final class ZooKeeperServer: Sendable {
    public static let jar = "/usr/share/java/zookeeper.jar"

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let port: Int
    public let dataDir: URL
    private let process: Process

    /// The `java` command line that runs the server in the foreground.
    public static func command(configFile: URL) throws -> [String] {
        guard FileManager.default.fileExists(atPath: jar) else {
            throw Failure(description: "ZooKeeper's server is not installed (no \(jar)): apt-get install zookeeper")
        }
        guard let java = findExecutable("java") else {
            throw Failure(description: "java is not installed; ZooKeeper's server needs it: apt-get install zookeeper")
        }
        // A small heap, the serial collector and the C1 compiler: ready in well under a second, about 60 MB.
        return [
            java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", jar,
            "org.apache.zookeeper.server.ZooKeeperServerMain", configFile.path,
        ]
    }

    /// Writes a zoo.cfg for a standalone server and returns its path.
    public static func writeConfig(
        port: Int, dataDir: URL, bindAddress: String? = "127.0.0.1", tickTimeMillis: Int = 2000
    ) throws -> URL {
        try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
        var lines = [
            "tickTime=\(tickTimeMillis)", "minSessionTimeout=\(2 * tickTimeMillis)", "dataDir=\(dataDir.path)",
            "clientPort=\(port)", "admin.enableServer=false", "4lw.commands.whitelist=ruok,srvr,stat,mntr",
            "maxClientCnxns=0",
        ]
        if let bindAddress { lines.append("clientPortAddress=\(bindAddress)") }
        let file = dataDir.appendingPathComponent("zoo.cfg")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Starts a server for tests and waits until it serves. A watchdog ends it if this process dies (or is a
    /// zombie) first, so a killed test run leaves no server behind.
    public static func start(port: Int, dataDir: URL, tickTimeMillis: Int = 500) throws -> ZooKeeperServer {
        let config = try writeConfig(port: port, dataDir: dataDir, tickTimeMillis: tickTimeMillis)
        let java = try command(configFile: config).map { "'\($0)'" }.joined(separator: " ")
        let pidFile = dataDir.appendingPathComponent("zookeeper.pid").path
        let log = dataDir.appendingPathComponent("zookeeper.log").path
        let owner = getpid()
        let script = """
            \(java) > '\(log)' 2>&1 &
            zk=$!
            echo $zk > '\(pidFile)'
            trap 'kill $zk 2>/dev/null; wait $zk; exit 0' TERM INT
            alive() { [ -r /proc/$1/stat ] && [ "$(sed 's/.*) //' /proc/$1/stat | cut -c1)" != Z ]; }
            while alive \(owner) && kill -0 $zk 2>/dev/null; do sleep 0.5; done
            kill $zk 2>/dev/null
            wait $zk
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        // Its own stdio: a test runner waits for EOF on the pipes its children inherit.
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = ZooKeeperServer(port: port, dataDir: dataDir, process: process)
        let deadline = Date().addingTimeInterval(30)
        while !isServing(port: port) {
            if !process.isRunning || Date() > deadline {
                server.stop()
                let tail =
                    (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(3)
                    .joined(separator: " | ") ?? ""
                throw Failure(description: "ZooKeeper did not start on port \(port): \(tail)")
            }
            usleep(50_000)
        }
        return server
    }

    private init(port: Int, dataDir: URL, process: Process) {
        self.port = port
        self.dataDir = dataDir
        self.process = process
    }

    public var connectString: String { "127.0.0.1:\(port)" }

    /// The server's own process id (java, not the watchdog).
    public var serverPid: Int32? {
        (try? String(contentsOf: dataDir.appendingPathComponent("zookeeper.pid"), encoding: .utf8))
            .flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Stops the server and waits for it.
    public func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// Kills the server with SIGKILL, as a crash would.
    public func kill9() {
        if let pid = serverPid { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }

    /// True when `srvr` on the port answers as a serving standalone server (`ruok` answers too early).
    public static func isServing(port: Int) -> Bool {
        fourLetterWord("srvr", port: port)?.contains("Mode: standalone") == true
    }

    /// Sends a four-letter command and returns the answer (nil when nothing answers within a second).
    public static func fourLetterWord(_ word: String, port: Int, host: String = "127.0.0.1") -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        _ = word.withCString { send(fd, $0, strlen($0), 0) }
        var out = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }

    static func findExecutable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
