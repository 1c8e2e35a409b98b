/// A call to TikTok that got no answer at all: connection refused or reset, timeout, bad URL.
public struct TikTokTransportError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let detail: String

    public var description: String {
        "no answer from TikTok for \(path): \(detail). Check network access and tiktok.base_url."
    }
}
