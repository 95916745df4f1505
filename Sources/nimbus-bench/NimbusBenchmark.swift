import ArgumentParser
import DevZooKeeper
import Foundation
import Locking
import StormThrift

/// Measures a real `storm nimbus` process over TCP: call throughput with 1 and N concurrent clients,
/// submit-to-listed latency, and resident memory idle and with many topologies.
@main
struct NimbusBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nimbus-bench", abstract: "Benchmark a storm nimbus process over its Thrift API.")

    @Option(help: "The storm executable to start nimbus with.") var storm = ".build/release/storm"
    @Option(help: "Seconds per throughput measurement.") var seconds = 5.0
    @Option(help: "Concurrent clients for the parallel measurement.") var clients = 16
    @Option(help: "Topologies to submit.") var topologies = 100
    @Flag(help: "Keep the cluster state in a real ZooKeeper (Debian's, started here) instead of in nimbus' memory.")
    var zookeeper = false
    @Flag(
        help:
            "Secure nimbus as docs/security.md does (SASL DIGEST-MD5, SimpleACLAuthorizer): every client authenticates."
    )
    var secured = false
    @Flag(
        help:
            "Serve nimbus over TLS alone, clients known by their certificates (nimbus.thrift.tls.*, certificates made by openssl), with SimpleACLAuthorizer."
    )
    var tls = false

    func run() throws {
        let port = Int.random(in: 20000...40000)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nimbus-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let nimbus = Process()
        nimbus.executableURL = URL(fileURLWithPath: storm)
        nimbus.arguments = [
            "nimbus", "-c", "nimbus.thrift.port=\(port)", "-c", "storm.local.dir=\(dir.path)/local",
        ]
        var server: ZooKeeperServer?
        if zookeeper {
            let zk = try ZooKeeperServer.start(
                port: Int.random(in: 40001...50000), dataDir: dir.appendingPathComponent("zookeeper"))
            server = zk
            nimbus.arguments! += [
                "-c", "storm.zookeeper.servers=[\"127.0.0.1\"]", "-c", "storm.zookeeper.port=\(zk.port)",
            ]
        } else {
            // The in-memory cluster state: this measures nimbus, not ZooKeeper.
            nimbus.arguments! += ["-c", "storm.cluster.state.store=memory"]
        }
        defer { server?.stop() }
        if secured {
            let jaas = dir.appendingPathComponent("bench.jaas")
            try Self.jaas.write(to: jaas, atomically: true, encoding: .utf8)
            nimbus.arguments! += [
                "-c", "storm.thrift.transport=org.apache.storm.security.auth.digest.DigestSaslTransportPlugin",
                "-c", "java.security.auth.login.config=\(jaas.path)",
                "-c", "nimbus.authorizer=org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer",
                "-c", "nimbus.admins=[\"bench\"]",
            ]
        }
        if tls {
            let certificates = try Self.certificates(in: dir)
            nimbus.arguments! += [
                "-c", "nimbus.thrift.tls.port=\(port)", "-c", "nimbus.thrift.port=\(port + 1)",
                "-c", "nimbus.thrift.tls.server.only=true",
                "-c",
                "nimbus.thrift.tls.server.keystore.path=\(certificates.appendingPathComponent("nimbus.pem").path)",
                "-c", "nimbus.thrift.tls.server.truststore.path=\(certificates.appendingPathComponent("ca.crt").path)",
                "-c", "nimbus.authorizer=org.apache.storm.security.auth.authorizer.SimpleACLAuthorizer",
                "-c", "nimbus.admins=[\"CN=bench\"]",
            ]
            Self.clientTLS.withLock {
                $0 = ThriftTLS(
                    keystorePath: certificates.appendingPathComponent("bench.pem").path,
                    truststorePath: certificates.appendingPathComponent("ca.crt").path)
            }
        }
        nimbus.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try nimbus.run()
        defer {
            nimbus.terminate()
            nimbus.waitUntilExit()
            try? FileManager.default.removeItem(at: dir)
        }
        let client = try waitForNimbus(port: port)
        Thread.sleep(forTimeInterval: 1)
        print("nimbus pid \(nimbus.processIdentifier), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(String(format: "RSS idle: %.1f MiB", rssMiB(nimbus.processIdentifier)))

        report("getClusterInfo, 0 topologies", try throughput(port: port, clients: 1))
        report("getClusterInfo, 0 topologies", try throughput(port: port, clients: clients))
        report("new connection + getLeader", try connections(port: port))

        let topology = Self.topology()
        var latencies: [Double] = []
        for i in 0..<topologies {
            let name = "bench-\(i)"
            let started = DispatchTime.now().uptimeNanoseconds
            let location = try client.beginFileUpload()
            try client.uploadChunk(location: location, chunk: [UInt8](repeating: 1, count: 64 * 1024))
            try client.finishFileUpload(location: location)
            try client.submitTopology(name: name, uploadedJarLocation: location, jsonConf: "{}", topology: topology)
            while !(try client.getTopologySummaries().contains { $0.name == name }) {}
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        }
        print(
            "submit-to-listed (upload 64 KiB + submit + list), \(topologies) topologies: \(Self.percentiles(latencies))"
        )
        Thread.sleep(forTimeInterval: 1)
        print(String(format: "RSS with %d topologies: %.1f MiB", topologies, rssMiB(nimbus.processIdentifier)))
        report("getClusterInfo, \(topologies) topologies", try throughput(port: port, clients: 1))
        report("getClusterInfo, \(topologies) topologies", try throughput(port: port, clients: clients))
    }

    /// The percentiles that `samples` can tell (at least ten samples above each), and the maximum, in ms: a p99 of
    /// 100 samples would be the maximum under another name.
    static func percentiles(_ samples: [Double]) -> String {
        let sorted = samples.sorted()
        guard let max = sorted.last else { return "no samples" }
        var parts: [String] = []
        for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)] {
            let index = Int((Double(sorted.count) * q).rounded(.down))
            guard sorted.count - index >= 10 else { continue }
            parts.append("\(name) \(String(format: "%.2f", sorted[index])) ms")
        }
        parts.append(String(format: "max %.2f ms (%d samples)", max, sorted.count))
        return parts.joined(separator: ", ")
    }

    private func report(_ what: String, _ result: (clients: Int, calls: Int, seconds: Double)) {
        print(
            String(
                format: "%@, %d client(s): %.0f calls/s (%d calls in %.1f s)", what, result.clients,
                Double(result.calls) / result.seconds, result.calls, result.seconds))
    }

    static let jaas = "StormServer { M required user_bench=\"bench-pw\"; };\n"

    /// What clients present and trust with `--tls` (set once, before any client connects).
    private static let clientTLS = Locked<ThriftTLS?>(nil)

    private func client(_ port: Int) throws -> NimbusClient {
        try NimbusClient(host: "127.0.0.1", port: port, credentials: credentials, tls: Self.clientTLS.withLock { $0 })
    }

    /// A CA, nimbus' certificate for 127.0.0.1 and the client's (CN=bench), each certificate and key in one PEM.
    static func certificates(in dir: URL) throws -> URL {
        let folder = dir.appendingPathComponent("certificates")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        func openssl(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
            process.arguments = arguments
            process.currentDirectoryURL = folder
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            process.waitUntilExit()
        }
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench CA", "-keyout",
            "ca.key", "-out", "ca.crt",
        ])
        for (name, subject, san) in [("nimbus", "/CN=nimbus", "IP:127.0.0.1"), ("bench", "/CN=bench", "DNS:bench")] {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject, "-CA", "ca.crt",
                "-CAkey", "ca.key", "-addext", "subjectAltName=\(san)", "-keyout", "\(name).key", "-out", "\(name).crt",
            ])
            let pem =
                try String(contentsOf: folder.appendingPathComponent("\(name).crt"), encoding: .utf8)
                + String(contentsOf: folder.appendingPathComponent("\(name).key"), encoding: .utf8)
            try pem.write(to: folder.appendingPathComponent("\(name).pem"), atomically: true, encoding: .utf8)
        }
        return folder
    }
    var credentials: ThriftClientCredentials? {
        secured ? ThriftClientCredentials(user: "bench", password: "bench-pw") : nil
    }

    /// Connections opened, used for one call and closed, one after another: what authenticating a connection costs.
    private func connections(port: Int) throws -> (clients: Int, calls: Int, seconds: Double) {
        let started = Date()
        var calls = 0
        while Date().timeIntervalSince(started) < seconds {
            let c = try client(port)
            _ = try c.getLeader()
            c.close()
            calls += 1
        }
        return (1, calls, Date().timeIntervalSince(started))
    }

    private func throughput(port: Int, clients n: Int) throws -> (clients: Int, calls: Int, seconds: Double) {
        let total = Locked(0)
        let failures = Locked<[String]>([])
        let deadline = Date().addingTimeInterval(seconds)
        let started = Date()
        let done = DispatchGroup()
        for _ in 0..<n {
            done.enter()
            Thread.detachNewThread {
                defer { done.leave() }
                do {
                    let c = try client(port)
                    var calls = 0
                    while Date() < deadline {
                        _ = try c.getClusterInfo()
                        calls += 1
                    }
                    total.withLock { $0 += calls }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        done.wait()
        if let failure = failures.withLock({ $0.first }) { throw ValidationError("a client failed: \(failure)") }
        return (n, total.withLock { $0 }, Date().timeIntervalSince(started))
    }

    private func waitForNimbus(port: Int) throws -> NimbusClient {
        let deadline = Date().addingTimeInterval(30)
        while true {
            if let client = try? client(port),
                (try? client.getLeader()) != nil
            {
                return client
            }
            if Date() > deadline { throw ValidationError("nimbus did not start on port \(port)") }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    private func rssMiB(_ pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return -1 }
        return kb / 1024
    }

    static func topology() -> StormTopology {
        func common(_ fields: [String], _ inputs: [GlobalStreamId: Grouping] = [:], _ p: Int32 = 1) -> ComponentCommon {
            ComponentCommon(
                inputs: inputs, streams: ["default": StreamInfo(outputFields: fields, direct: false)],
                parallelismHint: p)
        }
        return StormTopology(
            spouts: [
                "sentences": SpoutSpec(
                    spoutObject: .shell(ShellComponent(executionCommand: "python3", script: "s.py")),
                    common: common(["sentence"]))
            ],
            bolts: [
                "split": Bolt(
                    boltObject: .shell(ShellComponent(executionCommand: "python3", script: "split.py")),
                    common: common(
                        ["word"],
                        [GlobalStreamId(componentId: "sentences", streamId: "default"): .shuffle(NullStruct())], 4)),
                "count": Bolt(
                    boltObject: .shell(ShellComponent(executionCommand: "python3", script: "count.py")),
                    common: common(
                        ["word", "count"],
                        [GlobalStreamId(componentId: "split", streamId: "default"): .fields(["word"])], 4)),
            ], stateSpouts: [:])
    }
}
