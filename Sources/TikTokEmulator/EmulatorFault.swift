/// A misbehaviour queued with ``EmulatorState/enqueue(_:)``.
///
/// Faults are consumed one per `/segment/mapping/` request, first in first out, before the
/// request is authenticated, rate limited or validated.
public enum EmulatorFault: Sendable {
    /// Answer the envelope with this code (e.g. 40100, 50002, 40105) and HTTP status; nothing is applied.
    /// Use `httpStatus: 400` for TikTok's "HTTP 400 carrying an envelope" answers.
    case code(Int, message: String, httpStatus: Int = 200)
    /// Answer this HTTP status with a non-JSON (HTML) body, as a gateway does; nothing is applied.
    case gatewayError(status: Int)
    /// Handle the request normally (applying it if valid), then answer this status with a non-JSON
    /// body instead of the envelope: the answer is lost after the change was applied.
    case applyThenFail(status: Int)
    /// Handle the request normally (applying it if valid), then close the connection without answering.
    case applyThenDropConnection
    /// Wait this long, then handle the request normally (also when the client has gone meanwhile).
    case delay(Duration)
    /// Answer at once with this HTTP status and a non-JSON body, and apply the request only
    /// `after` later, once the client has moved on: a request TikTok applies late.
    case landLate(after: Duration, status: Int)
}
