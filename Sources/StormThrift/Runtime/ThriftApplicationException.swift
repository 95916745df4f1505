/// Thrift's TApplicationException: the error a server answers when a call failed outside the method's declared
/// exceptions (an unknown or unsupported method, a malformed call, an internal failure).
public struct ThriftApplicationException: Error, ThriftStruct, CustomStringConvertible {
    public enum Kind: Int32, Sendable {
        case unknown = 0, unknownMethod = 1, invalidMessageType = 2, wrongMethodName = 3, badSequenceId = 4,
            missingResult = 5, internalError = 6, protocolError = 7
    }

    public var message: String
    public var kind: Kind

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    public static func unsupported(_ method: String) -> ThriftApplicationException {
        ThriftApplicationException(.unknownMethod, "Nimbus method '\(method)' is not supported by this nimbus")
    }

    public static func missingResult(_ method: String) -> ThriftApplicationException {
        ThriftApplicationException(.missingResult, "\(method) failed: unknown result")
    }

    public init(from p: ThriftProtocol) throws {
        var message = ""
        var kind = Kind.unknown
        try p.readStructBegin()
        while let (type, id) = try p.readFieldBegin() {
            switch (id, type) {
            case (1, .string): message = try p.readString()
            case (2, .i32): kind = Kind(rawValue: try p.readI32()) ?? .unknown
            default: try p.skip(type)
            }
            try p.readFieldEnd()
        }
        try p.readStructEnd()
        self.init(kind, message)
    }

    public func write(to p: ThriftProtocol) throws {
        try p.writeStructBegin("TApplicationException")
        try p.writeFieldBegin("message", .string, 1)
        try p.writeString(message)
        try p.writeFieldEnd()
        try p.writeFieldBegin("type", .i32, 2)
        try p.writeI32(kind.rawValue)
        try p.writeFieldEnd()
        try p.writeFieldStop()
        try p.writeStructEnd()
    }
}

/// What a dispatcher answers for one call.
public enum ThriftReply: Sendable {
    case result(any ThriftStruct)
}

/// One decoded call, ready to run on a handler: a dispatcher returns it once the arguments are read.
public typealias ThriftCall = @Sendable () async throws -> ThriftReply

/// Thrift message types.
enum ThriftMessageType: Int8 {
    case call = 1, reply = 2, exception = 3, oneway = 4
}
