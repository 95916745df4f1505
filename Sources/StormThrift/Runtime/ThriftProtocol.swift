internal import CThriftBridge

/// Thrift's wire types, as TType numbers them.
public enum ThriftType: Int8, Sendable {
    case stop = 0, void = 1, bool = 2, byte = 3, double = 4, i16 = 6, i32 = 8, i64 = 10, string = 11, `struct` = 12,
        map = 13, set = 14, list = 15
}

/// libthrift refused to read or write: the peer closed, a timeout, a frame over the limit, bytes that are not
/// Thrift. The connection it happened on is no longer usable.
public struct ThriftTransportError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }

    static func last(_ action: String) -> ThriftTransportError {
        ThriftTransportError(message: "\(action): \(String(cString: tb_last_error()))")
    }
}

/// Well-formed Thrift that does not fit the IDL.
public enum ThriftDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    case missingField(String, String)
    case emptyUnion(String)
    case unknownEnumValue(String, Int32)
    case trailingBytes(String)

    public var description: String {
        switch self {
        case .missingField(let owner, let field): "required field '\(field)' of \(owner) is missing"
        case .emptyUnion(let union): "union \(union) has no known field set"
        case .unknownEnumValue(let type, let value): "\(value) is not a value of enum \(type)"
        case .trailingBytes(let type): "bytes left over after decoding \(type)"
        }
    }
}

public protocol ThriftEnum: RawRepresentable, Sendable, Hashable, CaseIterable where RawValue == Int32 {}

/// A struct, union or exception of the IDL: it reads and writes itself through a ThriftProtocol.
public protocol ThriftStruct: Sendable, Hashable {
    init(from p: ThriftProtocol) throws
    func write(to p: ThriftProtocol) throws
}

