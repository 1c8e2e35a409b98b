import Synchronization
import AudienceTikTok

/// When each refused segment's audience was created, as TikTok's audience details say, looked up
/// once per pass: an audience created minutes ago may refuse writes for a minute or two
/// (TIKTOK_API.md), and its refusals are tried again for a while instead of parking it.
final class AudienceAges: Sendable {
    /// Segment → creation time in seconds since 1970; nil inside: TikTok did not say.
    private let known = Mutex<[String: Int?]>([:])

    /// The creation time of `segment`'s audience; nil when TikTok does not say (or cannot be asked).
    func createdAt(_ segment: String, client: TikTokClient) async -> Int? {
        if let cached = known.withLock({ $0[segment] }) { return cached }
        var created: Int?
        if case .answered(let details)? = try? await client.audienceDetails(ids: [segment]) {
            created = details[segment]?.createdAt
        }
        known.withLock { $0[segment] = .some(created) }
        return created
    }
}
