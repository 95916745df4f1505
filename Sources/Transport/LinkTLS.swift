internal import CTLS
import Dispatch

/// TLS on worker links (Storm's `storm.messaging.netty.tls.*`): each end shows a certificate that chains to the
/// other's truststore (a cluster's workers share one CA), and the link's frames are encrypted. The handshake runs
/// as the connection opens, before the hello; the topology's secret, when there is one, is still proved after it.
///
/// OpenSSL contexts are immutable once made and safe to use from any thread, so one serves every connection.
public final class LinkTLS: @unchecked Sendable {
    private let server: OpaquePointer
    private let client: OpaquePointer
    /// How long a handshake may take before the connection is dropped.
    let handshakeTimeoutMillis: Int32

    /// The receiving side presents `keystore` and trusts `truststore`; the sending side presents `clientKeystore`
    /// and trusts `clientTruststore` (each the server's when nil). Keystores are PKCS#12 or PEM.
    public init(
        keystore: String, keystorePassword: String?, truststore: String, truststorePassword: String?,
        clientKeystore: String? = nil, clientKeystorePassword: String? = nil, clientTruststore: String? = nil,
        clientTruststorePassword: String? = nil, handshakeTimeoutMillis: Int32 = 5_000
    ) throws(TransportError) {
        server = try Self.context(
            server: true, keystore, keystorePassword, truststore, truststorePassword)
        do {
            client = try Self.context(
                server: false, clientKeystore ?? keystore,
                clientKeystore == nil ? keystorePassword : clientKeystorePassword, clientTruststore ?? truststore,
                clientTruststore == nil ? truststorePassword : clientTruststorePassword)
        } catch {
            ctls_context_free(server)
            throw error
        }
        self.handshakeTimeoutMillis = handshakeTimeoutMillis
    }

    deinit {
        ctls_context_free(server)
        ctls_context_free(client)
    }

    private static func context(
        server: Bool, _ keystore: String, _ keystorePassword: String?, _ truststore: String,
        _ truststorePassword: String?
    ) throws(TransportError) -> OpaquePointer {
        var error = [CChar](repeating: 0, count: 512)
        guard
            let context = ctls_context_new(
                server ? 1 : 0, keystore, keystorePassword, truststore, truststorePassword, &error, error.count)
        else { throw TransportError("TLS: \(message(error))") }
        return context
    }

    /// The receiving side's handshake on an accepted connection.
    func accept(_ socket: Socket) throws(TransportError) -> TLSStream {
        try TLSStream(socket, context: server, timeoutMillis: handshakeTimeoutMillis)
    }

    /// The sending side's handshake on a connection it opened.
    func connect(_ socket: Socket) throws(TransportError) -> TLSStream {
        try TLSStream(socket, context: client, timeoutMillis: handshakeTimeoutMillis)
    }
}

/// The bytes of one connection, plain or through TLS: what the transport reads frames from and writes them to.
protocol FrameStream {
    /// Reads what is available (at least one byte), or 0 at the end of the stream. Given a deadline (uptime
    /// nanoseconds), waits for bytes no longer than that and throws when it passes.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, deadline: UInt64?) throws(TransportError) -> Int
    func writeAll(_ bytes: [UInt8]) throws(TransportError)
}

/// A TLS session over one connection, used by the one thread that owns the connection (OpenSSL sessions are not
/// safe to share).
final class TLSStream: FrameStream {
    let socket: Socket
    private let session: OpaquePointer
    private var error = [CChar](repeating: 0, count: 256)

    fileprivate init(_ socket: Socket, context: OpaquePointer, timeoutMillis: Int32) throws(TransportError) {
        self.socket = socket
        var error = [CChar](repeating: 0, count: 256)
        guard let session = ctls_session_new(context, socket.fd, timeoutMillis, &error, error.count) else {
            throw TransportError("TLS handshake: \(message(error))")
        }
        self.session = session
    }

    deinit { ctls_session_free(session) }

    func read(into buffer: UnsafeMutableRawPointer, count: Int, deadline: UInt64?) throws(TransportError) -> Int {
        // Bytes OpenSSL has already decrypted are not seen by a poll on the descriptor.
        if let deadline, ctls_pending(session) == 0 { try socket.waitReadable(until: deadline) }
        let n = ctls_read(session, buffer, count, &error, error.count)
        guard n >= 0 else { throw TransportError("read: \(message(error))") }
        return n
    }

    func writeAll(_ bytes: [UInt8]) throws(TransportError) {
        let failed = bytes.withUnsafeBytes { raw in ctls_write(session, raw.baseAddress, raw.count, &error, error.count)
        }
        if failed != 0 { throw TransportError("write: \(message(error))") }
    }
}

/// The text OpenSSL's helpers wrote into `buffer` (NUL-terminated).
private func message(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
