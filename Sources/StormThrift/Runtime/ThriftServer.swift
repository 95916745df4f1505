internal import CThriftBridge
import Foundation
import Locking
import Logging

/// A Thrift server on libthrift's non-blocking server: framed transport, binary protocol, a frame size limit.
///
/// One I/O thread reads whole frames from every connection; a pool of `threads` runs the calls, so a connection
/// holds a pool thread only while a call of its own runs. On its pool thread, `dispatch` decodes a call's
/// arguments (so it must be safe to call concurrently) and returns the call; the call then runs as a Swift task,
/// the pool thread waiting for its reply (`awaitCall`, the one place libthrift's threads meet async code).
/// `ThriftConnection.current` names, in that task, the connection whose call it is. A connection that sends bytes
/// that are not Thrift, or a frame over the limit, is closed; others are untouched.
public final class ThriftServer: Sendable {
    /// Decodes a call's arguments for `method` and returns the call, or nil when the method is unknown.
    public typealias Dispatch = @Sendable (_ method: String, _ input: ThriftProtocol) throws -> ThriftCall?

    private let raw: Locked<ServerHandle?>
    /// The retained Handler the C++ processor calls into, as an address (released by stop()).
    private let context: UInt
    public let port: Int

    /// `ioTimeoutMillis` closes a connection with no complete call for that long (0: never); `maxConnections`
    /// bounds the connections open at once (0: only by the process' descriptor limit). With
    /// `cancellingCallsOfClosedConnections`, a call still running when its caller has closed the connection is
    /// cancelled (noticed within a second): for servers whose long calls are waits that cancelling ends cleanly.
    /// With `authentication`, every connection authenticates (SASL DIGEST-MD5) before any of its frames is read,
    /// and `ThriftConnection.principal` names its user in each call. A client that asks to act for another user
    /// is refused unless `mayActFor` allows it; its calls then see that user as the principal. With `tls`,
    /// connections speak TLS and a call's principal is the subject of its client's certificate.
    public init(
        host: String, port: Int, threads: Int, maxFrameSize: Int, ioTimeoutMillis: Int = 0, maxConnections: Int = 0,
        cancellingCallsOfClosedConnections: Bool = false, authentication: ThriftServerAuthentication? = nil,
        mayActFor: ThriftImpersonationCheck? = nil, tls: ThriftTLS? = nil, logger: Logger,
        dispatch: @escaping Dispatch
    ) throws {
        ThriftDiagnostics.route(to: logger)
        let box = Unmanaged.passRetained(
            Handler(
                dispatch: dispatch, cancelsAbandonedCalls: cancellingCallsOfClosedConnections, mayActFor: mayActFor,
                logger: logger)
        ).toOpaque()
        let started = Self.withSaslSettings(authentication, mayActFor: mayActFor == nil ? nil : box) { sasl in
            ThriftTLS.withC(tls) { tls in
                tb_server_start(
                    host, Int32(port), Int32(threads), Int32(maxFrameSize), Int32(clamping: ioTimeoutMillis),
                    Int32(clamping: maxConnections), sasl, tls, handleMessage, box)
            }
        }
        guard let raw = started else {
            Unmanaged<Handler>.fromOpaque(box).release()
            throw ThriftTransportError.last("listening on \(host):\(port)")
        }
        self.raw = Locked(ServerHandle(pointer: raw))
        self.context = UInt(bitPattern: box)
        self.port = Int(tb_server_port(raw))
    }

    /// The C view of `authentication`, valid inside `body` (the server copies what it keeps).
    private static func withSaslSettings<T>(
        _ authentication: ThriftServerAuthentication?, mayActFor handler: UnsafeMutableRawPointer?,
        _ body: (UnsafePointer<tb_sasl_server>?) -> T
    ) -> T {
        guard let authentication else { return body(nil) }
        let users = authentication.users.sorted { $0.key < $1.key }
        let names = users.map { UnsafePointer(strdup($0.key)) }
        let passwords = users.map { UnsafePointer(strdup($0.value)) }
        defer {
            for pointer in names + passwords { free(UnsafeMutablePointer(mutating: pointer)) }
        }
        return names.withUnsafeBufferPointer { namePointers in
            passwords.withUnsafeBufferPointer { passwordPointers in
                ThriftSasl.service.withCString { service in
                    ThriftSasl.realm.withCString { realm in
                        var settings = tb_sasl_server(
                            users: namePointers.baseAddress, passwords: passwordPointers.baseAddress,
                            user_count: Int32(users.count), service: service, realm: realm,
                            handshake_timeout_ms: Int32(clamping: authentication.handshakeTimeoutMillis),
                            may_act: handler == nil ? nil : askMayAct, may_act_context: handler)
                        return body(&settings)
                    }
                }
            }
        }
    }

