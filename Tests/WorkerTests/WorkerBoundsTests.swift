import StormCore
import Testing
import Transport

@testable import Worker

/// What a worker tells an operator about lasting congestion, and how it reads its tuple port's settings.
@Suite struct WorkerBoundsTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aCongestionIsReportedOnceItLastsThenOncePerMinuteAndItsEndOnce() {
        var lasting = LastingCongestion()
        #expect(lasting.update(congested: [7], now: 100 * Self.second).isEmpty)
        #expect(lasting.update(congested: [7], now: 109 * Self.second).isEmpty)
        #expect(lasting.update(congested: [7], now: 110 * Self.second) == [.init(task: 7, seconds: 10, ended: false)])
        #expect(lasting.update(congested: [7], now: 111 * Self.second).isEmpty)
        #expect(lasting.update(congested: [7], now: 169 * Self.second).isEmpty)
        #expect(lasting.update(congested: [7], now: 170 * Self.second) == [.init(task: 7, seconds: 70, ended: false)])
        #expect(lasting.update(congested: [], now: 175 * Self.second) == [.init(task: 7, seconds: 75, ended: true)])
        #expect(lasting.update(congested: [], now: 176 * Self.second).isEmpty)
    }

    @Test func shortCongestionsSayNothingHoweverManyThereAre() {
        // A busy bolt's queue fills and drains again and again: each episode starts the clock anew.
        var lasting = LastingCongestion()
        var reports: [LastingCongestion.Report] = []
        for episode in UInt64(0)..<20 {
            let start = episode * 10 * Self.second
            reports += lasting.update(congested: [3], now: start)
            reports += lasting.update(congested: [3], now: start + 9 * Self.second)
            reports += lasting.update(congested: [], now: start + 9 * Self.second + 1)
        }
        #expect(reports.isEmpty)
    }

    @Test func transportSettingsDefaultToAllInterfacesAndTheBuiltInCap() throws {
        let settings = try TransportSettings(StormConfig())
        #expect(settings.bindAddress == "0.0.0.0")
        #expect(settings.limits == FrameLimits())
        let set = try TransportSettings(
            StormConfig([ConfigKey.messagingBindAddress: "127.0.0.1", ConfigKey.messagingMaxConnections: 40]))
        #expect(set.bindAddress == "127.0.0.1")
        #expect(set.limits.maxConnections == 40)
    }

    @Test func badTransportSettingsAreRefusedNamingTheKey() {
        let cases: [(ConfigValue, String, String)] = [
            (
                0, ConfigKey.messagingMaxConnections,
                "config key 'storm.messaging.max.connections' must be at least 1, not 0"
            ),
            (
                "many", ConfigKey.messagingMaxConnections,
                "config key 'storm.messaging.max.connections' must be an integer"
            ),
            ("  ", ConfigKey.messagingBindAddress, "config key 'storm.messaging.bind.address' is empty"),
            (7, ConfigKey.messagingBindAddress, "config key 'storm.messaging.bind.address' must be a string"),
        ]
        for (value, key, message) in cases {
            let error = #expect(throws: ConfigError.self) { _ = try TransportSettings(StormConfig([key: value])) }
            #expect(error.map { "\($0)".hasPrefix(message) } == true, "\(String(describing: error))")
        }
    }

    @Test func aBindAddressTheAnnouncedHostDoesNotHaveIsWarnedAbout() throws {
        let loopback = try TransportSettings(StormConfig([ConfigKey.messagingBindAddress: "127.0.0.1"]))
        #expect(loopback.reachabilityWarning(announcedHost: "127.0.0.1") == nil)
        #expect(loopback.reachabilityWarning(announcedHost: "localhost") == nil)
        #expect(
            loopback.reachabilityWarning(announcedHost: "127.0.0.2")
                == "storm.messaging.bind.address 127.0.0.1 is not an address of the announced host '127.0.0.2' (127.0.0.2): "
                + "peers that connect to '127.0.0.2' cannot reach this worker")
        #expect(try TransportSettings(StormConfig()).reachabilityWarning(announcedHost: "127.0.0.2") == nil)
    }
}
