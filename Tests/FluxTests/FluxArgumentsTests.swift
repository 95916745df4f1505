import Testing

@testable import Flux

@Suite struct FluxArgumentsTests {
    func run(_ arguments: [String]) throws -> FluxArguments {
        guard case .run(let parsed) = try FluxArguments.parse(arguments) else {
            Issue.record("\(arguments) asked for help")
            return FluxArguments()
        }
        return parsed
    }

    func failure(_ arguments: [String]) -> String? {
        do {
            _ = try FluxArguments.parse(arguments)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func optionsAndTheFileComeInAnyOrder() throws {
        var expected = FluxArguments()
        expected.file = "multilang.yaml"
        expected.local = true
        expected.sleepMillis = 20000
        #expect(try run(["--local", "multilang.yaml", "-s", "20000"]) == expected)
        #expect(try run(["-s", "20000", "multilang.yaml", "-l"]) == expected)
        #expect(try run(["multilang.yaml", "--sleep=20000", "--local"]) == expected)
        // Commons CLI finds an option by its name without dashes.
        #expect(try run(["-local", "--s", "20000", "multilang.yaml"]) == expected)
        // After --, everything is the file.
        #expect(try run(["--local", "-s", "20000", "--", "multilang.yaml"]) == expected)
    }

    @Test func everyFluxOption() throws {
        let all = try run([
            "-r", "-R", "-d", "-q", "-n", "-i", "-z", "zk:2181", "-f", "dev.properties", "-e", "/topology.yaml",
        ])
        #expect(
            all.remote && all.resource && all.dryRun && all.noDetail && all.noSplash && all.inactive && all.envFilter)
        #expect(!all.local && all.sleepMillis == nil)
        #expect(all.zookeeper == "zk:2181" && all.filter == "dev.properties" && all.file == "/topology.yaml")
        let long = try run([
            "--remote", "--resource", "--dry-run", "--no-detail", "--no-splash", "--inactive", "--zookeeper", "zk:2181",
            "--filter", "dev.properties", "--env-filter", "/topology.yaml",
        ])
        #expect(long == all)
        #expect(try FluxArguments.parse(["-h"]) == .help)
        #expect(try FluxArguments.parse(["x.yaml", "--help"]) == .help)
    }

    @Test func mistakesAreOneLineNamingTheArgument() {
        #expect(
            failure(["--bogus", "t.yaml"])?.hasPrefix("unknown Flux option '--bogus' (Flux's options: -h -l -r -R -s")
                == true)
        #expect(failure(["t.yaml", "-s"]) == "Flux option '-s' needs a value: milliseconds")
        // As in Commons CLI, an option is not taken for a value.
        #expect(failure(["-f", "-l", "t.yaml"]) == "Flux option '-f' needs a value: file")
        #expect(failure(["-s", "soon", "t.yaml"]) == "Flux's --sleep takes milliseconds, not 'soon'")
        #expect(failure(["-s", "-5", "t.yaml"]) == "Flux's --sleep takes milliseconds, not '-5'")
        #expect(failure(["--local=yes", "t.yaml"]) == "Flux option '--local' takes no value: '--local=yes'")
        #expect(failure(["--local"]) == "Flux needs the topology file: org.apache.storm.flux.Flux [options] FILE.yaml")
        #expect(failure(["a.yaml", "-l", "b.yaml"]) == "Flux takes one topology file, not 'a.yaml', 'b.yaml'")
    }

    @Test func usageListsEveryOption() {
        let usage = FluxArguments.usage.joined(separator: "\n")
        for name in [
            "local", "remote", "resource", "sleep", "dry-run", "no-detail", "no-splash", "inactive", "zookeeper",
            "filter", "env-filter",
        ] {
            #expect(usage.contains("--\(name)"), "\(name)")
        }
    }
}