    /// Connections open now.
    public var openConnections: Int { raw.withLock { $0.map { Int(tb_server_connections($0.pointer)) } ?? 0 } }

    /// Stops accepting, closes open connections and waits for the pool threads. Safe to call more than once.
    public func stop() {
        let server = raw.withLock { raw -> OpaquePointer? in
            defer { raw = nil }
            return raw?.pointer
        }
        guard let server else { return }
        tb_server_stop(server)
        Unmanaged<Handler>.fromOpaque(UnsafeRawPointer(bitPattern: context)!).release()
    }

    /// stop() from async code: the blocking part runs on its own thread, so it never holds a thread of the
    /// cooperative pool while connection threads may still need that pool to finish their calls.
    public func shutdown() async {
        await onOwnThread { self.stop() }
    }

    deinit { stop() }
}

/// libthrift prints its own diagnostics to stderr by default; they go to a Logger at debug level instead (or
/// nowhere, until a logger is given), since every failure they describe also reaches the caller as an error.
/// The server's own warnings (connections refused, accept failing) go at warning level: nobody else sees them.
public enum ThriftDiagnostics {
    private static let sink = Locked<Logger?>(nil)
    private static let installed = Locked(false)

    public static func route(to logger: Logger) {
        sink.withLock { $0 = logger }
        install()
    }

    static func install() {
        let first = installed.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        tb_set_log_handler { level, message in
            guard let message, let logger = ThriftDiagnostics.sink.withLock({ $0 }) else { return }
            if level == Int32(TB_LOG_WARNING) {
                logger.warning("\(String(cString: message))")
            } else {
                logger.debug("libthrift: \(String(cString: message))")
            }
        }
    }
}

private final class Handler: Sendable {
    let dispatch: ThriftServer.Dispatch
    let cancelsAbandonedCalls: Bool
    let mayActFor: ThriftImpersonationCheck?
    let logger: Logger

    init(
        dispatch: @escaping ThriftServer.Dispatch, cancelsAbandonedCalls: Bool,
        mayActFor: ThriftImpersonationCheck?, logger: Logger
    ) {
        self.dispatch = dispatch
        self.cancelsAbandonedCalls = cancelsAbandonedCalls
        self.mayActFor = mayActFor
        self.logger = logger
    }

    /// Serves one message of `connection` (whose socket is `fd`, authenticated as `principal`); false closes the
    /// connection.
    func serve(
        _ input: ThriftProtocol, _ output: ThriftProtocol, connection: UInt64, fd: Int32, principal: String?
    ) -> Bool {
        let header: (name: String, type: Int8, seqid: Int32)
        do {
            header = try input.readMessageBegin()
        } catch {
            // End of stream, a frame over the limit or bytes that are not Thrift: drop only this connection.
            logger.debug("closing a Thrift connection: \(error)")
            return false
        }
        guard header.type == ThriftMessageType.call.rawValue || header.type == ThriftMessageType.oneway.rawValue else {
            logger.warning("closing a Thrift connection that sent message type \(header.type)")
            return false
        }
        let reply: ThriftReply?
        var readToEnd = false
        do {
            if let call = try dispatch(header.name, input) {
                try input.readMessageEnd()
                readToEnd = true
                reply = try awaitCall(
                    call, connection: connection, principal: principal, fd: cancelsAbandonedCalls ? fd : -1)
            } else {
                try input.skip(.struct)
                try input.readMessageEnd()
                reply = nil
            }
        } catch let error as ThriftApplicationException {
            if !readToEnd { try? input.readMessageEnd() }
            return send(error, header, output)
        } catch let error as ThriftDecodingError {
            // The rest of the message may still be unread: answer, then drop the connection to resynchronize.
            _ = send(ThriftApplicationException(.protocolError, "\(header.name): \(error)"), header, output)
            return false
        } catch let error as ThriftTransportError {
            logger.debug("closing a Thrift connection in \(header.name): \(error)")
            return false
        } catch {
            if !readToEnd { try? input.readMessageEnd() }
            logger.warning("\(header.name) failed: \(error)")
            return send(ThriftApplicationException(.internalError, "\(header.name) failed: \(error)"), header, output)
        }
        guard let reply else {
            let error = ThriftApplicationException(.unknownMethod, "Invalid method name: '\(header.name)'")
            return send(error, header, output)
        }
        if header.type == ThriftMessageType.oneway.rawValue { return true }
        guard case .result(let result) = reply else { return true }
        do {
            try output.writeMessageBegin(header.name, type: ThriftMessageType.reply.rawValue, seqid: header.seqid)
            try result.write(to: output)
            try output.writeMessageEnd()
            try output.flush()
            return true
        } catch {
            logger.debug("closing a Thrift connection while replying to \(header.name): \(error)")
            return false
        }
    }

