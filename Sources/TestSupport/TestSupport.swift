import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Helpers the test targets share.

/// A TCP port on 127.0.0.1 that nothing listens on right now.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Int32 in
            _ = bind(fd, p, len)
            return getsockname(fd, p, &len)
        }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Polls until `condition` holds or `seconds` pass; true if it held. For effects that arrive on other threads
/// (watch events, daemons reacting), which a test must wait for rather than sleep a guessed time.
public func eventually(_ seconds: Double = 15, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// Waits, up to `seconds`, until `value` holds still for `quiet` (checks an absence: nothing changed for that
/// long); true if it did.
public func settles<T: Equatable>(within seconds: Double, quiet: Duration, _ value: () -> T) async -> Bool {
    await eventually(seconds) {
        let before = value()
        try? await Task.sleep(for: quiet)
        return value() == before
    }
}
