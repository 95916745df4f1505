import Foundation
import Locking

/// Topology archives in flight: uploads into `<storm.local.dir>/nimbus/inbox/`, downloads out of stormdist.
///
/// A location or session id is an unguessable name this nimbus issued; a client can only name files through
/// one, so nothing it sends can reach outside those folders. Unfinished uploads idle for longer than
/// `nimbus.file.copy.expiration.secs` are deleted, finished ones `nimbus.inbox.jar.expiration.secs` after they
/// finished (submits read them and leave them, as Storm's nimbus does).
final class FileTransfers: Sendable {
    struct TransferError: Error, CustomStringConvertible {
        let description: String
    }

    private struct Upload {
        let handle: FileHandle
        var bytes: Int = 0
        var lastUsed: Date
        var finished = false
    }

    private struct Download {
        let handle: FileHandle
        var lastUsed: Date
    }

    private struct State {
        var uploads: [String: Upload] = [:]
        var downloads: [String: Download] = [:]
    }

    let inbox: URL
    let maxUploadBytes: Int
    let expiration: TimeInterval
    let inboxExpiration: TimeInterval
    static let chunkBytes = 256 * 1024
    private let state = Locked(State())

    init(inbox: URL, maxUploadBytes: Int, expiration: TimeInterval, inboxExpiration: TimeInterval) throws {
        self.inbox = inbox
        self.maxUploadBytes = maxUploadBytes
        self.expiration = expiration
        self.inboxExpiration = inboxExpiration
        // Uploads do not survive a restart: whatever a previous run left is abandoned.
        try? FileManager.default.removeItem(at: inbox)
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
    }

    func beginUpload() throws -> String {
        let location = inbox.appendingPathComponent("stormjar-\(UUID().uuidString.lowercased()).jar").path
        guard FileManager.default.createFile(atPath: location, contents: nil),
            let handle = FileHandle(forWritingAtPath: location)
        else { throw TransferError(description: "cannot create upload file \(location)") }
        state.withLock { $0.uploads[location] = Upload(handle: handle, lastUsed: Date()) }
        return location
    }

    func uploadChunk(_ location: String, _ chunk: [UInt8]) throws {
        try state.withLock { s in
            guard var upload = s.uploads[location] else {
                throw TransferError(description: "upload location '\(location)' was not issued by this nimbus or has expired")
            }
            if upload.finished { throw TransferError(description: "upload '\(location)' is already finished") }
            if upload.bytes + chunk.count > maxUploadBytes {
                Self.discard(&s, location)
                throw TransferError(
                    description: "upload exceeds nimbus.file.upload.max.bytes (\(maxUploadBytes) bytes) and was discarded")
            }
            do {
                try upload.handle.write(contentsOf: Data(chunk))
            } catch {
                Self.discard(&s, location)
                throw TransferError(description: "cannot write upload '\(location)': \(error.localizedDescription)")
            }
            upload.bytes += chunk.count
            upload.lastUsed = Date()
            s.uploads[location] = upload
        }
    }

    func finishUpload(_ location: String) throws {
        try state.withLock { s in
            guard var upload = s.uploads[location] else {
                throw TransferError(description: "upload location '\(location)' was not issued by this nimbus or has expired")
            }
            // Finishing twice is harmless: the file is closed and stays as it was.
            if upload.finished { return }
            do {
                try upload.handle.synchronize()
                try upload.handle.close()
            } catch {
                Self.discard(&s, location)
                throw TransferError(description: "cannot finish upload '\(location)': \(error.localizedDescription)")
            }
            upload.finished = true
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
        case false?: throw TransferError(description: "upload '\(location)' was not finished (call finishFileUpload first)")
        case nil:
            throw TransferError(
                description: "upload location '\(location)' was never issued by this nimbus (or has expired)")
        }
    }

    func beginDownload(_ path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TransferError(description: "cannot open \(path) for download")
        }
        let id = UUID().uuidString.lowercased()
        state.withLock { $0.downloads[id] = Download(handle: handle, lastUsed: Date()) }
        return id
    }

    /// The next chunk; an empty one means the file is done and the session is closed.
    func downloadChunk(_ id: String) throws -> [UInt8] {
        try state.withLock { s in
            guard var download = s.downloads[id] else {
                throw TransferError(description: "download session '\(id)' is unknown or has expired")
            }
            let data = (try? download.handle.read(upToCount: Self.chunkBytes)) ?? Data()
            if data.isEmpty {
                try? download.handle.close()
                s.downloads[id] = nil
                return []
            }
            download.lastUsed = Date()
            s.downloads[id] = download
            return [UInt8](data)
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
            for id in staleDownloads {
                try? s.downloads[id]?.handle.close()
                s.downloads[id] = nil
            }
            return stale.count + staleDownloads.count
        }
    }

    /// Deletes an upload, finished or not.
    func discard(_ location: String) { state.withLock { Self.discard(&$0, location) } }

    private static func discard(_ s: inout State, _ location: String) {
        if let upload = s.uploads.removeValue(forKey: location) { try? upload.handle.close() }
        try? FileManager.default.removeItem(atPath: location)
    }
}
