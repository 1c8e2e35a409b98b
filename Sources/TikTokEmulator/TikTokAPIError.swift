/// A refusal the emulator answers with TikTok's envelope: `{"code": code, "message": message, ...}`.
///
/// The codes are TikTok's wire codes (see TIKTOK_API.md, "Return codes"), so unlike the project's
/// other error structs the code is public data, not a private enum.
struct TikTokAPIError: Error, Sendable {
    let code: Int
    let message: String
    /// TikTok answers most errors with HTTP 200 and the code in the envelope.
    let httpStatus: Int

    init(code: Int, message: String, httpStatus: Int = 200) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// 40002 PARAM_ERROR: the request is malformed; `message` says what exactly.
    static func param(_ message: String) -> TikTokAPIError {
        TikTokAPIError(code: 40002, message: message)
    }

    /// 40001: the token may not act for that advertiser, or the app credentials are wrong.
    static func permission(_ message: String) -> TikTokAPIError {
        TikTokAPIError(code: 40001, message: message)
    }

    /// 40104: no `Access-Token` header.
    static let tokenMissing = TikTokAPIError(code: 40104, message: "Access token is empty: send it in the Access-Token header")

    /// 40105: an `Access-Token` header that is not a valid token.
    static let tokenInvalid = TikTokAPIError(code: 40105, message: "Access token is invalid or has been revoked")

    /// 40100 REQUEST_TOO_FREQUENT.
    static let tooManyRequests = TikTokAPIError(code: 40100, message: "Too many requests")

    /// 40061: more users in one request than TikTok allows.
    static func batchTooLarge(users: Int, limit: Int) -> TikTokAPIError {
        TikTokAPIError(code: 40061, message: "batch_data has \(users) users; at most \(limit) are allowed per request")
    }

    /// 40062 PII_NOT_HASHED.
    static func piiNotHashed(_ message: String) -> TikTokAPIError {
        TikTokAPIError(code: 40062, message: message)
    }

    /// Unknown route: HTTP 404 with a 40400 (route not found, TikTok's SDK code list) envelope.
    static func notFound(_ message: String) -> TikTokAPIError {
        TikTokAPIError(code: 40400, message: message, httpStatus: 404)
    }

    /// A mapping to an audience created moments ago: TikTok may refuse writes for a minute or two
    /// (Segment's connector records errors right after creation). Its exact code is not
    /// documented; TIKTOK_API.md has seen a not-ready segment answered with HTTP 400 and an envelope.
    static func audienceNotReady(_ id: String) -> TikTokAPIError {
        TikTokAPIError(code: 40002, message: "audience \(id) is not ready yet; try again later", httpStatus: 400)
    }

    /// 40101 INVALID_PARTNER: `/oauth2/access_token/` with a wrong app id or secret.
    static let invalidPartner = TikTokAPIError(code: 40101, message: "Invalid App ID or secret")

    /// 40110 AUTH_CODE_ERROR: an auth code that is wrong, expired (one hour) or used already.
    static let authCodeError = TikTokAPIError(code: 40110, message: "auth_code is invalid, expired or already used")

    /// A mapping to an audience that is not a Partner audience. TikTok's exact code for it is not
    /// documented; PARAM_ERROR is what it answers for audiences the call cannot use.
    static func notPartnerAudience(_ id: String, type: String) -> TikTokAPIError {
        TikTokAPIError(code: 40002, message: "audience \(id) is a \(type) audience; only Partner audiences accept /segment/mapping/")
    }
}
