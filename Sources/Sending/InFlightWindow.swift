import Synchronization

/// How many requests may be in flight at once, adapted to TikTok's answers: enough to keep the
/// configured pace when answers are slow (the pace times the answer time, and one more), never
/// more than `ceiling`, and halved by a rate-limit answer. With answers in 200 ms and a pace of
/// 20 a second, 4 in flight are a ceiling on throughput; 5 or more are not. One per process, like
/// the ``RateLimiter``.
public final class InFlightWindow: Sendable {
    private struct State {
        var limit: Int
        /// Smoothed seconds from sending a request to its answer; nil before the first.
        var answerSeconds: Double?
    }

    public let ceiling: Int
    private let state: Mutex<State>

    /// `start`: the window before anything is known (at most `ceiling`).
    public init(ceiling: Int, start: Int = 4) {
        self.ceiling = max(1, ceiling)
        state = Mutex(State(limit: min(max(1, start), max(1, ceiling))))
    }

    /// Requests that may be in flight now.
    public var limit: Int { state.withLock { $0.limit } }

    /// An answer other than a rate limit came back after `seconds`, at a pace of `pace` requests a
    /// second: the window grows by one while it is below what that pace needs (it never jumps,
    /// so a burst of slow answers cannot open it wide at once).
    func answered(after seconds: Double, pace: Double) {
        state.withLock { state in
            let smoothed = state.answerSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
            state.answerSeconds = smoothed
            let needed = Int((pace * smoothed).rounded(.up)) + 1
            if state.limit < min(needed, ceiling) { state.limit += 1 }
        }
    }

    /// TikTok said "too many requests": fewer at once (the rate limiter slows the pace too).
    func rateLimited() {
        state.withLock { $0.limit = max(1, $0.limit / 2) }
    }
}
