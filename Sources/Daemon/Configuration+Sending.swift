import AudienceConfig
import AudienceSending

extension Configuration {
    /// How the sender goes about it, from the `tiktok:` keys.
    public var senderOptions: SenderOptions {
        var options = SenderOptions()
        options.requestsPerSecond = tiktok.requestsPerSecond
        options.maxInFlight = tiktok.maxInFlight
        options.maxUsersPerRequest = tiktok.maxUsersPerRequest
        options.maxAttempts = tiktok.maxAttempts
        options.initialBackoff = .milliseconds(tiktok.initialBackoffMilliseconds)
        options.resendUnansweredAfter = .seconds(tiktok.effectiveResendUnansweredAfterSeconds)
        return options
    }
}
