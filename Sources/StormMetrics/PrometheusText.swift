/// Prometheus' text exposition format (version 0.0.4): what `/metrics` answers.
public enum PrometheusText {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func render(_ families: [MetricFamily]) -> String {
        var out = ""
        for family in families where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
            for sample in family.samples {
                out += family.name + sample.suffix
                if !sample.labels.isEmpty {
                    out += "{" + sample.labels.map { "\($0.name)=\"\(escapeValue($0.value))\"" }.joined(separator: ",")
                    out += "}"
                }
                out += " " + MetricFamily.number(sample.value) + "\n"
            }
        }
        return out
    }

    /// Several expositions (a supervisor's own and its workers') as one: the format wants each family once, so
    /// samples of a family are gathered under its first HELP and TYPE. A family whose type differs from the first
    /// one seen under its name (two topologies named a metric alike) is left out, and named in `conflicts`.
    public static func merge(_ texts: [String]) -> (text: String, conflicts: [String]) {
        struct Block {
            var header: [Substring] = []
            var type = ""
            var samples: [Substring] = []
        }
        var order: [String] = []
        var blocks: [String: Block] = [:]
        var conflicts: Set<String> = []
        for text in texts {
            var current: String?
            var skipping = false
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                    let words = line.split(separator: " ", maxSplits: 3)
                    guard words.count >= 3 else { continue }
                    let name = String(words[2])
                    if current != name {
                        current = name
                        skipping = false
                        if blocks[name] == nil {
                            order.append(name)
                            blocks[name] = Block()
                        }
                    }
                    if line.hasPrefix("# TYPE ") {
                        let type = words.count > 3 ? String(words[3]) : ""
                        if blocks[name]!.type.isEmpty {
                            blocks[name]!.type = type
                            blocks[name]!.header.append(line)
                        } else if blocks[name]!.type != type {
                            skipping = true
                            conflicts.insert(name)
                        }
                    } else if blocks[name]!.header.isEmpty {
                        blocks[name]!.header.append(line)
                    }
                } else if line.hasPrefix("#") {
                    continue
                } else if let current, !skipping {
                    blocks[current]!.samples.append(line)
                }
            }
        }
        var out = ""
        for name in order {
            guard let block = blocks[name], !block.samples.isEmpty else { continue }
            for line in block.header + block.samples {
                out += line
                out += "\n"
            }
        }
        return (out, conflicts.sorted())
    }

    private static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeValue(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
