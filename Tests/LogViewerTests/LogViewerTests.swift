import Foundation
import StormCore
import Testing

@testable import LogViewer

@Suite struct LogViewerTests {
    /// A log folder as a node has it: workers-artifacts/topology/port/worker.log, a daemon log, and a secret
    /// beside the folder that no path may reach.
    func folder() throws -> (root: String, workers: LogDirectory, daemons: LogDirectory) {
        let root = NSTemporaryDirectory() + "logviewer-\(UUID().uuidString)"
        let manager = FileManager.default
        try manager.createDirectory(
            atPath: root + "/logs/workers-artifacts/words-1-1/6700", withIntermediateDirectories: true)
        try manager.createDirectory(
            atPath: root + "/logs/workers-artifacts/words-1-1/6701", withIntermediateDirectories: true)
        let lines = (0..<20_000).map { "line \($0) of the log\n" }.joined()
        try lines.write(
            toFile: root + "/logs/workers-artifacts/words-1-1/6700/worker.log", atomically: true, encoding: .utf8)
        try "other\n".write(
            toFile: root + "/logs/workers-artifacts/words-1-1/6701/worker.log", atomically: true, encoding: .utf8)
        try "nimbus started\n".write(toFile: root + "/logs/nimbus.log", atomically: true, encoding: .utf8)
        try "secret\n".write(toFile: root + "/secret.txt", atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(
            atPath: root + "/logs/workers-artifacts/words-1-1/6700/escape.log",
            withDestinationPath: root + "/secret.txt")
        return (root, LogDirectory(root: root + "/logs/workers-artifacts"), LogDirectory(root: root + "/logs"))
    }

    /// Once users authenticate, a worker's log is for the users and groups its worker.yaml lists, and every log
    /// for logs.users, logs.groups and the admins; an open log viewer lets anyone read.
    @Test func logsAreForTheUsersTheirWorkerListsAndTheAdmins() throws {
        let (_, workers, _) = try folder()
        try WorkerLogMeta.render(
            workerId: "w1",
            topologyConf: [
                "topology.users": ["alice"], "topology.groups": ["ops"], "topology.submitter.user": "alice",
                "logs.users": ["carol"],
            ]
        ).write(toFile: workers.root + "/words-1-1/6700/worker.yaml", atomically: true, encoding: .utf8)
        let access = LogAccess(
            conf: StormConfig(["nimbus.admins": ["admin"], "logs.users": ["auditor"], "logs.groups": ["sre"]]),
            workers: workers, enforced: true,
            groupsOf: { ["dave": ["ops"], "erin": ["sre"]][$0] ?? [] })
        let log = "words-1-1/6700/worker.log"
        for user in ["alice", "alice@EXAMPLE.COM", "carol", "dave", "admin", "auditor", "erin"] {
            #expect(access.mayReadWorkerLog(log, as: user), "\(user) may read")
        }
        for user in ["bob", "", nil] as [String?] {
            #expect(!access.mayReadWorkerLog(log, as: user), "\(user ?? "nobody") may not read")
        }
        // A worker with no worker.yaml: the admins and log readers alone.
        #expect(!access.mayReadWorkerLog("words-1-1/6701/worker.log", as: "alice"))
        #expect(access.mayReadWorkerLog("words-1-1/6701/worker.log", as: "admin"))
        #expect(access.mayReadDaemonLog(as: "erin") && !access.mayReadDaemonLog(as: "alice"))
        let open = LogAccess(conf: .defaults, workers: workers, enforced: false)
        #expect(open.mayReadWorkerLog(log, as: nil) && open.mayReadDaemonLog(as: nil))
    }

    @Test func onlyFilesUnderTheRootAreServedHoweverThePathIsSpelt() throws {
        let (root, workers, daemons) = try folder()
        #expect(workers.file("words-1-1/6700/worker.log") != nil)
        for path in [
            "../secret.txt", "../../secret.txt", "words-1-1/../../../secret.txt", root + "/secret.txt",
            "/etc/passwd", "words-1-1/6700/escape.log", "words-1-1/6700", "", "words-1-1//6700/worker.log",
            "./words-1-1/6700/worker.log", "words-1-1/6700/missing.log",
        ] {
            #expect(workers.file(path) == nil, "served \(path)")
        }
        #expect(daemons.file("nimbus.log", components: 1) != nil)
        #expect(daemons.file("workers-artifacts/words-1-1/6700/worker.log", components: 1) == nil)
        #expect(workers.workerFiles() == ["words-1-1/6700/worker.log", "words-1-1/6701/worker.log"])
        #expect(workers.workerFiles(topologyId: "words-1-1", port: "6701") == ["words-1-1/6701/worker.log"])
        #expect(workers.workerFiles(topologyId: "..") == [])
        #expect(daemons.topFiles() == ["nimbus.log"])
    }

    @Test func pagesAreStormsLastPageFirstAndBounded() throws {
        let (_, workers, _) = try folder()
        let path = try #require(workers.file("words-1-1/6700/worker.log"))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let last = try LogPage.read(path, start: nil, length: nil)
        #expect(
            last.start == size - 51_200 && last.text.utf8.count == 51_200
                && last.text.hasSuffix("line 19999 of the log\n"))
        let first = try LogPage.read(path, start: 0, length: 20)
        #expect(first.text == "line 0 of the log\nli")
        #expect(try LogPage.read(path, start: 0, length: 1 << 40).length == LogPage.maxLength)
        #expect(throws: LogRequestError(kind: .badRequest, description: "Cannot start past the end of the file")) {
            try LogPage.read(path, start: size, length: nil)
        }
    }

    @Test func searchFindsMatchesWithContextAndSaysWhereToGoOn() throws {
        let (_, workers, _) = try folder()
        let path = try #require(workers.file("words-1-1/6700/worker.log"))
        let search = try LogSearch.run(path, needle: "line 1999 ", numMatches: 1, from: 0)
        let match = try #require(search.matches.first)
        #expect(match.match == "line 1999 ")
        #expect(match.before.hasSuffix("line 1998 of the log\n") && match.before.utf8.count == 128)
        #expect(match.after.hasPrefix("of the log\nline 2000"))
        #expect(search.nextByteOffset == match.byteOffset + 10)
        // Every "line 1234" is found once across the 1 MiB chunks, the last with no next offset.
        let all = try LogSearch.run(path, needle: "of the log", numMatches: 100_000, from: 0)
        #expect(all.matches.count == 20_000 && all.nextByteOffset == nil)
        #expect(Set(all.matches.map(\.byteOffset)).count == 20_000)
        #expect(throws: LogRequestError.self) { try LogSearch.run(path, needle: "", numMatches: 1, from: 0) }
        #expect(throws: LogRequestError.self) {
            try LogSearch.run(path, needle: String(repeating: "x", count: 1025), numMatches: 1, from: 0)
        }
    }
}
