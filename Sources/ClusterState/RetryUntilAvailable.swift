import Logging

/// Runs `body` until it succeeds, once a second, while the cluster state is unreachable. Says so once when it
/// starts failing and once when it works again: a dead ZooKeeper must not flood the log.
public func retryUntilAvailable(_ what: String, logger: Logger, _ body: @Sendable () async throws -> Void) async {
    var logged = false
    while !Task.isCancelled {
        do {
            try await body()
            if logged { logger.info("\(what): done, the cluster state is reachable again") }
            return
        } catch {
            if !logged { logger.warning("\(what) failed (retrying every second): \(error)") }
            logged = true
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
