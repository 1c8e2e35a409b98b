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
    /// TikTok refuses the call itself, not one segment (blocked, sandbox, API version, route, interface
    /// offline): pause all sending, never park segments one by one for it.
    case serviceRefused
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
        case 41000, 40009, 40006, 40051, 40400, 41001: .serviceRefused
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
        // No route there: the base URL is wrong, for every segment alike.
        case 404: .serviceRefused
        case 408, 500...599: .retry(.normal)
        default: .permanentForBatch
        }
    }
}

/// What to tell the operator about a code that pauses all sending, beyond TikTok's own message.
public enum ReturnCodeAdvice {
    public static func forCode(_ code: Int?) -> String? {
        switch code {
        case 41000: "TikTok has blocked this app or advertiser; ask TikTok support why"
        case 40009: "the call is not available in TikTok's sandbox; use the production tiktok.base_url for the audience API"
        case 40006, 40051: "TikTok refuses this API version; check tiktok.base_url (it ends in /open_api/v1.3) and update tiktok-audience-sync"
        case 40400: "TikTok found no such route; check tiktok.base_url (it ends in /open_api/v1.3)"
        case 41001: "TikTok has taken the interface offline for now; sending resumes by itself"
        case 40117, 40118, 40113:
            "the app may need TikTok's allow-listing for the audience API, and the user who authorised it Admin or Operator rights on the ad account"
        case 40001, 40003, 40300, 40301:
            "check tiktok.advertiser_id, and that the user who authorised the token has Admin or Operator rights on the ad account"
        default: nil
        }
    }
}
