/// What to do with one TikTok answer, from TIKTOK_API.md's return-code table. Pure: no I/O.
public enum AnswerHandling: Equatable, Sendable {
    case success
    /// Applied, but worth a log line (PARTIAL_OK, DUPLICATED_REQUEST).
    case successWithNote(String)
    case retry(RetryPace)
    /// The batch is too large: split it and send the halves.
    case split
    /// The token is refused: pause all sending until it is renewed.
    case tokenRefused
    /// Permission or app configuration: pause all sending until the configuration is fixed.
    case configurationRefused
    /// This batch will not succeed as it is: leave its rows pending and say why.
    case permanentForBatch
    /// The body was wrong or unhashed: a bug here, not at the partner. Stop loudly.
    case bodyRejected

    public enum RetryPace: Equatable, Sendable {
        case normal
        case rateLimited
        case long
    }

    public static func forCode(_ code: Int) -> AnswerHandling {
        switch code {
        case 0: .success
        case 20001: .successWithNote("TikTok answered PARTIAL_OK")
        case 40050: .successWithNote("TikTok answered DUPLICATED_REQUEST; treated as applied")
        case 40100, 40016: .retry(.rateLimited)
        case 40132, 61000: .retry(.long)
        case 60001: .retry(.long)
        case 50000, 50002, 51000...51099, 52000...52204, 40200, 40201, 40202: .retry(.normal)
        case 40061, 40011: .split
        case 40102, 40103, 40104, 40105, 40107, 40114, 40130: .tokenRefused
        case 40001, 40003, 40300, 40301, 40113, 40117, 40118: .configurationRefused
        case 40062, 53102, 53103: .bodyRejected
        default: .permanentForBatch
        }
    }

    /// For answers without an envelope, the HTTP status decides.
    public static func forHTTPStatus(_ status: Int) -> AnswerHandling {
        switch status {
        case 200..<300: .permanentForBatch
        case 429: .retry(.rateLimited)
        case 401: .tokenRefused
        case 403: .configurationRefused
        case 408, 500...599: .retry(.normal)
        default: .permanentForBatch
        }
    }
}
