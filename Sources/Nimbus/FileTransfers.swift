import Foundation
import Locking

/// Topology archives in flight: uploads into `<storm.local.dir>/nimbus/inbox/`, downloads out of stormdist.
///
/// A location or session id is an unguessable name this nimbus issued; a client can only name files through
/// one, so nothing it sends can reach outside those folders. Unfinished uploads idle for longer than
/// `nimbus.file.copy.expiration.secs` are deleted, finished ones `nimbus.inbox.jar.expiration.secs` after they
/// finished (submits read them and leave them, as Storm's nimbus does).
///
/// What a client can make nimbus hold is bounded: no file stays open between chunks (each chunk opens, writes or
/// reads, and closes), unfinished uploads are capped per connection and in all, and so are open downloads.
final class FileTransfers: Sendable {
    struct TransferError: Error, CustomStringConvertible {
        let description: String
    }

    /// How many transfers may be open at once.
    struct Limits: Sendable {
        var uploadsPerConnection: Int
        var uploads: Int
        var downloads: Int
    }

    private struct Upload {
        var bytes: Int = 0
        var lastUsed: Date
        var finished = false
        /// The connection that began it, while unfinished: it counts against that connection's cap.
        var connection: UInt64?
    }

    private struct Download {
        let path: String
        var offset: UInt64 = 0
        var lastUsed: Date
    }

    private struct State {
        var uploads: [String: Upload] = [:]
        var downloads: [String: Download] = [:]

        func unfinishedUploads(of connection: UInt64?) -> Int {
            uploads.values.count { !$0.finished && (connection == nil || $0.connection == connection) }
        }
    }

    let inbox: URL
    let maxUploadBytes: Int
    let expiration: TimeInterval
    let inboxExpiration: TimeInterval
    let limits: Limits
    static let chunkBytes = 256 * 1024
    private let state = Locked(State())

    init(
        inbox: URL, maxUploadBytes: Int, expiration: TimeInterval, inboxExpiration: TimeInterval, limits: Limits
    ) throws {
        self.inbox = inbox
        self.maxUploadBytes = maxUploadBytes
        self.expiration = expiration
        self.inboxExpiration = inboxExpiration
        self.limits = limits
        // Uploads do not survive a restart: whatever a previous run left is abandoned.
        try? FileManager.default.removeItem(at: inbox)
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
    }

    /// A new upload, counted against `connection`'s cap (nil: nimbus' own, counted in the total only).
    func beginUpload(for connection: UInt64? = nil) throws -> String {
        let location = inbox.appendingPathComponent("stormjar-\(UUID().uuidString.lowercased()).jar").path
        try state.withLock { s in
            let unfinished = s.unfinishedUploads(of: nil)
            if unfinished >= limits.uploads {
                throw TransferError(
                    description:
                        "\(unfinished) uploads are unfinished on this nimbus, the most allowed (nimbus.file.upload.max.open); "
                        + "finish or abandon one first (abandoned ones expire after nimbus.file.copy.expiration.secs)")
            }
            if let connection, s.unfinishedUploads(of: connection) >= limits.uploadsPerConnection {
                throw TransferError(
                    description:
                        "this connection has \(limits.uploadsPerConnection) unfinished uploads, the most allowed "
                        + "(nimbus.file.upload.max.open.per.connection); finish one first")
            }
            let fd = open(location, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw TransferError(
                    description: "cannot create upload file \(location): \(String(cString: strerror(errno)))")
            }
            close(fd)
            s.uploads[location] = Upload(lastUsed: Date(), connection: connection)
        }
        return location
    }

    func uploadChunk(_ location: String, _ chunk: [UInt8]) throws {
        try state.withLock { s in
            guard var upload = s.uploads[location] else {
                throw TransferError(
                    description: "upload location '\(location)' was not issued by this nimbus or has expired")
            }
            if upload.finished { throw TransferError(description: "upload '\(location)' is already finished") }
            if upload.bytes + chunk.count > maxUploadBytes {
                Self.discard(&s, location)
                throw TransferError(
                    description:
                        "upload exceeds nimbus.file.upload.max.bytes (\(maxUploadBytes) bytes) and was discarded")
            }
            do {
                try Self.append(chunk, to: location)
            } catch {
                Self.discard(&s, location)
                throw TransferError(description: "cannot write upload '\(location)': \(error)")
            }
            upload.bytes += chunk.count
            upload.lastUsed = Date()
            s.uploads[location] = upload
        }
    }

