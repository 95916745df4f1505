import Runtime
import Tuples

/// Backpressure between workers, as Storm 2 signals it. A worker never stops reading a peer's connection (it
/// carries every task's tuples and acks, and a reader stuck on one full queue could hold up a peer that waits on
/// this worker in turn); instead, when a bolt executor's queue fills, the worker tells every peer to stop sending
/// to that executor's tasks, and tells them again when it has drained to half. A peer's executor that would send
/// to such a task waits, as it waits on a full local queue.
///
/// On the wire a status is a frame of its own: the marker 0xFFFFFFFF where a batch has its tuple count, a kind
/// byte (1), then the congested and the clear task ids (varint counts and ids).
public enum BackpressureFrame {
    static let marker: UInt32 = 0xFFFF_FFFF
    static let kind: UInt8 = 1
    /// A congested task is trusted this long without a refresh (senders refresh every `refreshNanos`), so a
    /// worker that died congested does not stop its peers for ever.
    public static let expiryNanos: UInt64 = 2_000_000_000
    public static let refreshNanos: UInt64 = 500_000_000

    /// A sealed frame (`Frames`).
    public static func encode(_ status: BackpressureStatus) -> [UInt8] {
        var out: [UInt8] = []
        Frames.begin(into: &out)
        withUnsafeBytes(of: marker.littleEndian) { out.append(contentsOf: $0) }
        out.append(kind)
        for list in [status.congested, status.clear] {
            ValueCodec.encode(varint: UInt64(list.count), into: &out)
            for task in list { ValueCodec.encode(varint: UInt64(UInt32(bitPattern: task)), into: &out) }
        }
        Frames.seal(&out)
        return out
    }

    /// Whether a frame's payload is a status rather than a batch of tuples.
    public static func isStatus(_ payload: UnsafeRawBufferPointer) -> Bool {
        payload.count >= 5 && UInt32(littleEndian: payload.loadUnaligned(as: UInt32.self)) == marker
    }

    public static func decode(_ payload: UnsafeRawBufferPointer) throws(ValueCodec.DecodingError) -> BackpressureStatus
    {
        guard isStatus(payload), payload[4] == kind else {
            throw ValueCodec.DecodingError(description: "not a backpressure status")
        }
        var reader = ValueCodec.Reader(payload, offset: 5)
        var lists: [[Int32]] = []
        for _ in 0..<2 {
            let count = try reader.readVarint()
            guard count <= UInt64(payload.count) else {
                throw ValueCodec.DecodingError(
                    description: "backpressure status claims \(count) tasks in \(payload.count) bytes")
            }
            var list: [Int32] = []
            for _ in 0..<count {
                let task = try reader.readVarint()
                guard task <= UInt64(Int32.max) else {
                    throw ValueCodec.DecodingError(description: "task id out of range at byte \(reader.offset)")
                }
                list.append(Int32(task))
            }
            lists.append(list)
        }
        guard reader.isAtEnd else {
            throw ValueCodec.DecodingError(description: "bytes left after a backpressure status")
        }
        return BackpressureStatus(congested: lists[0], clear: lists[1])
    }
}
