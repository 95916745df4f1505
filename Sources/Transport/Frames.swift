/// Frames on a worker connection: a 4-byte little-endian length, then that many bytes. The first frame a
/// connection carries is the hello: `storm-swift/1 <topology id>`, so a worker never takes another topology's
/// tuples (or a stray client's bytes) for its own. A topology with a secret then authenticates the connection:
/// the receiver sends a challenge frame, the sender answers with a proof frame (`LinkSecret`). What a receiver allows before and after it is in `FrameLimits`.
public enum Frames {
    static let helloPrefix = "storm-swift/1 "
    public static let headerSize = 4
    /// A frame larger than this is refused and its connection closed: no peer sends one, so it is garbage.
    public static let defaultMaxFrameBytes = 64 << 20

    /// A buffer with room for the length, ready for the payload to be appended.
    public static func begin(into buffer: inout [UInt8]) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: [0, 0, 0, 0])
    }

    /// Writes the length of what was appended since `begin`.
    public static func seal(_ buffer: inout [UInt8]) {
        let length = UInt32(buffer.count - headerSize)
        buffer.withUnsafeMutableBytes { $0.storeBytes(of: length.littleEndian, toByteOffset: 0, as: UInt32.self) }
    }

    static func hello(_ name: String) -> [UInt8] { frame(Array((helloPrefix + name).utf8)) }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = []
        begin(into: &frame)
        frame.append(contentsOf: payload)
        seal(&frame)
        return frame
    }
}
