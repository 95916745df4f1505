import StormThrift

/// Finding the leader nimbus, as Storm's clients do: ask the first reachable of `nimbus.seeds` (entries `host`
/// or `host:port`) which nimbus leads, and connect there.
public enum NimbusSeeds {
    public struct Unreachable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// With `actingFor`, the client asks nimbus to treat its calls as that user's (`nimbus.impersonation.acl`).
    public static func connectToLeader(
        _ conf: StormConfig, connectTimeoutMillis: Int = 5_000, actingFor: String? = nil
    ) throws -> NimbusClient {
        let seeds = try conf.stringList(ConfigKey.nimbusSeeds)
        let defaultPort = try conf.int(ConfigKey.nimbusThriftPort)
        // Over TLS, every nimbus is reached on its TLS port, as Storm's clients do.
        let tlsPort = try NimbusTLS.client(conf) != nil ? try NimbusTLS.port(conf) : nil
        if try NimbusTLS.client(conf) != nil && tlsPort == nil {
            throw ConfigError.invalid(NimbusTLS.clientUseKey, reason: "is true, but \(NimbusTLS.portKey) is not set")
        }
        var failures: [String] = []
        for seed in seeds {
            let (host, seedPort) = split(seed, defaultPort: defaultPort)
            let port = tlsPort ?? seedPort
            do {
                let seedClient = try connect(
                    host: host, port: port, conf, connectTimeoutMillis: connectTimeoutMillis, actingFor: actingFor)
                let leader: NimbusSummary
                do {
                    leader = try seedClient.getLeader()
                } catch let error as ThriftTransportError {
                    // The connection is gone (a server that wants authentication closes it at once).
                    throw error
                } catch {
                    return seedClient
                }
                let leaderPort = tlsPort.map { Int(leader.tlsPort ?? Int32($0)) } ?? Int(leader.port)
                guard leader.host != host || leaderPort != port else { return seedClient }
                if let leaderClient = try? connect(
                    host: leader.host, port: leaderPort, conf, connectTimeoutMillis: connectTimeoutMillis,
                    actingFor: actingFor)
                {
                    seedClient.close()
                    return leaderClient
                }
                return seedClient
            } catch let error as ConfigError {
                throw error
            } catch {
                failures.append("\(host):\(port) (\(error))")
            }
        }
        throw Unreachable(description: "cannot reach nimbus at \(failures.joined(separator: ", "))")
    }

    /// A client of the nimbus at `host:port`, with `conf`'s timeouts, frame limit and credentials (acting for
    /// `actingFor`, if given).
    public static func connect(
        host: String, port: Int, _ conf: StormConfig, connectTimeoutMillis: Int = 5_000, ioTimeoutMillis: Int? = nil,
        actingFor: String? = nil
    ) throws -> NimbusClient {
        let tls = try NimbusTLS.client(conf)
        return try NimbusClient(
            host: host, port: port, connectTimeoutMillis: connectTimeoutMillis,
            ioTimeoutMillis: try ioTimeoutMillis
                ?? conf.int(tls == nil ? ConfigKey.thriftSocketTimeoutMs : ConfigKey.thriftTLSSocketTimeoutMs),
            maxFrameSize: conf.intOrDefault(ConfigKey.nimbusThriftMaxBufferSize),
            credentials: tls != nil ? nil : ThriftSecurity.clientCredentials(conf, .nimbus)?.acting(for: actingFor),
            tls: tls)
    }

    public static func split(_ seed: String, defaultPort: Int) -> (String, Int) {
        if let colon = seed.lastIndex(of: ":"), let port = Int(seed[seed.index(after: colon)...]) {
            return (String(seed[..<colon]), port)
        }
        return (seed, defaultPort)
    }
}
