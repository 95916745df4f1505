import Foundation
import Testing

@testable import Flux

/// Resources from a dictionary, as an archive would serve them.
struct MemoryResources: FluxResources {
    let files: [String: String]

    func read(_ name: String) throws(FluxTopology.Failure) -> (text: String, source: String) {
        let key = String(name.drop { $0 == "/" })
        guard let text = files[key] else {
            throw FluxTopology.Failure(description: "mem.jar: no resource '\(name)' in the archive")
        }
        return (text, "mem.jar!/\(key)")
    }
}

@Suite struct FluxResourcesTests {
    static let base = """
        name: "base"
        spouts:
          - id: "sentences"
            className: "storm.swift.SentenceSpout"
        bolts:
          - id: "split"
            className: "org.apache.storm.perf.bolt.SplitSentenceBolt"
            parallelism: ${split.parallelism}
        streams:
          - {from: "sentences", to: "split", grouping: {type: SHUFFLE}}
        """

    static let top = """
        name: "${name}"
        includes:
          - {resource: true, file: "/base.yaml"}
        bolts:
          - id: "count"
            className: "org.apache.storm.perf.bolt.CountBolt"
        streams:
          - {from: "split", to: "count", grouping: {type: FIELDS, args: ["word"]}}
        """

    @Test func aResourceFileItsFilterAndItsResourceIncludesComeFromTheArchive() throws {
        let resources = MemoryResources(files: [
            "top.yaml": Self.top, "base.yaml": Self.base, "dev.properties": "name=from-archive\nsplit.parallelism=3\n",
        ])
        let flux = try FluxTopology.load(resource: "/top.yaml", filter: "/dev.properties", from: resources)
        #expect(flux.name == "from-archive")
        // The included file is substituted too, as Flux does.
        #expect(flux.topology.bolts["split"]?.common.parallelismHint == 3)
        #expect(flux.topology.bolts["count"]?.common.inputs.keys.map(\.componentId) == ["split"])

        // A file on disk may include resources when an archive is at hand.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flux-resources-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("top.yaml")
        try Self.top.write(to: file, atomically: true, encoding: .utf8)
        let properties = dir.appendingPathComponent("dev.properties")
        try "name=from-disk\nsplit.parallelism=2\n".write(to: properties, atomically: true, encoding: .utf8)
        let onDisk = try FluxTopology.load(file: file.path, filter: properties.path, resources: resources)
        #expect(onDisk.name == "from-disk" && onDisk.topology.bolts["split"]?.common.parallelismHint == 2)
    }

    @Test func resourceMistakesNameTheArchiveEntryAndLine() {
        func failure(_ files: [String: String], _ name: String = "top.yaml") -> String? {
            do {
                _ = try FluxTopology.load(resource: name, filter: nil, from: MemoryResources(files: files))
                return nil
            } catch {
                return error.description
            }
        }
        #expect(failure([:]) == "mem.jar: no resource 'top.yaml' in the archive")
        #expect(
            failure(["top.yaml": Self.top]) == "mem.jar!/top.yaml:3: mem.jar: no resource '/base.yaml' in the archive")
        let badBase = Self.base.replacingOccurrences(of: "${split.parallelism}", with: "many")
        #expect(
            failure(["top.yaml": Self.top, "base.yaml": badBase])
                == "mem.jar!/base.yaml:8: 'parallelism' of bolt 'split' must be an integer")
    }

    @Test func theOutlineKeepsTheFilesOrderAndFluxsLayout() throws {
        let resources = MemoryResources(files: [
            "top.yaml": Self.top + """

                  - {from: "sentences", to: "count", grouping: {type: ALL, streamId: "default"}}
                """,
            "base.yaml": Self.base.replacingOccurrences(of: "${split.parallelism}", with: "4"),
        ])
        let flux = try FluxTopology.load(resource: "top.yaml", from: resources)
        #expect(
            flux.outline.details(name: flux.name) == [
                "---------- TOPOLOGY DETAILS ----------",
                "Topology Name: ${name}",
                "--------------- SPOUTS ---------------",
                "sentences [1] (storm.swift.SentenceSpout)",
                "---------------- BOLTS ---------------",
                "split [4] (org.apache.storm.perf.bolt.SplitSentenceBolt)",
                "count [1] (org.apache.storm.perf.bolt.CountBolt)",
                "--------------- STREAMS ---------------",
                "sentences --SHUFFLE--> split",
                "split --FIELDS--> count",
                "sentences --ALL--> count",
                "--------------- WORKER HOOKS ---------------",
                "--------------------------------------",
            ])
        // A shell component shows the wrapper's class, and a named stream says which.
        let shell = """
            name: "shell"
            spouts:
              - id: "s"
                className: "org.apache.storm.flux.wrappers.spouts.FluxShellSpout"
                constructorArgs: [["python3", "s.py"], ["x"]]
                parallelism: 2
                configMethods:
                  - {name: "setNamedStream", args: ["side", ["y"]]}
            bolts:
              - id: "b"
                className: "org.apache.storm.perf.bolt.DevNullBolt"
            streams:
              - {from: "s", to: "b", grouping: {type: shuffle, streamId: "side"}}
            """
        let details = try FluxTopology.parse(shell, source: "shell.yaml").outline.details(name: "shell")
        #expect(details.contains("s [2] (org.apache.storm.flux.wrappers.spouts.FluxShellSpout)"))
        #expect(details.contains("s --SHUFFLE--> b (stream side)"))
    }
}
