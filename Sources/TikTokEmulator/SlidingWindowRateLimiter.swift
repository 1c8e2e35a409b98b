/// Counts calls in the last second and refuses those above a limit.
///
/// Only admitted calls are counted: a client that backs off gets through again once the window
/// has slid past its earlier calls.
struct SlidingWindowRateLimiter: Sendable {
    let window: Duration
    private var admitted: [ContinuousClock.Instant] = []

    init(window: Duration = .seconds(1)) {
        self.window = window
    }

    /// Whether a call at `now` is within `limit` calls per window (always, when `limit` is nil).
    mutating func admit(at now: ContinuousClock.Instant, limit: Int?) -> Bool {
        let cutoff = now - self.window
        if let firstKept = self.admitted.firstIndex(where: { $0 > cutoff }) {
            self.admitted.removeFirst(firstKept)
        } else {
            self.admitted.removeAll(keepingCapacity: true)
        }
        if let limit, self.admitted.count >= limit {
            return false
        }
        // In order of time: a request that lands late is counted at the moment it was due.
        let position = self.admitted.lastIndex(where: { $0 <= now }).map { $0 + 1 } ?? 0
        self.admitted.insert(now, at: position)
        return true
    }
}
