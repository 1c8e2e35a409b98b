/// What the route handlers need from an HTTP request, detached from Hummingbird's types.
struct IncomingRequest: Sendable {
    let method: String
    /// Path without the query.
    let path: String
    /// Percent-decoded query parameters (the first value wins when a name repeats).
    let query: [String: String]
    let contentType: String?
    /// The `Access-Token` header, raw.
    let accessToken: String?
    let body: [UInt8]
}
