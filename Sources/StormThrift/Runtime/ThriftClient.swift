internal import CThriftBridge
import Locking

/// A blocking Thrift client over framed transport and binary protocol. Calls are serialized: one connection
/// carries one call at a time, as Thrift requires.
public final class ThriftClient: Sendable {
    public let host: String
    public let port: Int
    private let authenticates: Bool
    private let state: Locked<Connection>

    /// libthrift's client handle, used only under the lock (one call at a time, as Thrift requires).
    private struct Connection: @unchecked Sendable {
        var raw: OpaquePointer?
        var seqid: Int32 = 0
    }

    /// Connects now. `connectTimeoutMillis` bounds the connect and `ioTimeoutMillis` every read and write, so
    /// a dead or silent server is an error instead of a hang.
    /// With `credentials`, the client authenticates (SASL DIGEST-MD5) before its first call; with `tls`, it
    /// speaks TLS.
    public init(
        host: String, port: Int, connectTimeoutMillis: Int = 10_000, ioTimeoutMillis: Int = 10_000,
        maxFrameSize: Int = 1_048_576, credentials: ThriftClientCredentials? = nil, tls: ThriftTLS? = nil
    ) throws {
        self.host = host
        self.port = port
        self.authenticates = credentials != nil
        ThriftDiagnostics.install()
        let opened = Self.withSaslCredentials(credentials) { sasl in
            ThriftTLS.withC(tls) { tls in
                tb_client_open(
                    host, Int32(port), Int32(clamping: connectTimeoutMillis), Int32(clamping: ioTimeoutMillis),
                    Int32(clamping: maxFrameSize), sasl, tls)
            }
        }
        guard let raw = opened else { throw ThriftTransportError.last("connecting to \(host):\(port)") }
        state = Locked(Connection(raw: raw))
    }

    private static func withSaslCredentials<T>(
        _ credentials: ThriftClientCredentials?, _ body: (UnsafePointer<tb_sasl_client>?) -> T
    ) -> T {
        guard let credentials else { return body(nil) }
        return credentials.user.withCString { user in
            credentials.password.withCString { password in
                ThriftSasl.service.withCString { service in
                    (credentials.actingFor ?? "").withCString { actingFor in
                        var sasl = tb_sasl_client(
                            user: user, password: password, service: service, acting_for: actingFor)
                        return body(&sasl)
                    }
                }
            }
        }
    }

    deinit { close() }

    /// A server that authenticates answers a client that does not with a SASL refusal, whose first bytes read as
    /// a frame far over any limit: said for what it is.
    private static func explainingRefusal(
        _ error: ThriftTransportError, _ host: String, _ port: Int
    ) -> ThriftTransportError {
        guard error.message.hasSuffix("Received an oversized frame") else { return error }
        return ThriftTransportError(
            message:
                "\(host):\(port) requires authentication and refused this unauthenticated client: set storm.thrift.transport to org.apache.storm.security.auth.digest.DigestSaslTransportPlugin and java.security.auth.login.config to a JAAS file with a StormClient section (docs/security.md)"
        )
    }

    public func close() {
        state.withLock { connection in
            if let raw = connection.raw { tb_client_close(raw) }
            connection.raw = nil
        }
    }

    /// Sends one call and reads its reply. A transport failure closes the connection.
    public func call<Args: ThriftStruct, Result: ThriftStruct>(
        _ method: String, _ args: Args, as: Result.Type
    ) throws -> Result {
        try state.withLock { connection in
            guard let raw = connection.raw else {
                throw ThriftTransportError(message: "connection to \(host):\(port) is closed")
            }
            connection.seqid &+= 1
            let seqid = connection.seqid
            let p = ThriftProtocol(tb_client_protocol(raw))
            do {
                try p.writeMessageBegin(method, type: ThriftMessageType.call.rawValue, seqid: seqid)
                try args.write(to: p)
                try p.writeMessageEnd()
                try p.flush()
                let header = try p.readMessageBegin()
                if header.type == ThriftMessageType.exception.rawValue {
                    let error = try ThriftApplicationException(from: p)
                    try p.readMessageEnd()
                    throw error
                }
                guard header.type == ThriftMessageType.reply.rawValue else {
                    throw ThriftApplicationException(
                        .invalidMessageType, "\(method): unexpected message type \(header.type)")
                }
                guard header.name == method else {
                    throw ThriftApplicationException(.wrongMethodName, "\(method): reply is for '\(header.name)'")
                }
                guard header.seqid == seqid else {
                    throw ThriftApplicationException(.badSequenceId, "\(method): reply has an out-of-order sequence id")
                }
                let result = try Result(from: p)
                try p.readMessageEnd()
                return result
            } catch let error as ThriftTransportError {
                tb_client_close(raw)
                connection.raw = nil
                throw seqid == 1 && !authenticates ? Self.explainingRefusal(error, host, port) : error
            } catch let error as ThriftDecodingError {
                tb_client_close(raw)
                connection.raw = nil
                throw error
            }
        }
    }
}

/// A client of one service of the IDL over its own connection; the service's methods are generated.
public protocol ThriftServiceClient: Sendable {
    var connection: ThriftClient { get }
    init(connection: ThriftClient)
}

extension ThriftServiceClient {
    /// Connects now (see `ThriftClient.init`).
    public init(
        host: String, port: Int, connectTimeoutMillis: Int = 10_000, ioTimeoutMillis: Int = 10_000,
        maxFrameSize: Int = 1_048_576, credentials: ThriftClientCredentials? = nil, tls: ThriftTLS? = nil
    ) throws {
        self.init(
            connection: try ThriftClient(
                host: host, port: port, connectTimeoutMillis: connectTimeoutMillis, ioTimeoutMillis: ioTimeoutMillis,
                maxFrameSize: maxFrameSize, credentials: credentials, tls: tls))
    }

    public func close() { connection.close() }

    func call<Args: ThriftStruct, Result: ThriftStruct>(
        _ method: String, _ args: Args, as: Result.Type
    ) throws -> Result {
        try connection.call(method, args, as: Result.self)
    }
}

/// A client of the Nimbus service.
public final class NimbusClient: ThriftServiceClient {
    public let connection: ThriftClient
    public init(connection: ThriftClient) { self.connection = connection }
}

/// A client of DRPC's DistributedRPC service (`execute`), as callers use it.
public final class DistributedRPCClient: ThriftServiceClient {
    public let connection: ThriftClient
    public init(connection: ThriftClient) { self.connection = connection }
}

/// A client of DRPC's DistributedRPCInvocations service, as topologies use it (fetch requests, return results).
public final class DistributedRPCInvocationsClient: ThriftServiceClient {
    public let connection: ThriftClient
    public init(connection: ThriftClient) { self.connection = connection }
}

extension NimbusClient {
    /// A whole file nimbus serves (`beginFileDownload`, then `downloadChunk` until an empty chunk).
    public func downloadFile(_ file: String) throws -> [UInt8] {
        let session = try beginFileDownload(file: file)
        var bytes: [UInt8] = []
        while true {
            let chunk = try downloadChunk(id: session)
            if chunk.isEmpty { return bytes }
            bytes += chunk
        }
    }
}