/// One end of libthrift's binary protocol, borrowed for the duration of a read or write.
///
/// Each method is one call into the C bridge; any failure there becomes a ThriftTransportError.
public struct ThriftProtocol {
    let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }

    @inline(__always)
    private func check(_ status: Int32, _ action: StaticString) throws {
        if status != 0 { throw ThriftTransportError.last("\(action)") }
    }

    // MARK: reading

    public func readMessageBegin() throws -> (name: String, type: Int8, seqid: Int32) {
        var name: UnsafePointer<CChar>?
        var len = 0
        var type: Int8 = 0
        var seqid: Int32 = 0
        try check(tb_read_message_begin(raw, &name, &len, &type, &seqid), "reading a message header")
        return (Self.string(name, len), type, seqid)
    }

    public func readMessageEnd() throws { try check(tb_read_message_end(raw), "reading a message end") }
    public func readStructBegin() throws { try check(tb_read_struct_begin(raw), "reading a struct") }
    public func readStructEnd() throws { try check(tb_read_struct_end(raw), "reading a struct end") }

    /// The next field's type and id, or nil at the end of the struct.
    public func readFieldBegin() throws -> (ThriftType, Int16)? {
        var type: Int8 = 0
        var id: Int16 = 0
        try check(tb_read_field_begin(raw, &type, &id), "reading a field header")
        guard let t = ThriftType(rawValue: type) else {
            throw ThriftTransportError(message: "reading a field header: unknown field type \(type)")
        }
        return t == .stop ? nil : (t, id)
    }

    public func readFieldEnd() throws { try check(tb_read_field_end(raw), "reading a field end") }

    public func readBool() throws -> Bool {
        var v: Int8 = 0
        try check(tb_read_bool(raw, &v), "reading a bool")
        return v != 0
    }
    public func readByte() throws -> Int8 {
        var v: Int8 = 0
        try check(tb_read_byte(raw, &v), "reading a byte")
        return v
    }
    public func readI16() throws -> Int16 {
        var v: Int16 = 0
        try check(tb_read_i16(raw, &v), "reading an i16")
        return v
    }
    public func readI32() throws -> Int32 {
        var v: Int32 = 0
        try check(tb_read_i32(raw, &v), "reading an i32")
        return v
    }
    public func readI64() throws -> Int64 {
        var v: Int64 = 0
        try check(tb_read_i64(raw, &v), "reading an i64")
        return v
    }
    public func readDouble() throws -> Double {
        var v = 0.0
        try check(tb_read_double(raw, &v), "reading a double")
        return v
    }
    public func readString() throws -> String {
        var data: UnsafePointer<CChar>?
        var len = 0
        try check(tb_read_string(raw, &data, &len), "reading a string")
        return Self.string(data, len)
    }
    public func readBinary() throws -> [UInt8] {
        var data: UnsafePointer<CChar>?
        var len = 0
        try check(tb_read_binary(raw, &data, &len), "reading a binary")
        guard let data, len > 0 else { return [] }
        return data.withMemoryRebound(to: UInt8.self, capacity: len) {
            Array(UnsafeBufferPointer(start: $0, count: len))
        }
    }
    public func readEnum<E: ThriftEnum>(_ type: E.Type) throws -> E {
        let raw = try readI32()
        guard let value = E(rawValue: raw) else { throw ThriftDecodingError.unknownEnumValue("\(E.self)", raw) }
        return value
    }

    // Sizes come from the peer: reserve no more than a modest amount up front, the bridge bounds the rest.
    private static let reserveLimit = 1024

    public func readList<T>(_ element: () throws -> T) throws -> [T] {
        var type: Int8 = 0
        var size: UInt32 = 0
        try check(tb_read_list_begin(raw, &type, &size), "reading a list")
        var out: [T] = []
        out.reserveCapacity(min(Int(size), Self.reserveLimit))
        for _ in 0..<size { out.append(try element()) }
        try check(tb_read_list_end(raw), "reading a list end")
        return out
    }
    public func readSet<T: Hashable>(_ element: () throws -> T) throws -> Set<T> {
        var type: Int8 = 0
        var size: UInt32 = 0
        try check(tb_read_set_begin(raw, &type, &size), "reading a set")
        var out = Set<T>(minimumCapacity: min(Int(size), Self.reserveLimit))
        for _ in 0..<size { out.insert(try element()) }
        try check(tb_read_set_end(raw), "reading a set end")
        return out
    }
    public func readMap<K: Hashable, V>(_ key: () throws -> K, _ value: () throws -> V) throws -> [K: V] {
        var kt: Int8 = 0
        var vt: Int8 = 0
        var size: UInt32 = 0
        try check(tb_read_map_begin(raw, &kt, &vt, &size), "reading a map")
        var out = [K: V](minimumCapacity: min(Int(size), Self.reserveLimit))
        for _ in 0..<size {
            let k = try key()
            out[k] = try value()
        }
        try check(tb_read_map_end(raw), "reading a map end")
        return out
    }

    public func skip(_ type: ThriftType) throws { try check(tb_skip(raw, type.rawValue), "skipping a field") }

    // MARK: writing

    public func writeMessageBegin(_ name: String, type: Int8, seqid: Int32) throws {
        var name = name
        try name.withUTF8 { buf in
            try buf.withMemoryRebound(to: CChar.self) {
                try check(
                    tb_write_message_begin(raw, $0.baseAddress, $0.count, type, seqid), "writing a message header")
            }
        }
    }
    public func writeMessageEnd() throws { try check(tb_write_message_end(raw), "writing a message end") }
    public func writeStructBegin(_ name: StaticString) throws {
        let status = name.withUTF8Buffer { buf in
            buf.withMemoryRebound(to: CChar.self) { tb_write_struct_begin(raw, $0.baseAddress) }
        }
        try check(status, "writing a struct")
    }
    public func writeStructEnd() throws { try check(tb_write_struct_end(raw), "writing a struct end") }
    public func writeFieldBegin(_ name: StaticString, _ type: ThriftType, _ id: Int16) throws {
        let status = name.withUTF8Buffer { buf in
            buf.withMemoryRebound(to: CChar.self) { tb_write_field_begin(raw, $0.baseAddress, type.rawValue, id) }
        }
        try check(status, "writing a field header")
    }
    public func writeFieldEnd() throws { try check(tb_write_field_end(raw), "writing a field end") }
    public func writeFieldStop() throws { try check(tb_write_field_stop(raw), "writing a field stop") }
    public func writeBool(_ v: Bool) throws { try check(tb_write_bool(raw, v ? 1 : 0), "writing a bool") }
    public func writeByte(_ v: Int8) throws { try check(tb_write_byte(raw, v), "writing a byte") }
    public func writeI16(_ v: Int16) throws { try check(tb_write_i16(raw, v), "writing an i16") }
    public func writeI32(_ v: Int32) throws { try check(tb_write_i32(raw, v), "writing an i32") }
    public func writeI64(_ v: Int64) throws { try check(tb_write_i64(raw, v), "writing an i64") }
    public func writeDouble(_ v: Double) throws { try check(tb_write_double(raw, v), "writing a double") }
    public func writeString(_ v: String) throws {
        var v = v
        try v.withUTF8 { buf in
            try buf.withMemoryRebound(to: CChar.self) {
                try check(tb_write_string(raw, $0.baseAddress, $0.count), "writing a string")
            }
        }
    }
    public func writeBinary(_ v: [UInt8]) throws {
        try v.withUnsafeBufferPointer { buf in
            try buf.withMemoryRebound(to: CChar.self) {
                try check(tb_write_binary(raw, $0.baseAddress, $0.count), "writing a binary")
            }
        }
    }
    public func writeList<T>(_ items: [T], of type: ThriftType, _ element: (T) throws -> Void) throws {
        try check(tb_write_list_begin(raw, type.rawValue, UInt32(items.count)), "writing a list")
        for item in items { try element(item) }
        try check(tb_write_list_end(raw), "writing a list end")
    }
    public func writeSet<T>(_ items: Set<T>, of type: ThriftType, _ element: (T) throws -> Void) throws {
        try check(tb_write_set_begin(raw, type.rawValue, UInt32(items.count)), "writing a set")
        for item in items { try element(item) }
        try check(tb_write_set_end(raw), "writing a set end")
    }
    public func writeMap<K, V>(
        _ map: [K: V], keys: ThriftType, values: ThriftType, _ key: (K) throws -> Void, _ value: (V) throws -> Void
    ) throws {
        try check(tb_write_map_begin(raw, keys.rawValue, values.rawValue, UInt32(map.count)), "writing a map")
        for (k, v) in map {
            try key(k)
            try value(v)
        }
        try check(tb_write_map_end(raw), "writing a map end")
    }

    public func flush() throws { try check(tb_flush(raw), "sending") }

    private static func string(_ data: UnsafePointer<CChar>?, _ len: Int) -> String {
        guard let data, len > 0 else { return "" }
        return data.withMemoryRebound(to: UInt8.self, capacity: len) {
            String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self)
        }
    }
}
