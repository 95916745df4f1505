import StormThrift

/// Finding the leader nimbus, as Storm's clients do: ask the first reachable of `nimbus.seeds` (entries `host`
/// or `host:port`) which nimbus leads, and connect there.
public enum NimbusSeeds {
    public struct Unreachable: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public static func connectToLeader(_ conf: StormConfig, connectTimeoutMillis: Int = 5_000) throws -> NimbusClient {
        let seeds = try conf.stringList(ConfigKey.nimbusSeeds)
        let defaultPort = try conf.int(ConfigKey.nimbusThriftPort)
        let ioTimeout = try conf.int(ConfigKey.thriftSocketTimeoutMs)
        let maxFrame = conf.intOrDefault(ConfigKey.nimbusThriftMaxBufferSize)
        var failures: [String] = []
        for seed in seeds {
            let (host, port) = split(seed, defaultPort: defaultPort)
            do {
                let seedClient = try NimbusClient(
                    host: host, port: port, connectTimeoutMillis: connectTimeoutMillis, ioTimeoutMillis: ioTimeout,
                    maxFrameSize: maxFrame)
                guard let leader = try? seedClient.getLeader(), leader.host != host || Int(leader.port) != port else {
                    return seedClient
                }
                if let leaderClient = try? NimbusClient(
                    host: leader.host, port: Int(leader.port), connectTimeoutMillis: connectTimeoutMillis,
                    ioTimeoutMillis: ioTimeout, maxFrameSize: maxFrame)
                {
                    seedClient.close()
                    return leaderClient
                }
                return seedClient
            } catch {
                failures.append("\(host):\(port) (\(error))")
            }
        }
        throw Unreachable(description: "cannot reach nimbus at \(failures.joined(separator: ", "))")
    }

    public static func split(_ seed: String, defaultPort: Int) -> (String, Int) {
        if let colon = seed.lastIndex(of: ":"), let port = Int(seed[seed.index(after: colon)...]) {
            return (String(seed[..<colon]), port)
        }
        return (seed, defaultPort)
    }
}
