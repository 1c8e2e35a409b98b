/// Spaces requests to at most `rate` per second, and adapts: TikTok's rate-limit answers halve the
/// pace, each success wins a little of it back. One per process: what a pass learns holds for the next.
public actor RateLimiter {
    package nonisolated let ceiling: Double
    private(set) var rate: Double
    private var nextSlot: ContinuousClock.Instant = .now
    private let clock = ContinuousClock()

    public init(requestsPerSecond: Double) {
        ceiling = max(0.1, requestsPerSecond)
        rate = ceiling
    }

    /// Reserves the next request's slot and says when it is: the caller waits for it (and
    /// stops waiting when sending stops).
    func reserve() -> ContinuousClock.Instant {
        let slot = max(clock.now, nextSlot)
        nextSlot = slot + .seconds(1 / rate)
        return slot
    }

    /// Requests a second now.
    var pace: Double { rate }

    func rateLimited(pause: Duration) {
        rate = max(ceiling / 64, rate / 2)
        nextSlot = max(nextSlot, clock.now + pause)
    }

    /// Grows 5% a success (plus a small step, so a deep cut recovers): gently enough that a real
    /// limit far below the configured pace is not overrun again at once.
    func succeeded() {
        rate = min(ceiling, rate * 1.05 + ceiling / 1000)
    }
}
