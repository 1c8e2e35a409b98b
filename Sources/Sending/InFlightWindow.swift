import Synchronization

/// How many requests may be in flight at once, adapted to TikTok's answers: enough to keep the
/// configured pace when answers are slow (the pace times the answer time, and one more), never
/// more than `ceiling`. It grows one step per confirmed request (never in a jump), comes back
/// down a step when answers get quicker, and halves when TikTok is overloaded or limiting the
/// rate, at most once per answer time (one overload answers many requests at once). With answers
/// in 200 ms and a pace of 20 a second, 4 in flight are a ceiling on throughput; 5 or more are
/// not. One per process, like the ``RateLimiter``.
public final class InFlightWindow: Sendable {
    private struct State {
        var limit: Int
        /// Smoothed seconds from sending a request to its confirmation; nil before the first.
        var answerSeconds: Double?
        var lastHalved: ContinuousClock.Instant?
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

    /// TikTok confirmed a request `seconds` after it was sent, at a pace of `pace` requests a second.
    func confirmed(after seconds: Double, pace: Double) {
        state.withLock { state in
            let smoothed = state.answerSeconds.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
            state.answerSeconds = smoothed
            let needed = Int((pace * smoothed).rounded(.up)) + 1
            if state.limit < min(needed, ceiling) {
                state.limit += 1
            } else if state.limit > needed {
                state.limit -= 1
            }
        }
    }

    /// TikTok said "too many requests", or is overloaded (a long-retry code, a gateway error, no
    /// answer at all): fewer at once.
    func overloaded(now: ContinuousClock.Instant = .now) {
        state.withLock { state in
            let answerTime = Duration.milliseconds(Int64((state.answerSeconds ?? 1) * 1000))
            if let last = state.lastHalved, now - last < answerTime { return }
            state.limit = max(1, state.limit / 2)
            state.lastHalved = now
        }
    }
}
