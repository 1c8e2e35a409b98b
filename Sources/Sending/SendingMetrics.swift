import Metrics
import AudienceSupport
import AudienceTikTok

/// What the sender counts for the daemon's metrics (swift-metrics; nothing when none are wanted).
public enum SendingMetrics {
    public static let requests = "tiktok_audience_sync_tiktok_requests_total"
    public static let requestDuration = "tiktok_audience_sync_tiktok_request_duration_seconds"
    public static let confirmedChanges = "tiktok_audience_sync_tiktok_confirmed_changes_total"
    public static let lastConfirmed = "tiktok_audience_sync_last_confirmed_timestamp_seconds"

    /// One try of a request and how it ended: TikTok's code, `http_503` for a page without an
    /// envelope, `none` when no answer came.
    static func answered(_ answer: TikTokAnswer?, after elapsed: Duration) {
        let code = answer.map { answer in answer.envelope.map { "\($0.code)" } ?? "http_\(answer.httpStatus)" } ?? "none"
        Counter(label: requests, dimensions: [("code", code)]).increment()
        Timer(label: requestDuration).recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    static func confirmed(segment: String, action: String, count: Int) {
        Counter(label: confirmedChanges, dimensions: [("segment", segment), ("action", action)]).increment(by: count)
        if count > 0 { Gauge(label: lastConfirmed).record(clockSeconds()) }
    }
}
