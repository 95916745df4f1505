import Foundation
import StormCore

/// How Storm's UI writes durations, windows and latencies, so scripts that parse its JSON keep working.
enum Formatting {
    /// "1d 2h 3m 4s", leading zero units left out; "" for 0, as Storm's UI writes it.
    static func uptime(_ seconds: Int64) -> String {
        var rest = seconds
        var parts: [String] = []
        for (unit, size) in [("s", Int64(60)), ("m", 60), ("h", 24)] where rest > 0 {
            parts.insert("\(rest % size)\(unit)", at: 0)
            rest /= size
        }
        if rest > 0 { parts.insert("\(rest)d", at: 0) }
        return parts.joined(separator: " ")
    }

    /// The windows Storm's stats keep, longest last, and how the UI names them.
    static let windows = ["600", "10800", "86400", ":all-time"]
    static let allTime = ":all-time"

    static func windowHint(_ window: String) -> String {
        window == allTime ? "All time" : uptime(Int64(window) ?? 0)
    }

    /// A latency or capacity as Storm's UI sends it: a string with three decimals.
    static func decimal(_ value: Double?) -> ConfigValue {
        .string(String(format: "%.3f", value ?? 0))
    }

    /// Storm's "[start-end]" executor id.
    static func executorId(_ start: Int32, _ end: Int32) -> String { "[\(start)-\(end)]" }
}

extension ConfigValue {
    static func integer<T: BinaryInteger>(_ value: T?) -> ConfigValue { value.map { .int(Int64($0)) } ?? .null }
    static func number(_ value: Double?) -> ConfigValue { value.map { .double($0) } ?? .null }
    static func text(_ value: String?) -> ConfigValue { value.map { .string($0) } ?? .null }
}
