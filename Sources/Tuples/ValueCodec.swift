/// The compact binary encoding of values on the wire between workers: one tag byte, then the payload; integers
/// and lengths as LEB128 varints (integers zigzagged), doubles as their 8 IEEE bytes, little-endian.
public enum ValueCodec {
    enum Tag: UInt8 {
        case null = 0, `false` = 1, `true` = 2, int = 3, double = 4, string = 5, binary = 6, list = 7, map = 8
    }

    public struct DecodingError: Error, CustomStringConvertible, Equatable, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Appends one value's encoding.
    public static func encode(_ value: Value, into out: inout [UInt8]) {
        append(size: encodedSize(value), to: &out) { write(value, at: $0) }
    }

    /// Appends a tuple's values: a count, then each value.
    public static func encode(values: TupleValues, into out: inout [UInt8]) {
        var size = varintSize(UInt64(values.count))
        values.forEachValue { size += encodedSize($0) }
        append(size: size, to: &out) { p in
            var n = writeVarint(UInt64(values.count), at: p)
            values.forEachValue { n += write($0, at: p + n) }
            return n
        }
    }

    /// Appends an unsigned LEB128 varint (headers around encoded values use them too).
    /// Eight bytes, little-endian: random 64-bit ids, which a varint would stretch to ten.
    public static func encode(fixed64 value: UInt64, into out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    public static func encode(varint value: UInt64, into out: inout [UInt8]) {
        append(size: varintSize(value), to: &out) { writeVarint(value, at: $0) }
    }

    // Two passes, sizes then bytes through a pointer: one capacity check per tuple instead of one per byte.
    @inline(__always)
    static func append(size: Int, to out: inout [UInt8], _ body: (UnsafeMutableRawPointer) -> Int) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: size))
        out.withUnsafeMutableBytes { raw in
            let written = body(raw.baseAddress! + start)
            assert(written == size)
        }
    }

    @inline(__always)
    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    @inline(__always)
    static func zigzag(_ i: Int64) -> UInt64 { UInt64(bitPattern: (i << 1) ^ (i >> 63)) }

    static func encodedSize(_ value: Value) -> Int {
        switch value {
        case .null, .bool: 1
        case .int(let i): 1 + varintSize(zigzag(i))
        case .double: 9
        case .string(let s): 1 + varintSize(UInt64(s.utf8.count)) + s.utf8.count
        case .binary(let b): 1 + varintSize(UInt64(b.count)) + b.count
        case .list(let l): l.reduce(1 + varintSize(UInt64(l.count))) { $0 + encodedSize($1) }
        case .map(let m):
            m.reduce(1 + varintSize(UInt64(m.count))) { $0 + encodedSize(.string($1.key)) + encodedSize($1.value) }
        }
    }

    @inline(__always)
    static func writeVarint(_ value: UInt64, at p: UnsafeMutableRawPointer) -> Int {
        var v = value
        var n = 0
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: n, as: UInt8.self)
            v >>= 7
            n += 1
        }
        p.storeBytes(of: UInt8(v), toByteOffset: n, as: UInt8.self)
        return n + 1
    }

    static func write(_ value: Value, at p: UnsafeMutableRawPointer) -> Int {
        switch value {
        case .null:
            p.storeBytes(of: Tag.null.rawValue, as: UInt8.self)
            return 1
        case .bool(let b):
            p.storeBytes(of: b ? Tag.true.rawValue : Tag.false.rawValue, as: UInt8.self)
            return 1
        case .int(let i):
            p.storeBytes(of: Tag.int.rawValue, as: UInt8.self)
            return 1 + writeVarint(zigzag(i), at: p + 1)
        case .double(let d):
            p.storeBytes(of: Tag.double.rawValue, as: UInt8.self)
            p.storeBytes(of: d.bitPattern.littleEndian, toByteOffset: 1, as: UInt64.self)
            return 9
        case .string(let s):
            p.storeBytes(of: Tag.string.rawValue, as: UInt8.self)
            let count = s.utf8.count
            let n = 1 + writeVarint(UInt64(count), at: p + 1)
            if s.utf8.withContiguousStorageIfAvailable({ (p + n).copyMemory(from: $0.baseAddress!, byteCount: count) })
                == nil
            {
                var i = n
                for byte in s.utf8 {
                    p.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
                    i += 1
                }
            }
            return n + count
        case .binary(let b):
            p.storeBytes(of: Tag.binary.rawValue, as: UInt8.self)
            let n = 1 + writeVarint(UInt64(b.count), at: p + 1)
            b.withUnsafeBytes { if let base = $0.baseAddress { (p + n).copyMemory(from: base, byteCount: b.count) } }
            return n + b.count
        case .list(let l):
            p.storeBytes(of: Tag.list.rawValue, as: UInt8.self)
            var n = 1 + writeVarint(UInt64(l.count), at: p + 1)
            for v in l { n += write(v, at: p + n) }
            return n
        case .map(let m):
            p.storeBytes(of: Tag.map.rawValue, as: UInt8.self)
            var n = 1 + writeVarint(UInt64(m.count), at: p + 1)
            for (k, v) in m {
                n += write(.string(k), at: p + n)
                n += write(v, at: p + n)
            }
            return n
        }
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
                guard offset < bytes.count else {
                    throw DecodingError(description: "truncated varint at byte \(offset)")
                }
                let b = bytes[offset]
                offset += 1
                result |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return result }
                shift += 7
                if shift > 63 { throw DecodingError(description: "varint longer than 64 bits at byte \(offset)") }
            }
        }

        /// Eight bytes, little-endian.
        public mutating func readFixed64() throws(DecodingError) -> UInt64 {
            guard bytes.count - offset >= 8 else {
                throw DecodingError(description: "truncated 64-bit id at byte \(offset)")
            }
            defer { offset += 8 }
            return UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }

        mutating func readLength() throws(DecodingError) -> Int {
            let n = try readVarint()
            guard n <= UInt64(bytes.count - offset) else {
                throw DecodingError(
                    description: "length \(n) at byte \(offset) runs past the end (\(bytes.count) bytes)")
            }
            return Int(n)
        }

        public mutating func readValues() throws(DecodingError) -> TupleValues {
            let count = try readLength()
            switch count {
            case 0: return TupleValues()
            case 1: return TupleValues(try readValue())
            case 2:
                let first = try readValue()
                return TupleValues(first, try readValue())
            default:
                var out: [Value] = []
                out.reserveCapacity(count)
                for _ in 0..<count { out.append(try readValue()) }
                return TupleValues(out)
            }
        }

        public mutating func readValue(depth: Int = 0) throws(DecodingError) -> Value {
            guard depth < Self.maxDepth else {
                throw DecodingError(description: "values nested deeper than \(Self.maxDepth)")
            }
            guard offset < bytes.count else { throw DecodingError(description: "truncated value at byte \(offset)") }
            let raw = bytes[offset]
            guard let tag = Tag(rawValue: raw) else {
                throw DecodingError(description: "unknown value tag \(raw) at byte \(offset)")
            }
            offset += 1
            switch tag {
            case .null: return .null
            case .false: return .bool(false)
            case .true: return .bool(true)
            case .int:
                let z = try readVarint()
                return .int(Int64(bitPattern: (z >> 1) ^ (0 &- (z & 1))))
            case .double:
                guard bytes.count - offset >= 8 else {
                    throw DecodingError(description: "truncated double at byte \(offset)")
                }
                var bits: UInt64 = 0
                withUnsafeMutableBytes(of: &bits) {
                    $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + 8]))
                }
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

    public static func decodeValues(_ bytes: [UInt8]) throws(DecodingError) -> TupleValues {
        let result: Result<TupleValues, DecodingError> = bytes.withUnsafeBytes { raw in
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
