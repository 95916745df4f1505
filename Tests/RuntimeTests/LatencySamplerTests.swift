import StormCore
import Testing

@testable import Runtime

/// Which tuples a bolt executor times, as topology.stats.sample.rate says.
@Suite struct LatencySamplerTests {
    @Test func oneTupleInEachRunOfThePeriodIsSampledAtAPlaceThatVaries() {
        var sampler = LatencySampler(period: 20, seed: 42)
        var places: Set<Int> = []
        for run in 0..<1000 {
            let picked = (0..<20).filter { _ in sampler.next() }
            #expect(picked.count == 1, "run \(run) sampled \(picked)")
            places.formUnion(picked)
        }
        // Two input streams taking turns would otherwise see only one of them timed.
        #expect(places.count == 20)
    }

    @Test func thePeriodIsOneOverTheRateAsStormTruncatesIt() {
        func period(_ rate: ConfigValue?) -> Int {
            var conf = StormConfig.defaults
            if let rate { conf[ConfigKey.topologyStatsSampleRate] = rate }
            return LatencySampler.period(conf)
        }
        #expect(period(nil) == 20)
        #expect(period(0.05) == 20)
        #expect(period(0.3) == 3)
        #expect(period(1) == 1)
        #expect(period(2.5) == 1)
        #expect(period(0) == 0)
        #expect(period(-1) == 0)
    }

    @Test func everyTupleAtPeriodOneAndNoneAtZero() {
        var every = LatencySampler(period: 1)
        #expect((0..<100).allSatisfy { _ in every.next() })
        var none = LatencySampler(period: 0)
        #expect((0..<100).allSatisfy { _ in !none.next() })
    }

    @Test func aProcessLatencySurvivesTheMicrosecondClockWrapping() {
        let start = LatencySampler.micros(UInt64(UInt32.max) * 1000 + 500_000)
        #expect(LatencySampler.nanosSince(start, now: (UInt64(UInt32.max) + 2_000) * 1000) == 1_500_000)
    }
}
