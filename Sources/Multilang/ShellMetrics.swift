import Locking
import Tuples

/// What a shell component's child sent with `metrics` (storm.py's `rpcMetrics(name, params)`), kept until this
/// project serves metrics: how many arrived per metric name and the latest parameters. Written by the executor's
/// thread, read from any (tests now, a metrics reporter later).
public final class ShellMetricsReceived: Sendable {
    public struct Entry: Sendable, Equatable {
        public var count: Int
        public var lastParams: Value
    }

    private let entries = Locked<[String: Entry]>([:])

    public init() {}

    /// Messages received, over every name.
    public var total: Int { entries.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    public func entry(_ name: String) -> Entry? { entries.withLock { $0[name] } }

    public var names: [String] { entries.withLock { $0.keys.sorted() } }

    func record(name: String, params: Value) {
        entries.withLock { all in
            if all[name] == nil {
                all[name] = Entry(count: 1, lastParams: params)
            } else {
                all[name]!.count += 1
                all[name]!.lastParams = params
            }
        }
    }
}
