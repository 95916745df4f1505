import Foundation
import Testing

@testable import Worker

#if canImport(Glibc)
import Glibc
#endif

@Suite struct LogRollerTests {
    @Test func aLogRollsBySizeKeepingTheNewestFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("roll-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = folder + "/worker.log"
        // Two descriptors on one file, as a worker's stdout and stderr are.
        let out = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let err = dup(out)
        defer {
            close(out)
            close(err)
        }
        let roller = LogRoller(descriptors: [out, err], maxBytes: 1000, keptFiles: 2)
        #expect(roller.path == path)
        func write(_ fd: Int32, _ text: String) { _ = text.withCString { Glibc.write(fd, $0, strlen($0)) } }
        for round in 1...4 {
            write(out, String(repeating: "o", count: 600) + "\(round)\n")
            #expect(try roller.rollIfDue() == nil)
            write(err, String(repeating: "e", count: 600) + "\(round)\n")
            #expect(try roller.rollIfDue() == path)
        }
        write(out, "after\n")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["worker.log", "worker.log.1", "worker.log.2"])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "after\n")
        // The newest rolled file is .1: round 4's lines; round 3's moved to .2; rounds 1 and 2 are gone.
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8).hasSuffix("e4\n"))
        #expect(try String(contentsOfFile: path + ".2", encoding: .utf8).hasSuffix("e3\n"))
        // Output that is not a file is left alone.
        var pipeFds: [Int32] = [0, 0]
        pipe(&pipeFds)
        #expect(LogRoller(descriptors: [pipeFds[1]], maxBytes: 1, keptFiles: 1).path == nil)
        close(pipeFds[0])
        close(pipeFds[1])
    }
}
