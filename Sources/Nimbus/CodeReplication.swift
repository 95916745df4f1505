import ClusterState
import Foundation
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
    func replicateCode() {
        let alive: [String]
        do {
            alive = try blockingAwait { [state] in try await state.activeStorms() }
        } catch {
            logger.warning("could not list topologies to copy their files: \(error)")
            return
        }
        for id in alive {
            do {
                if !code.has(id) { try restoreFiles(id) }
                try registerHolding(id)
                clearTrouble(id + "/files", "nimbus \(address) holds the files of topology \(id) again")
            } catch {
                reportTrouble(id + "/files", "nimbus \(address) lacks the files of topology \(id): \(error)")
            }
        }
        refreshReplicationCounts(alive)
        if leadership.withLock({ $0 }) { mendTopologyRecords(alive) }
    }

    /// Re-reads every topology's replication count, at most once a monitor period.
    private func refreshReplicationCounts(_ alive: [String]) {
        let period = TimeInterval(conf.intOrDefault(ConfigKey.nimbusMonitorFreqSecs))
        guard Date().timeIntervalSince(replicationCounts.withLock { $0.readAt }) >= period else { return }
        guard let counts = try? blockingAwait({ [state] in
            var out: [String: Int] = [:]
            for id in alive { out[id] = try await state.codeHolders(id).count }
            return out
        }) else { return }
        replicationCounts.withLock { $0 = (Date(), counts) }
    }

    /// Says, once per cluster state session, that this nimbus holds a topology's files. A topology submitted
    /// before the cluster state kept structure and conf gets those records from the files here.
    func registerHolding(_ id: String) throws {
        guard code.has(id), !heldCode.withLock({ $0.contains(id) }) else { return }
        let (address, code) = (self.address, self.code)
        try blockingAwait { [state] in
            if try await state.topologyCode(id) == nil {
                try await state.setTopologyRecords(id, topology: try code.topology(id), confJSON: try JSON.encode(.map(try code.conf(id))))
            }
            try await state.addCodeHolder(id, hostPort: address)
        }
        heldCode.withLock { _ = $0.insert(id) }
        if let count = try? blockingAwait({ [state] in try await state.codeHolders(id).count }) {
            replicationCounts.withLock { $0.counts[id] = count }
        }
    }

    /// Rebuilds a topology's files here: structure and conf from the cluster state, the archive from the first
    /// nimbus that can send it (those that hold it, then the leader).
    func restoreFiles(_ id: String) throws {
        let (election, address) = (self.election, self.address)
        let (holders, leader) = try blockingAwait { [state] in
            (try await state.codeHolders(id), try await election.leader())
        }
        let peers = (holders + [leader].compactMap { $0 }).filter { $0 != address }
        guard !peers.isEmpty else {
            throw CodeUnavailable(description: "no other nimbus holds its archive (a supervisor that has it hands it back)")
        }
        var failures: [String] = []
        for peer in Array(Set(peers)).sorted() {
            do {
                let archive = try download(TopologyCodeStore.archiveFile, of: id, from: peer)
                try saveRestored(id, archive: archive)
                logger.info("copied the archive of topology \(id) from nimbus \(peer)")
                return
            } catch {
                failures.append("\(peer): \(error)")
            }
        }
        throw CodeUnavailable(description: "no nimbus could send its archive (\(failures.joined(separator: "; ")))")
    }

    /// Writes a topology's three files from an archive and the cluster state's records, all or none.
    func saveRestored(_ id: String, archive: [UInt8]) throws {
        let (topology, topoConf) = try blockingAwait { [self] in try await stored(id) }
        try code.saveFiles(
            id: id,
            [
                TopologyCodeStore.archiveFile: archive,
                TopologyCodeStore.codeFile: try ThriftSerialization.serialize(topology),
                TopologyCodeStore.confFile: Array(try JSON.encode(.map(topoConf)).utf8),
            ])
    }

    private func download(_ file: String, of id: String, from peer: String) throws -> [UInt8] {
        let (host, port) = NimbusSeeds.split(peer, defaultPort: self.port)
        let client = try NimbusClient(host: host, port: port, connectTimeoutMillis: 5000, ioTimeoutMillis: 30000)
        defer { client.close() }
        return try client.downloadFile("\(id)/\(file)")
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

    private func aliveTopology(forBlob key: String) throws -> (id: String, file: String) {
        guard let blob = Self.topologyBlob(key),
            try blockingAwait({ [state] in try await state.stormBase(blob.id) }) != nil
        else { throw KeyNotFoundException(msg: "no blob '\(key)': this nimbus keeps only live topologies' files") }
        return blob
    }

    /// How many nimbuses hold a topology's files.
    public func getBlobReplication(key: String) throws -> Int32 {
        let blob = try aliveTopology(forBlob: key)
        return Int32(clamping: try blockingAwait { [state] in try await state.codeHolders(blob.id).count })
    }

    /// Hands back a topology's archive to a nimbus that lacks it (a supervisor does, when no nimbus holds it).
    /// Only an archive this nimbus does not hold can be written: a topology's files never change under it.
    public func beginUpdateBlob(key: String) throws -> String {
        let blob = try aliveTopology(forBlob: key)
        guard blob.file == TopologyCodeStore.archiveFile else {
            throw AuthorizationException(msg: "'\(key)' is restored from the cluster state, not uploaded")
        }
        if code.has(blob.id) {
            throw AuthorizationException(msg: "nimbus \(address) already holds '\(key)'; a topology's archive is written only at submit")
        }
        let session = try transfers.beginUpload(for: ThriftConnection.current)
        archiveRestores.withLock { $0[session] = blob.id }
        return session
    }

    public func uploadBlobChunk(session: String, chunk: [UInt8]) throws {
        guard archiveRestores.withLock({ $0[session] }) != nil else {
            throw FileTransfers.TransferError(description: "blob upload session '\(session)' is unknown or has expired")
        }
        try transfers.uploadChunk(session, chunk)
    }

    public func finishBlobUpload(session: String) throws {
        guard let id = archiveRestores.withLock({ $0.removeValue(forKey: session) }) else {
            throw FileTransfers.TransferError(description: "blob upload session '\(session)' is unknown or has expired")
        }
        try transfers.finishUpload(session)
        let path = try transfers.finishedUpload(session)
        defer { transfers.discard(session) }
        guard !code.has(id) else { return }
        let archive = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        try writes.withLock { _ in
            try saveRestored(id, archive: archive)
            try registerHolding(id)
        }
        logger.info("restored the archive of topology \(id) from an upload (\(archive.count) bytes)")
        monitorSoon()
    }

    public func cancelBlobUpload(session: String) throws {
        if archiveRestores.withLock({ $0.removeValue(forKey: session) }) != nil { transfers.discard(session) }
    }
}