    /// Runs a decoded call as a task, with `ThriftConnection.current` set, and blocks this pool thread until its
    /// reply. Pool threads are libthrift's, not Swift's cooperative pool, so waiting here holds up no task; it is
    /// the only place a server's threads wait for async code. Given the socket (`fd` not -1), a call still running
    /// after a second looks at it each second: when the caller has closed it, the task is cancelled (a DRPC
    /// `execute` then gives up its request), since libthrift reads nothing from a connection while its call runs
    /// and would never say.
    /// Where calls run: Dispatch's threads, not Swift's cooperative pool (as wide as the cores), so a process
    /// whose other async code blocks that pool's threads (a test suite, a runtime stopping) still answers.
    private static let callExecutor = DispatchTaskExecutor(label: "thrift-calls")

    private func awaitCall(
        _ call: @escaping ThriftCall, connection: UInt64, principal: String?, fd: Int32
    ) throws -> ThriftReply {
        let outcome = Locked<Result<ThriftReply, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        let task = Task(executorPreference: Self.callExecutor) {
            let result: Result<ThriftReply, any Error>
            do {
                result = .success(
                    try await ThriftConnection.$current.withValue(connection) {
                        try await ThriftConnection.$principal.withValue(principal) { try await call() }
                    })
            } catch {
                result = .failure(error)
            }
            outcome.withLock { $0 = result }
            done.signal()
        }
        while done.wait(timeout: .now() + 1) == .timedOut {
            if fd >= 0 && !task.isCancelled && Self.peerClosed(fd) { task.cancel() }
        }
        return try outcome.withLock { $0! }.get()
    }

    /// Whether the other end of a connected socket has closed it (or reset it), without consuming what it sent.
    private static func peerClosed(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        let read = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if read == 0 { return true }
        return read < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
    }

    private func send(
        _ error: ThriftApplicationException, _ header: (name: String, type: Int8, seqid: Int32),
        _ output: ThriftProtocol
    ) -> Bool {
        do {
            try output.writeMessageBegin(header.name, type: ThriftMessageType.exception.rawValue, seqid: header.seqid)
            try error.write(to: output)
            try output.writeMessageEnd()
            try output.flush()
            return true
        } catch {
            return false
        }
    }
}

/// The connection whose call is being served, for handlers that bound what one client may hold.
public enum ThriftConnection {
    /// Unique for the server's life; nil outside a served call.
    @TaskLocal public static var current: UInt64?
    /// The user the connection authenticated as; nil when the server does not authenticate (or outside a call).
    @TaskLocal public static var principal: String?
}

private let askMayAct: tb_may_act_fn = { context, user, actingFor, peerAddress in
    guard let context, let user, let actingFor, let peerAddress else { return 0 }
    let handler = Unmanaged<Handler>.fromOpaque(context).takeUnretainedValue()
    let allowed =
        handler.mayActFor?(String(cString: user), String(cString: actingFor), String(cString: peerAddress)) ?? false
    return allowed ? 1 : 0
}

private let handleMessage: tb_handler_fn = { context, connection, fd, principal, input, output in
    guard let context, let input, let output else { return 1 }
    let handler = Unmanaged<Handler>.fromOpaque(context).takeUnretainedValue()
    let served = handler.serve(
        ThriftProtocol(input), ThriftProtocol(output), connection: connection, fd: fd,
        principal: principal.map { String(cString: $0) })
    return served ? 0 : 1
}

/// The C++ server's handle: libthrift's server object is used from any thread (its own calls are thread-safe), and
/// the owner's lock decides who may still use it.
private struct ServerHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Runs jobs on a concurrent Dispatch queue, whose threads grow when some are blocked.
final class DispatchTaskExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label, attributes: .concurrent) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
