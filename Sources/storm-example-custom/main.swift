// A `storm` that also runs one component of its own: build it, and use it wherever you would use `storm`
// (`storm-example-custom local examples/uppercase.yaml`, or as the workers' program on a cluster).
import Components
import StormCLI
import Tuples

/// Upper-cases the first value of each tuple.
final class UppercaseBolt: Components.Bolt {
    var collector: (any OutputCollector)?

    func declareOutputFields(_ declarer: inout OutputDeclarer) { declarer.declare(["word"]) }
    func prepare(context: TopologyContext, collector: any OutputCollector) { self.collector = collector }
    func execute(_ tuple: Tuple) {
        if case .string(let s) = tuple.values.first { collector?.emit([.string(s.uppercased())], anchors: [tuple]) }
        collector?.ack(tuple)
    }
}

ComponentRegistry.shared.register("example.UppercaseBolt", kind: .bolt) { _ in UppercaseBolt() }
await StormCLI.run()
