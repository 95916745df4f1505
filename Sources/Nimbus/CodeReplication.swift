import ClusterState
import Foundation
import Locking
import StormCore
import StormThrift

/// Every nimbus keeps every live topology's files (archive, structure, conf), so that any of them can lead and
/// serve supervisors. The structure and conf live in the cluster state; the archive is copied from a nimbus that
/// holds it, or handed back by a supervisor (`beginUpdateBlob`) when no nimbus does. A nimbus that holds all of a
/// topology's files says so under `code-holders/<id>/`: their count is the topology's replication count.
extension Nimbus {
    struct CodeUnavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// Makes sure this nimbus holds the files of every live topology and says so.
    func replicateCode() async {
        let alive: [String]
        do {
            alive = try await state.activeStorms()
        } catch {
            logger.warning("could not list topologies to copy their files: \(error)")
            return
        }
        for id in alive {
            do {
                if !code.has(id) { try await restoreFiles(id) }
                try await registerHolding(id)
                clearTrouble(id + "/files", "nimbus \(address) holds the files of topology \(id) again")
            } catch {
                reportTrouble(id + "/files", "nimbus \(address) lacks the files of topology \(id): \(error)")
            }
        }
        await refreshReplicationCounts(alive)
        if leadership { await mendTopologyRecords(alive) }
    }

    /// Re-reads every topology's replication count, at most once a monitor period.
    private func refreshReplicationCounts(_ alive: [String]) async {
        let period = TimeInterval(conf.intOrDefault(ConfigKey.nimbusMonitorFreqSecs))
        guard Date().timeIntervalSince(replicationCounts.readAt) >= period else { return }
        var counts: [String: Int] = [:]
        do {
            for id in alive { counts[id] = try await state.codeHolders(id).count }
        } catch {
            return
        }
        replicationCounts = (Date(), counts)
    }

    /// Says, once per cluster state session, that this nimbus holds a topology's files. A topology submitted
    /// before the cluster state kept structure and conf gets those records from the files here.
    func registerHolding(_ id: String) async throws {
        guard code.has(id), !heldCode.contains(id) else { return }
        if try await state.topologyCode(id) == nil {
            try await state.setTopologyRecords(
                id, topology: try code.topology(id), confJSON: try JSON.encode(.map(try code.conf(id))))
        }
        try await state.addCodeHolder(id, hostPort: address)
        heldCode.insert(id)
        if let count = try? await state.codeHolders(id).count {
            replicationCounts.counts[id] = count
        }
    }

    /// Rebuilds a topology's files here: structure and conf from the cluster state, the archive from the first
    /// nimbus that can send it (those that hold it, then the leader).
    func restoreFiles(_ id: String) async throws {
        let (holders, leader) = (try await state.codeHolders(id), try await election.leader())
        let peers = (holders + [leader].compactMap { $0 }).filter { $0 != address }
        guard !peers.isEmpty else {
            throw CodeUnavailable(
                description: "no other nimbus holds its archive (a supervisor that has it hands it back)")
        }
        var failures: [String] = []
        for peer in Array(Set(peers)).sorted() {
            do {
                let archive = try await download(TopologyCodeStore.archiveFile, of: id, from: peer)
                try await saveRestored(id, archive: archive)
                logger.info("copied the archive of topology \(id) from nimbus \(peer)")
                return
            } catch {
                failures.append("\(peer): \(error)")
            }
        }
        throw CodeUnavailable(description: "no nimbus could send its archive (\(failures.joined(separator: "; ")))")
    }

    /// Writes a topology's three files from an archive and the cluster state's records, all or none.
    func saveRestored(_ id: String, archive: [UInt8]) async throws {
        let (topology, topoConf) = try await stored(id)
        let files = [
            TopologyCodeStore.archiveFile: archive,
            TopologyCodeStore.codeFile: try ThriftSerialization.serialize(topology),
            TopologyCodeStore.confFile: Array(try JSON.encode(.map(topoConf)).utf8),
        ]
        // The archive may be large: written on a thread of its own, off the cooperative pool.
        try await onOwnThread { [code] in try code.saveFiles(id: id, files) }
    }

    /// Downloads one of a topology's files from another nimbus. The Thrift client blocks, so it runs on a thread
    /// of its own (the other nimbus may be this process' own, in tests, and need the cooperative pool to answer).
    private nonisolated func download(_ file: String, of id: String, from peer: String) async throws -> [UInt8] {
        let (host, port) = NimbusSeeds.split(peer, defaultPort: self.port)
        return try await onOwnThread { [conf] in
            let client = try NimbusSeeds.connect(host: host, port: port, conf, ioTimeoutMillis: 30000)
            defer { client.close() }
            return try client.downloadFile("\(id)/\(file)")
        }
    }

    // MARK: Storm's blob keys for topology files

    /// A topology blob key as Storm names them: `<id>-stormjar.jar`, `<id>-stormcode.ser`, `<id>-stormconf.ser`.
    static func topologyBlob(_ key: String) -> (id: String, file: String)? {
        for file in TopologyCodeStore.files where key.hasSuffix("-" + file) {
            let id = String(key.dropLast(file.count + 1))
            if !id.isEmpty { return (id, file) }
        }
        return nil
    }

    private nonisolated func aliveTopology(forBlob key: String) async throws -> (id: String, file: String) {
        guard let blob = Self.topologyBlob(key), try await state.stormBase(blob.id) != nil else {
            throw KeyNotFoundException(msg: "no blob '\(key)': this nimbus keeps only live topologies' files")
        }
        return blob
    }

    /// How many nimbuses hold a topology's files.
    public nonisolated func getBlobReplication(key: String) async throws -> Int32 {
        let blob = try await aliveTopology(forBlob: key)
        return Int32(clamping: try await state.codeHolders(blob.id).count)
    }

    /// Hands back a topology's archive to a nimbus that lacks it (a supervisor does, when no nimbus holds it).
    /// Only an archive this nimbus does not hold can be written: a topology's files never change under it.
    public func beginUpdateBlob(key: String) async throws -> String {
        let blob = try await aliveTopology(forBlob: key)
        guard blob.file == TopologyCodeStore.archiveFile else {
            throw AuthorizationException(msg: "'\(key)' is restored from the cluster state, not uploaded")
        }
        if code.has(blob.id) {
            throw AuthorizationException(
                msg: "nimbus \(address) already holds '\(key)'; a topology's archive is written only at submit")
        }
        let session = try transfers.beginUpload(for: ThriftConnection.current)
        archiveRestores[session] = blob.id
        return session
    }

    public func uploadBlobChunk(session: String, chunk: [UInt8]) async throws {
        guard archiveRestores[session] != nil else {
            throw FileTransfers.TransferError(description: "blob upload session '\(session)' is unknown or has expired")
        }
        try transfers.uploadChunk(session, chunk)
    }

    public func finishBlobUpload(session: String) async throws {
        guard let id = archiveRestores.removeValue(forKey: session) else {
            throw FileTransfers.TransferError(description: "blob upload session '\(session)' is unknown or has expired")
        }
        try transfers.finishUpload(session)
        let path = try transfers.finishedUpload(session)
        defer { transfers.discard(session) }
        guard !code.has(id) else { return }
        let archive = try await onOwnThread { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }
        try await writeSection {
            try await saveRestored(id, archive: archive)
            try await registerHolding(id)
        }
        logger.info("restored the archive of topology \(id) from an upload (\(archive.count) bytes)")
        monitorSoon()
    }

    public func cancelBlobUpload(session: String) async throws {
        if archiveRestores.removeValue(forKey: session) != nil { transfers.discard(session) }
    }
}
