internal import CThriftBridge

/// Struct <-> bytes with libthrift's binary protocol: what the cluster state stores and what Storm stores.
public enum ThriftSerialization {
    public static func serialize(_ value: some ThriftStruct) throws -> [UInt8] {
        guard let memory = tb_memory_new() else { throw ThriftTransportError.last("allocating a buffer") }
        defer { tb_memory_free(memory) }
        try value.write(to: ThriftProtocol(tb_memory_protocol(memory)))
        var data: UnsafePointer<UInt8>?
        var len = 0
        if tb_memory_bytes(memory, &data, &len) != 0 { throw ThriftTransportError.last("reading the buffer") }
        guard let data, len > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: len))
    }

    /// Decodes exactly one `T` that fills all of `bytes`.
    public static func deserialize<T: ThriftStruct>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        guard let memory = tb_memory_new() else { throw ThriftTransportError.last("allocating a buffer") }
        defer { tb_memory_free(memory) }
        let status = bytes.withUnsafeBytes { tb_memory_reset_for_reading(memory, $0.baseAddress, $0.count) }
        if status != 0 { throw ThriftTransportError.last("filling the buffer") }
        let value = try T(from: ThriftProtocol(tb_memory_protocol(memory)))
        if tb_memory_fully_read(memory) == 0 { throw ThriftDecodingError.trailingBytes("\(T.self)") }
        return value
    }
}
