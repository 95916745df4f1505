import Runtime
import Tuples

/// Batches of tuples as bytes between workers: a 4-byte little-endian count, then per tuple the target task, the
/// source task, the stream's number (varints), the tuple's tree ids (a varint count, then per tree the root and
/// the edge, 8 bytes each), then the values (`ValueCodec`). The count is fixed-size so a sender can append tuples one at a time and
/// fill it in last.
public struct TupleBatchCodec: Sendable {
    public let streams: StreamTable

    public init(streams: StreamTable) { self.streams = streams }

    /// Reserves the count; returns where it is.
    public static func begin(into out: inout [UInt8]) -> Int {
        out.append(contentsOf: [0, 0, 0, 0])
        return out.count - 4
    }

    public static func append(_ d: Delivery, into out: inout [UInt8]) {
        ValueCodec.encode(varint: UInt64(UInt32(bitPattern: d.task)), into: &out)
        ValueCodec.encode(varint: UInt64(UInt32(bitPattern: d.tuple.sourceTask)), into: &out)
        ValueCodec.encode(varint: UInt64(UInt32(bitPattern: d.tuple.stream.id)), into: &out)
        let ids = d.tuple.ids
        out.append(UInt8(truncatingIfNeeded: ids.count))
        if ids.count > 127 {
            out.removeLast()
            ValueCodec.encode(varint: UInt64(ids.count), into: &out)
        }
        ids.forEach { root, edge in
            ValueCodec.encode(fixed64: root, into: &out)
            ValueCodec.encode(fixed64: edge, into: &out)
        }
        ValueCodec.encode(values: d.tuple.values, into: &out)
    }

    public static func finish(count: Int, at offset: Int, in out: inout [UInt8]) {
        out.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(count).littleEndian, toByteOffset: offset, as: UInt32.self)
        }
    }

    /// One whole batch.
    public static func encode(_ batch: some Collection<Delivery>, into out: inout [UInt8]) {
        let at = begin(into: &out)
        for d in batch { append(d, into: &out) }
        finish(count: batch.count, at: at, in: &out)
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws(ValueCodec.DecodingError) -> [Delivery] {
        guard bytes.count >= 4 else {
            throw ValueCodec.DecodingError(description: "batch of \(bytes.count) bytes has no count")
        }
        let count = UInt64(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self)))
        var reader = ValueCodec.Reader(bytes, offset: 4)
        // Each tuple takes at least five bytes: a bound before reserving.
        guard count <= UInt64(bytes.count / 5) else {
            throw ValueCodec.DecodingError(description: "batch claims \(count) tuples in \(bytes.count) bytes")
        }
        var out: [Delivery] = []
        out.reserveCapacity(Int(count))
        for _ in 0..<count {
            let task = try reader.readVarint()
            let source = try reader.readVarint()
            let streamId = try reader.readVarint()
            guard task <= UInt64(Int32.max), source <= UInt64(Int32.max) else {
                throw ValueCodec.DecodingError(description: "task id out of range at byte \(reader.offset)")
            }
            guard streamId < UInt64(streams.all.count) else {
                throw ValueCodec.DecodingError(
                    description: "unknown stream number \(streamId) (the topology has \(streams.all.count))")
            }
            let trees = try reader.readVarint()
            guard trees <= UInt64(bytes.count - reader.offset) / 16 else {
                throw ValueCodec.DecodingError(
                    description: "\(trees) tree ids at byte \(reader.offset) run past the end")
            }
            var ids = TreeIds()
            for _ in 0..<trees {
                let root = try reader.readFixed64()
                let edge = try reader.readFixed64()
                guard root != 0 else {
                    throw ValueCodec.DecodingError(description: "tree root 0 at byte \(reader.offset - 16)")
                }
                ids.add(root: root, edge: edge)
            }
            let values = try reader.readValues()
            out.append(
                Delivery(
                    task: Int32(task),
                    tuple: Tuple(
                        values: values, stream: streams.all[Int(streamId)], sourceTask: Int32(source), ids: ids)))
        }
        guard reader.isAtEnd else {
            throw ValueCodec.DecodingError(
                description: "\(bytes.count - reader.offset) bytes left after \(count) tuples")
        }
        return out
    }
}