    func finishUpload(_ location: String) throws {
        try state.withLock { s in
            guard var upload = s.uploads[location] else {
                throw TransferError(
                    description: "upload location '\(location)' was not issued by this nimbus or has expired")
            }
            // Finishing twice is harmless: the file stays as it was.
            if upload.finished { return }
            do {
                try Self.synchronize(location)
            } catch {
                Self.discard(&s, location)
                throw TransferError(description: "cannot finish upload '\(location)': \(error)")
            }
            upload.finished = true
            upload.connection = nil
            upload.lastUsed = Date()
            s.uploads[location] = upload
        }
    }

    /// The file of a finished upload. As in Storm, it stays in the inbox after a submit reads it, so one upload
    /// can serve several submits, until `nimbus.inbox.jar.expiration.secs` after it finished.
    func finishedUpload(_ location: String) throws(TransferError) -> String {
        let known: Bool? = state.withLock { s in s.uploads[location].map(\.finished) }
        switch known {
        case true?: return location
        case false?:
            throw TransferError(description: "upload '\(location)' was not finished (call finishFileUpload first)")
        case nil:
            throw TransferError(
                description: "upload location '\(location)' was never issued by this nimbus (or has expired)")
        }
    }

    func beginDownload(_ path: String) throws -> String {
        guard access(path, R_OK) == 0 else { throw TransferError(description: "cannot open \(path) for download") }
        let id = UUID().uuidString.lowercased()
        try state.withLock { s in
            if s.downloads.count >= limits.downloads {
                throw TransferError(
                    description: "\(s.downloads.count) downloads are open on this nimbus, the most allowed "
                        + "(nimbus.file.download.max.open); read one to its end first")
            }
            s.downloads[id] = Download(path: path, lastUsed: Date())
        }
        return id
    }

    /// The next chunk; an empty one means the file is done and the session is closed.
    func downloadChunk(_ id: String) throws -> [UInt8] {
        try state.withLock { s in
            guard var download = s.downloads[id] else {
                throw TransferError(description: "download session '\(id)' is unknown or has expired")
            }
            let data: [UInt8]
            do {
                data = try Self.read(download.path, at: download.offset, upTo: Self.chunkBytes)
            } catch {
                s.downloads[id] = nil
                throw TransferError(description: "cannot read '\(download.path)' for download: \(error)")
            }
            if data.isEmpty {
                s.downloads[id] = nil
                return []
            }
            download.offset += UInt64(data.count)
            download.lastUsed = Date()
            s.downloads[id] = download
            return data
        }
    }

    /// Deletes unfinished uploads and closes downloads idle for longer than the expiration, and finished uploads
    /// older than the inbox expiration. Returns how many went.
    @discardableResult
    func expire(now: Date = Date()) -> Int {
        state.withLock { s in
            let stale = s.uploads.filter {
                now.timeIntervalSince($0.value.lastUsed) > ($0.value.finished ? inboxExpiration : expiration)
            }.map(\.key)
            stale.forEach { Self.discard(&s, $0) }
            let staleDownloads = s.downloads.filter { now.timeIntervalSince($0.value.lastUsed) > expiration }.map(\.key)
            staleDownloads.forEach { s.downloads[$0] = nil }
            return stale.count + staleDownloads.count
        }
    }

    /// Deletes an upload, finished or not.
    func discard(_ location: String) { state.withLock { Self.discard(&$0, location) } }

    private static func discard(_ s: inout State, _ location: String) {
        s.uploads[location] = nil
        try? FileManager.default.removeItem(atPath: location)
    }

    // MARK: one open, one call, one close per chunk

    private struct SystemError: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { description = "\(what): \(String(cString: strerror(errno)))" }
    }

    private static func append(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SystemError("write") }
            written += n
        }
    }

    private static func synchronize(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError("fsync") }
    }

    private static func read(_ path: String, at offset: UInt64, upTo count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled))
            }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw SystemError("read") }
            if n == 0 { break }
            filled += n
        }
        return Array(buffer.prefix(filled))
    }
}
