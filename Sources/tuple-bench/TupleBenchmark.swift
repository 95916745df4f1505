import Components
import Dispatch
import Foundation
import Groupings
import Runtime
import StormCore
import StormThrift
import Tuples

/// Nanoseconds per tuple for the pieces of a tuple's trip built so far: encoding a word-count tuple to the wire
/// format, decoding it, and choosing its target with a shuffle and with a fields grouping. Each loop runs over
/// 1,024 distinct tuples; "loop" is the cost of the loop itself (picking a tuple), included in the others.
@main
enum TupleBenchmark {
    static let n = 10_000_000

    /// The topologies' conf: Storm's defaults, with topology.executor.chaining on when asked (`--chained`).
    static let conf =
        CommandLine.arguments.contains("--chained")
        ? StormConfig.defaults.merging([ConfigKey.topologyExecutorChaining: true]) : StormConfig.defaults

    /// Times `body` over `n` tuples and prints ns per tuple; with `loop` (the empty loop's own ns per tuple) also
    /// the figure net of it. Returns the gross figure.
    @discardableResult
    static func time(_ name: String, loop: Double? = nil, _ body: () throws -> Int) rethrows -> Double {
        _ = try body()
        let start = DispatchTime.now().uptimeNanoseconds
        let check = try body()
        let ns = Double(DispatchTime.now().uptimeNanoseconds - start) / Double(n)
        let net = loop.map { String(format: ", %.1f net of the loop", ns - $0) } ?? ""
        print(
            "\(name): \(String(format: "%.1f", ns)) ns/tuple\(net) (\(String(format: "%.1f", 1000 / ns))M/s) [\(check % 10)]"
        )
        return ns
    }

    /// Storm's sentence spout into a discarding bolt: the cost of moving one tuple between two threads.
    static func spoutToSink(seconds: Double) throws {
        var builder = TopologyBuilder()
        builder.setSpout("sentences", SentenceSpout.className)
        builder.subscribe(
            builder.setBolt("sink", "org.apache.storm.perf.bolt.DevNullBolt").shuffleGrouping("sentences"))
        try report(
            "spout -> sink in one process", unit: "tuples", topology: try builder.build(), counted: "sink",
            seconds: seconds)
    }

    /// Word count in one process (sentence spout -> shuffle -> split -> fields -> count), steady state.
    static func wordCount(seconds: Double, spouts: Int32, splits: Int32, counts: Int32) throws {
        try report(
            "word count, \(spouts) spout / \(splits) split / \(counts) count executors in one process", unit: "words",
            topology: try wordCountTopology(spouts: spouts, splits: splits, counts: counts), counted: "count",
            seconds: seconds)
    }

    /// The 1/1/1 word count until its count bolt has executed `words` words, then how many it counted: for
    /// instructions per word under `valgrind --tool=callgrind`, which do not move with the machine's load.
    static func wordCountFixed(words: Int64) throws {
        let runtime = try TopologyRuntime(
            topologyId: "bench-1-1", topology: try wordCountTopology(spouts: 1, splits: 1, counts: 1),
            conf: conf)
        try runtime.start()
        while runtime.stats["count"]!.executed < words { Thread.sleep(forTimeInterval: 0.01) }
        runtime.stop(drainTimeout: 2)
        print("words counted: \(runtime.stats["count"]!.executed)")
    }

    static func wordCountTopology(spouts: Int32, splits: Int32, counts: Int32) throws -> StormTopology {
        var builder = TopologyBuilder()
        builder.setSpout("sentences", SentenceSpout.className, parallelism: spouts)
        builder.subscribe(
            builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt", parallelism: splits)
                .shuffleGrouping("sentences"))
        builder.subscribe(
            builder.setBolt("count", "org.apache.storm.perf.bolt.CountBolt", parallelism: counts).fieldsGrouping(
                "split", ["word"]))
        return try builder.build()
    }

    struct BenchError: Error, CustomStringConvertible { let description: String }

