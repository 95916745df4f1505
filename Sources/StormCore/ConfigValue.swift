import Foundation

/// A configuration value as Storm's YAML and JSON configs hold them.
public enum ConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([ConfigValue])
    case map([String: ConfigValue])

    public var intValue: Int64? {
        switch self {
        case .int(let v): v
        case .double(let v) where v.rounded() == v && abs(v) < 9e18: Int64(v)
        case .string(let s): Int64(s)
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .int(let v): Double(v)
        case .double(let v): v
        case .string(let s): Double(s)
        default: nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .int(let v): String(v)
        case .double(let v): String(v)
        case .bool(let v): String(v)
        default: nil
        }
    }

    public var boolValue: Bool? {
        switch self {
        case .bool(let v): v
        case .string("true"): true
        case .string("false"): false
        default: nil
        }
    }

    public var listValue: [ConfigValue]? {
        if case .list(let v) = self { return v }
        return nil
    }

    public var mapValue: [String: ConfigValue]? {
        if case .map(let v) = self { return v }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// How the value reads in a message: JSON for everything.
    public var display: String { (try? JSON.encode(self)) ?? "\(self)" }
}

extension ConfigValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: ConfigValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, ConfigValue)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

extension ConfigValue: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let l = try? c.decode([ConfigValue].self) {
            self = .list(l)
        } else {
            self = .map(try c.decode([String: ConfigValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        case .map(let v): try c.encode(v)
        }
    }
}

/// JSON text <-> ConfigValue, as Storm exchanges configurations (jsonConf, getNimbusConf, getTopologyConf).
public enum JSON {
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func encode(_ value: ConfigValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    public static func decode(_ text: String) throws -> ConfigValue {
        do {
            return try JSONDecoder().decode(ConfigValue.self, from: Data(text.utf8))
        } catch let DecodingError.dataCorrupted(context) {
            let detail = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            throw ParseError(description: "not valid JSON: \(detail ?? context.debugDescription)")
        } catch {
            throw ParseError(description: "not valid JSON: \(error)")
        }
    }

    /// Decodes text that must hold a JSON object, as a topology's conf must.
    public static func decodeObject(_ text: String) throws -> [String: ConfigValue] {
        guard case .map(let map) = try decode(text) else {
            throw ParseError(description: "not a JSON object")
        }
        return map
    }
}
