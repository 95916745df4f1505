import Groupings
import StormCore

/// Chooses which tuples a bolt executor times: one in each run of `period` tuples, at a random place in the run
/// (as Storm's even sampler does), so a period that matches a pattern in the input (two streams taking turns)
/// still samples every kind of tuple. Counts stay exact; only latencies are sampled, because reading the clock
/// for every tuple would cost a fast bolt a noticeable share of its time.
///
/// A value on its executor's thread: asking costs a decrement and a branch, and the random place is drawn once
/// per run.
struct LatencySampler {
    /// Tuples per sample: Storm's sampling rate, 1 / topology.stats.sample.rate; 0 samples nothing.
    let period: Int
    /// Tuples to go until the next sampled one (that one included).
    private var countdown: Int
    /// Where in its run the last sampled tuple was.
    private var place: Int
    private var random: SplitMix64

    init(period: Int, seed: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.period = period
        random = SplitMix64(seed: seed)
        place = 0
        countdown = .max
        if period > 0 {
            place = Int(random.next() % UInt64(period))
            countdown = place + 1
        }
    }

    /// Whether the next tuple is to be timed.
    @inline(__always)
    mutating func next() -> Bool {
        countdown &-= 1
        return countdown == 0 && chooseNextPlace()
    }

    /// The rest of this run, then a random place in the next one.
    @inline(never)
    private mutating func chooseNextPlace() -> Bool {
        guard period > 0 else {
            countdown = .max
            return false
        }
        let nextPlace = Int(random.next() % UInt64(period))
        countdown = period - place + nextPlace
        place = nextPlace
        return true
    }

    /// Tuples per sample for a topology's conf: 1 / topology.stats.sample.rate, truncated as Storm does (20 for
    /// its default 0.05); every tuple at a rate of 1 or more; none at a rate of 0 or less.
    static func period(_ conf: StormConfig) -> Int {
        let rate = conf.doubleOrDefault(ConfigKey.topologyStatsSampleRate)
        guard rate > 0 else { return 0 }
        guard rate < 1 else { return 1 }
        // The nudge keeps 1 / 0.05 at 20 when the division lands a hair below.
        return Int(min(1 / rate + 1e-9, Double(Int32.max)))
    }

    /// A sampled tuple's start as `Tuple.processSampleStart` keeps it: microseconds, modulo 2^32.
    @inline(__always)
    static func micros(_ nanos: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: nanos / 1000) }

    /// Nanoseconds from a sampled tuple's start (`Tuple.processSampleStart`) to `now`, to the microsecond.
    @inline(__always)
    static func nanosSince(_ start: UInt32, now: UInt64) -> UInt64 { UInt64(micros(now) &- start) * 1000 }
}
