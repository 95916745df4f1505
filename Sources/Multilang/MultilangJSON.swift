import Foundation
import Tuples

/// JSON as the multilang protocol carries it, straight to and from `Value` (objects become maps), written by hand:
/// every tuple a shell component takes or emits crosses it, and Foundation's decoders cost microseconds a message.
enum MultilangJSON {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    // MARK: writing

    static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: [110, 117, 108, 108])  // null
        case .bool(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            if d.isFinite { out.append(contentsOf: "\(d)".utf8) } else { out.append(contentsOf: [110, 117, 108, 108]) }
        case .string(let s): writeString(s, into: &out)
        case .binary(let b): writeString(Data(b).base64EncodedString(), into: &out)
        case .list(let l):
            out.append(UInt8(ascii: "["))
            for (i, v) in l.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .map(let m):
            out.append(UInt8(ascii: "{"))
            for (i, key) in m.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(m[key]!, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, 110])
            case 13: out.append(contentsOf: [92, 114])
            case 9: out.append(contentsOf: [92, 116])
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                out.append(contentsOf: [92, 117, 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    // MARK: reading

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> Value {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.offset == bytes.count else { throw reader.error("unexpected text after the value") }
        return value
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        func error(_ what: String) -> ParseError {
            let start = max(0, offset - 20)
            let context = String(decoding: bytes[start..<min(bytes.count, offset + 20)], as: UTF8.self)
            return ParseError(description: "\(what) at byte \(offset) near \(context.debugDescription)")
        }

        mutating func skipSpace() {
            while offset < bytes.count,
                bytes[offset] == 32 || bytes[offset] == 10 || bytes[offset] == 13 || bytes[offset] == 9
            {
                offset += 1
            }
        }

        mutating func expect(_ literal: String, _ value: Value) throws(ParseError) -> Value {
            let l = Array(literal.utf8)
            guard offset + l.count <= bytes.count, Array(bytes[offset..<offset + l.count]) == l else {
                throw error("invalid literal")
            }
            offset += l.count
            return value
        }

        mutating func value(depth: Int) throws(ParseError) -> Value {
            guard depth < 64 else { throw error("nested deeper than 64") }
            skipSpace()
            guard offset < bytes.count else { throw error("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "{"):
                offset += 1
                var map: [String: Value] = [:]
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                    offset += 1
                    return .map(map)
                }
                while true {
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else {
                        throw error("expected a key")
                    }
                    let key = try string()
                    skipSpace()
                    guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    offset += 1
                    map[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard offset < bytes.count else { throw error("unterminated object") }
                    if bytes[offset] == UInt8(ascii: ",") {
                        offset += 1
                    } else if bytes[offset] == UInt8(ascii: "}") {
                        offset += 1
                        return .map(map)
                    } else {
                        throw error("expected ',' or '}'")
                    }
                }
            case UInt8(ascii: "["):
                offset += 1
                var list: [Value] = []
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                    offset += 1
                    return .list(list)
                }
                while true {
                    list.append(try value(depth: depth + 1))
                    skipSpace()
                    guard offset < bytes.count else { throw error("unterminated array") }
                    if bytes[offset] == UInt8(ascii: ",") {
                        offset += 1
                    } else if bytes[offset] == UInt8(ascii: "]") {
                        offset += 1
                        return .list(list)
                    } else {
                        throw error("expected ',' or ']'")
                    }
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try expect("true", .bool(true))
            case UInt8(ascii: "f"): return try expect("false", .bool(false))
            case UInt8(ascii: "n"): return try expect("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws(ParseError) -> Value {
            let start = offset
            var isInteger = true
            while offset < bytes.count {
                let b = bytes[offset]
                if b >= 48 && b <= 57 || b == UInt8(ascii: "-") || b == UInt8(ascii: "+") {
                    offset += 1
                } else if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                    isInteger = false
                    offset += 1
                } else {
                    break
                }
            }
            let text = String(decoding: bytes[start..<offset], as: UTF8.self)
            if isInteger, let i = Int64(text) { return .int(i) }
            guard !text.isEmpty, let d = Double(text) else { throw error("invalid value") }
            return .double(d)
        }

        mutating func string() throws(ParseError) -> String {
            offset += 1  // the opening quote
            let start = offset
            // Fast path: no escapes.
            while offset < bytes.count, bytes[offset] != UInt8(ascii: "\""), bytes[offset] != UInt8(ascii: "\\") {
                offset += 1
            }
            guard offset < bytes.count else { throw error("unterminated string") }
            if bytes[offset] == UInt8(ascii: "\"") {
                offset += 1
                return String(decoding: bytes[start..<offset - 1], as: UTF8.self)
            }
            var out = Array(bytes[start..<offset])
            while offset < bytes.count {
                let b = bytes[offset]
                if b == UInt8(ascii: "\"") {
                    offset += 1
                    return String(decoding: out, as: UTF8.self)
                }
                if b != UInt8(ascii: "\\") {
                    out.append(b)
                    offset += 1
                    continue
                }
                guard offset + 1 < bytes.count else { throw error("unterminated escape") }
                let e = bytes[offset + 1]
                offset += 2
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00, offset + 1 < bytes.count,
                        bytes[offset] == UInt8(ascii: "\\"),
                        bytes[offset + 1] == UInt8(ascii: "u")
                    {
                        offset += 2
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default: out.append(e)
                }
            }
            throw error("unterminated string")
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard offset + 4 <= bytes.count,
                let v = UInt32(String(decoding: bytes[offset..<offset + 4], as: UTF8.self), radix: 16)
            else {
                throw error("invalid \\u escape")
            }
            offset += 4
            return v
        }
    }
}
