/// One change a `/segment/mapping/` request made to one member, kept when
/// ``EmulatorConfiguration/traceMembers`` is on: what an exactness check that fails prints, so
/// that a wrong member can be followed request by request.
public struct MemberTraceEvent: Sendable, CustomStringConvertible {
    /// How the request that made the change was answered.
    public enum Landing: String, Sendable {
        case whenAnswered = "applied before its answer"
        case late = "applied late, after its answer"
        case afterDelay = "applied after a delay (the client may have gone)"
    }

    /// When it was applied (for a late or delayed request: when it was due).
    public let at: ContinuousClock.Instant
    /// The `/segment/mapping/` request's number, in order of arrival (1 for the first).
    public let request: Int
    public let audienceID: String
    /// `add` or `delete`, as sent.
    public let action: String
    public let landing: Landing

    public var description: String {
        "request \(request): \(action) in \(audienceID), \(landing.rawValue)"
    }
}
