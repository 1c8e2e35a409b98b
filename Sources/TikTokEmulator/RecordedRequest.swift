/// A request as the emulator received it, kept for assertions (``EmulatorState/requests()``).
public struct RecordedRequest: Sendable {
    /// One header line as sent.
    public struct Header: Sendable, Equatable {
        public let name: String
        public let value: String
    }

    /// `GET`, `POST`, …
    public let method: String
    /// The path without the query, e.g. `/open_api/v1.3/segment/mapping/`.
    public let path: String
    /// The raw query string without `?`, or `""`.
    public let query: String
    /// Every header, in order, names as sent.
    public let headers: [Header]
    /// The body bytes.
    public let body: [UInt8]

    /// The first value of the header called `name` (case-insensitive), e.g. `header("Access-Token")`.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return self.headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    public var bodyText: String {
        String(decoding: self.body, as: UTF8.self)
    }
}