    /// Runs a topology five times (thread placement on 2 cores varies from run to run) and prints every run's
    /// rate of `counted`'s executed tuples, their median, and the RSS after the first run (later runs add the
    /// allocator's leftovers).
    static func report(_ title: String, unit: String, topology: StormTopology, counted: String, seconds: Double) throws
    {
        var runs: [Double] = []
        var rss = ""
        for _ in 0..<5 {
            let runtime = try TopologyRuntime(topologyId: "bench-1-1", topology: topology, conf: conf)
            try runtime.start()
            Thread.sleep(forTimeInterval: 1)
            let before = runtime.stats[counted]!.executed
            let start = Date()
            Thread.sleep(forTimeInterval: seconds)
            runs.append(Double(runtime.stats[counted]!.executed - before) / Date().timeIntervalSince(start) / 1e6)
            if rss.isEmpty {
                rss =
                    (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8))?.split(separator: "\n")
                    .first { $0.hasPrefix("VmRSS:") }.map {
                        String($0.dropFirst(6)).trimmingCharacters(in: .whitespaces)
                    } ?? "?"
            }
            runtime.stop(drainTimeout: 2)
        }
        let median = runs.sorted()[runs.count / 2]
        print(
            "\(title): median \(String(format: "%.2f", median))M \(unit)/s (runs: \(runs.map { String(format: "%.2f", $0) }.joined(separator: ", "))), RSS after the first run \(rss)"
        )
    }

    /// Storm's ThroughputVsLatency, in one process: acked word count (each sentence a tracked tree of the sentence
    /// and its words, one acker) at full speed, then paced at 25%, 50% and 75% of that rate, with the complete
    /// latency's mean, p99 and p99.9 over each run's measured window.
    static func throughputVsLatency(seconds: Double) throws {
        func topology(rate: Int64) throws -> StormTopology {
            var builder = TopologyBuilder()
            builder.setSpout("sentences", AckedSentenceSpout.className, args: [.longArg(rate)])
            builder.subscribe(
                builder.setBolt("split", "org.apache.storm.perf.bolt.SplitSentenceBolt").shuffleGrouping("sentences"))
            builder.subscribe(
                builder.setBolt("count", "org.apache.storm.perf.bolt.CountBolt").fieldsGrouping("split", ["word"]))
            return try builder.build()
        }
        func spoutCounts(_ runtime: TopologyRuntime) -> ExecutorCounts {
            runtime.executorCounts().first { $0.component == "sentences" }!.counts
        }
        func measure(rate: Int64) throws -> (sentences: Double, words: Double, failed: Int64, latency: LatencyHistogram)
        {
            let runtime = try TopologyRuntime(
                topologyId: "tvl-1-1", topology: try topology(rate: rate), conf: conf)
            try runtime.start()
            Thread.sleep(forTimeInterval: 3)
            let before = spoutCounts(runtime)
            let wordsBefore = runtime.stats["count"]!.executed
            let start = Date()
            Thread.sleep(forTimeInterval: seconds)
            let after = spoutCounts(runtime)
            let elapsed = Date().timeIntervalSince(start)
            let words = Double(runtime.stats["count"]!.executed - wordsBefore) / elapsed
            runtime.stop(drainTimeout: 2)
            let acked = after.ackedByStream.reduce(0, +) - before.ackedByStream.reduce(0, +)
            let failed = after.failedByStream.reduce(0, +) - before.failedByStream.reduce(0, +)
            return (Double(acked) / elapsed, words, failed, after.completeLatency.since(before.completeLatency))
        }
        func line(_ title: String, _ m: (sentences: Double, words: Double, failed: Int64, latency: LatencyHistogram)) {
            let l = m.latency
            print(
                "\(title): \(String(format: "%.0f", m.sentences)) sentences/s acked (\(String(format: "%.2f", m.words / 1e6))M words/s), "
                    + "\(m.failed) failed; complete latency mean \(String(format: "%.2f", l.meanMillis)) ms, "
                    + "p99 \(String(format: "%.2f", l.quantileMillis(0.99))) ms, p99.9 \(String(format: "%.2f", l.quantileMillis(0.999))) ms, "
                    + "max \(String(format: "%.1f", l.quantileMillis(1))) ms")
        }
        let top = try measure(rate: 0)
        line("acked word count, full speed", top)
        for percent in [25, 50, 75] {
            let rate = Int64(top.sentences * Double(percent) / 100)
            line("acked word count at \(percent)% (\(rate) sentences/s asked)", try measure(rate: rate))
        }
    }

    static func main() throws {
        // Measured as workers run: with their allocator settings, which glibc reads only at a process' start.
        let environment = ProcessInfo.processInfo.environment
        let tuned = WorkerMallocTuning.environment(environment)
        if tuned != environment {
            let argv = CommandLine.arguments.map { strdup($0) } + [nil]
            let envp = tuned.map { strdup("\($0)=\($1)") } + [nil]
            execve("/proc/self/exe", argv, envp)
            let reason = String(cString: strerror(errno))
            print("tuple-bench: cannot restart with \(WorkerMallocTuning.tunable) (\(reason))")
        }
        if CommandLine.arguments.contains("--throughput-vs-latency") {
            try throughputVsLatency(seconds: 10)
            return
        }
        if CommandLine.arguments.contains("--spout-sink") {
            try spoutToSink(seconds: 5)
            return
        }
        if let i = CommandLine.arguments.firstIndex(of: "--wordcount-layout"), i + 1 < CommandLine.arguments.count {
            let n = CommandLine.arguments[i + 1].split(separator: "/").compactMap { Int32($0) }
            guard n.count == 3 else {
                throw BenchError(description: "--wordcount-layout takes SPOUTS/SPLITS/COUNTS, e.g. 1/2/2")
            }
            try wordCount(seconds: 5, spouts: n[0], splits: n[1], counts: n[2])
            return
        }
        if let i = CommandLine.arguments.firstIndex(of: "--wordcount-words"), i + 1 < CommandLine.arguments.count,
            let words = Int64(CommandLine.arguments[i + 1])
        {
            try wordCountFixed(words: words)
            return
        }
        if CommandLine.arguments.contains("--wordcount") {
            // Each layout in a process of its own, so its RSS is its own.
            for layout in ["1/1/1", "1/2/2"] {
                let child = Process()
                child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
                child.arguments = ["--wordcount-layout", layout] + CommandLine.arguments.filter { $0 == "--chained" }
                try child.run()
                child.waitUntilExit()
            }
            return
        }
        let tuples: [TupleValues] = (0..<1024).map { [.string("word\($0)"), .int(1)] }
        let encoded: [[UInt8]] = tuples.map {
            var b: [UInt8] = []
            ValueCodec.encode(values: $0, into: &b)
            return b
        }
        let loop = time("loop (picking a tuple: included in the figures below)") {
            var sum = 0
            for i in 0..<n { sum &+= tuples[i & 1023].count }
            return sum
        }
        time("encode [word, 1] into a reused buffer", loop: loop) {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(1 << 16)
            var sum = 0
            for i in 0..<n {
                if buffer.count > 60_000 {
                    sum &+= buffer.count
                    buffer.removeAll(keepingCapacity: true)
                }
                ValueCodec.encode(values: tuples[i & 1023], into: &buffer)
            }
            return sum
        }
        try time("decode [word, 1]", loop: loop) {
            var sum = 0
            for i in 0..<n { sum &+= try ValueCodec.decodeValues(encoded[i & 1023]).count }
            return sum
        }
        var shuffle = try Router(
            grouping: .shuffle(NullStruct()), subscriber: "split", tasks: [1, 2, 3, 4], sourceFields: ["sentence"])
        try time("route: shuffle over 4 tasks", loop: loop) {
            var sum = 0
            for i in 0..<n { if case .one(let t) = try shuffle.route(tuples[i & 1023], from: 0) { sum &+= Int(t) } }
            return sum
        }
        var fields = try Router(
            grouping: .fields(["word"]), subscriber: "count", tasks: [1, 2, 3, 4], sourceFields: ["word", "count"])
        try time("route: fields on a word over 4 tasks", loop: loop) {
            var sum = 0
            for i in 0..<n { if case .one(let t) = try fields.route(tuples[i & 1023], from: 0) { sum &+= Int(t) } }
            return sum
        }
    }
}
