import Dispatch
import Foundation
import Locking

/// SIGINT and SIGTERM as a flag a loop polls, for commands that stop between steps rather than at once.
final class StopSignals: Sendable {
    private let requested = Locked(false)
    private let sources: Locked<[any DispatchSourceSignal]> = Locked([])

    init() {
        var made: [any DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [requested] in requested.withLock { $0 = true } }
            source.resume()
            made.append(source)
        }
        sources.withLock { $0 = made }
    }

    var stopRequested: Bool { requested.withLock { $0 } }

    func cancel() { sources.withLock { $0.forEach { $0.cancel() } } }
}
