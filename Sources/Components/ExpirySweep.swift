/// When a bolt that holds per-request state looks for requests past the message timeout: every half timeout, so
/// nothing is held much past it and the look costs nothing on most tuples.
struct ExpirySweep {
    var timeout = Duration.seconds(30)
    private var last = ContinuousClock.now

    /// Whether a sweep is due at `now`; if so, the next one is half a timeout later.
    mutating func isDue(_ now: ContinuousClock.Instant) -> Bool {
        guard now - last >= timeout / 2 else { return false }
        last = now
        return true
    }

    func hasExpired(since start: ContinuousClock.Instant, at now: ContinuousClock.Instant) -> Bool {
        now - start >= timeout
    }
}
