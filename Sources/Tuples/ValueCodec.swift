/// The compact binary encoding of values on the wire between workers: one tag byte, then the payload; integers
/// and lengths as LEB128 varints (integers zigzagged), doubles as their 8 IEEE bytes, little-endian.
public enum ValueCodec {
    enum Tag: UInt8 {
        case null = 0, `false` = 1, `true` = 2, int = 3, double = 4, string = 5, binary = 6, list = 7, map = 8
    }

    public struct DecodingError: Error, CustomStringConvertible, Equatable, Sendable {
        public let description: String
    }

    public static func encode(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(Tag.null.rawValue)
        case .bool(let b): out.append(b ? Tag.true.rawValue : Tag.false.rawValue)
        case .int(let i):
            out.append(Tag.int.rawValue)
            writeVarint(UInt64(bitPattern: (i << 1) ^ (i >> 63)), into: &out)
        case .double(let d):
            out.append(Tag.double.rawValue)
            var bits = d.bitPattern.littleEndian
            withUnsafeBytes(of: &bits) { out.append(contentsOf: $0) }
        case .string(let s):
            out.append(Tag.string.rawValue)
            var s = s
            s.withUTF8 { utf8 in
                writeVarint(UInt64(utf8.count), into: &out)
                out.append(contentsOf: utf8)
            }
        case .binary(let b):
            out.append(Tag.binary.rawValue)
            writeVarint(UInt64(b.count), into: &out)
            out.append(contentsOf: b)
        case .list(let l):
            out.append(Tag.list.rawValue)
            writeVarint(UInt64(l.count), into: &out)
            for v in l { encode(v, into: &out) }
        case .map(let m):
            out.append(Tag.map.rawValue)
            writeVarint(UInt64(m.count), into: &out)
            for (k, v) in m {
                encode(.string(k), into: &out)
                encode(v, into: &out)
            }
        }
    }

    /// Encodes a tuple's values: a count, then each value.
    public static func encode(_ values: [Value], into out: inout [UInt8]) {
        writeVarint(UInt64(values.count), into: &out)
        for v in values { encode(v, into: &out) }
    }

    public static func writeVarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Reads values from a byte buffer, advancing an offset; every read is bounds-checked.
    public struct Reader {
        let bytes: UnsafeRawBufferPointer
        public private(set) var offset: Int
        /// Nesting deeper than this is refused, so hostile bytes cannot exhaust the stack.
        static let maxDepth = 64

        public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
            self.bytes = bytes
            self.offset = offset
        }

        public var isAtEnd: Bool { offset >= bytes.count }

        public mutating func readVarint() throws(DecodingError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard offset < bytes.count else { throw DecodingError(description: "truncated varint at byte \(offset)") }
                let b = bytes[offset]
                offset += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
                if shift > 63 { throw DecodingError(description: "varint longer than 64 bits at byte \(offset)") }
            }
        }

        mutating func readLength() throws(DecodingError) -> Int {
            let n = try readVarint()
            guard n <= UInt64(bytes.count - offset) else {
                throw DecodingError(description: "length \(n) at byte \(offset) runs past the end (\(bytes.count) bytes)")
            }
            return Int(n)
        }

        public mutating func readValues() throws(DecodingError) -> [Value] {
            let count = try readLength()
            var out: [Value] = []
            out.reserveCapacity(count)
            for _ in 0..<count { out.append(try readValue(depth: 0)) }
            return out
        }

        public mutating func readValue(depth: Int = 0) throws(DecodingError) -> Value {
            guard depth < Self.maxDepth else { throw DecodingError(description: "values nested deeper than \(Self.maxDepth)") }
            guard offset < bytes.count else { throw DecodingError(description: "truncated value at byte \(offset)") }
            let raw = bytes[offset]
            guard let tag = Tag(rawValue: raw) else { throw DecodingError(description: "unknown value tag \(raw) at byte \(offset)") }
            offset += 1
            switch tag {
            case .null: return .null
            case .false: return .bool(false)
            case .true: return .bool(true)
            case .int:
                let z = try readVarint()
                return .int(Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
            case .double:
                guard bytes.count - offset >= 8 else { throw DecodingError(description: "truncated double at byte \(offset)") }
                var bits: UInt64 = 0
                withUnsafeMutableBytes(of: &bits) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 8])) }
                offset += 8
                return .double(Double(bitPattern: UInt64(littleEndian: bits)))
            case .string:
                let n = try readLength()
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
                offset += n
                return .string(s)
            case .binary:
                let n = try readLength()
                let b = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
                offset += n
                return .binary(b)
            case .list:
                let n = try readLength()
                var l: [Value] = []
                l.reserveCapacity(n)
                for _ in 0..<n { l.append(try readValue(depth: depth + 1)) }
                return .list(l)
            case .map:
                let n = try readLength()
                var m: [String: Value] = [:]
                m.reserveCapacity(n)
                for _ in 0..<n {
                    guard case .string(let k) = try readValue(depth: depth + 1) else {
                        throw DecodingError(description: "map key at byte \(offset) is not a string")
                    }
                    m[k] = try readValue(depth: depth + 1)
                }
                return .map(m)
            }
        }
    }

    public static func decodeValues(_ bytes: [UInt8]) throws(DecodingError) -> [Value] {
        let result: Result<[Value], DecodingError> = bytes.withUnsafeBytes { raw in
            var reader = Reader(raw)
            do throws(DecodingError) {
                let values = try reader.readValues()
                guard reader.isAtEnd else {
                    throw DecodingError(description: "\(raw.count - reader.offset) bytes left after the values")
                }
                return .success(values)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }
}
