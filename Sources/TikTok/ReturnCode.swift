/// What to do with one TikTok answer, from TIKTOK_API.md's return-code table. Pure: no I/O.
public enum AnswerHandling: Equatable, Sendable {
    case success
    /// Applied, but worth a log line (PARTIAL_OK, DUPLICATED_REQUEST, NO_UPDATE).
    case successWithNote(String)
    case retry(RetryPace)
    /// The batch is too large: split it and send the halves.
    case split
    /// The token (or the login behind it) is refused: pause all sending until it is renewed.
    case tokenRefused
    /// Permission, the app or the advertiser: pause all sending until the configuration is fixed.
    case configurationRefused
    /// TikTok refuses the call itself, not one segment (blocked, sandbox, API version, route, domain,
    /// cluster, interface offline): pause all sending, never park segments one by one for it.
    case serviceRefused
    /// This batch will not succeed as it is: park its segment and say why.
    case permanentForBatch
    /// The body was wrong or unhashed: a bug here, not at the partner. Stop loudly.
    case bodyRejected

    public enum RetryPace: Equatable, Sendable {
        case normal
        case rateLimited
        case long
    }

    /// Whether the answer stops sending for every segment (and resumes by itself, or with a new
    /// token), rather than being about one batch or segment.
    public var pausesAll: Bool {
        switch self {
        case .tokenRefused, .configurationRefused, .serviceRefused, .bodyRejected: true
        default: false
        }
    }

    public static func forCode(_ code: Int) -> AnswerHandling {
        if let known = ReturnCode.table[code] { return known.handling }
        // TikTok's system, RPC, storage and timeout errors (5xxxx): TikTok's side, tried again.
        if (50_000..<60_000).contains(code) { return .retry(.normal) }
        return .permanentForBatch
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

/// TikTok's numeric return codes, every one of its SDK's list (`tiktok_code.py`,
/// `NumericErrorCodes`), with the official name and what the sender does with it. A code that is
/// about the app, the token, the login or the advertiser pauses sending for every segment and
/// resumes by itself; only a code about the request's own content parks its segment.
public enum ReturnCode {
    public struct Entry: Sendable {
        public let name: String
        public let handling: AnswerHandling
    }

    /// The official name of a code (`INVALID_PARTNER`), nil for a code not in TikTok's list.
    public static func name(_ code: Int) -> String? { table[code]?.name }

    /// "40101 INVALID_PARTNER", or just the number for a code TikTok does not list.
    public static func described(_ code: Int) -> String {
        name(code).map { "\(code) \($0)" } ?? "\(code)"
    }

    static let table: [Int: Entry] = {
        var table: [Int: Entry] = [:]
        func set(_ handling: AnswerHandling, _ codes: [(Int, String)]) {
            for (code, name) in codes { table[code] = Entry(name: name, handling: handling) }
        }
        set(.success, [(0, "OK")])
        set(.successWithNote("TikTok answered PARTIAL_OK"), [(20001, "PARTIAL_OK")])
        set(.successWithNote("TikTok answered DUPLICATED_REQUEST; treated as applied"), [(40050, "DUPLICATED_REQUEST")])
        // Nothing to change: with set semantics, TikTok already holds what was asked.
        set(.successWithNote("TikTok answered NO_UPDATE; treated as applied"), [(40012, "NO_UPDATE")])
        set(.retry(.rateLimited), [(40100, "REQUEST_TOO_FREQUENT"), (40016, "BIZ_FC_ERROR")])
        set(.retry(.long), [(40132, "REQUEST_FREQUENCY_LIMITED"), (61000, "TOO_MANY_REQUESTS_BL"), (60001, "MAINTENANCE")])
        set(.retry(.normal), [
            (40200, "GENERAL_TASK_ERROR"), (40201, "TASK_NOT_READY"), (40202, "WRITE_CONFLICT"),
            (50000, "SYS_ERROR"), (50002, "SYS_TIMEOUT"),
            (52000, "DB_ERROR"), (52001, "DB_READ_ERROR"), (52002, "DB_WRITE_ERROR"), (52003, "DB_PARTITION_ERROR"),
            (52100, "RDS_ERROR"), (52101, "RDS_READ_ERROR"), (52102, "RDS_WRITE_ERROR"), (52103, "RDS_TIMEOUT_ERROR"),
            (52201, "TOS_ERROR"), (52202, "TOS_UPLOAD_TIMEOUT"), (52203, "TOS_HEAD_OBJECT"), (52204, "TOS_PUT_OBJECT"),
        ])
        // TikTok's internal services (any other 5xxxx code is retried too: see forCode).
        set(.retry(.normal), [
            (51000, "RPC_ERROR"), (51001, "STATISTICS_ERROR"), (51002, "BUILD_STONE_ERROR"), (51003, "DMP_ERROR"),
            (51004, "LEGO_SERVICE_ERROR"), (51005, "SMART_PLAYER_ERROR"), (51006, "JUPITER_ERROR"),
            (51007, "OVERTURE_STAT_CENTRAL_ERROR"), (51008, "ADVERTISER_ERROR"), (51009, "DPA_ERROR"),
            (51010, "INTERNAL_TIME_OUT"), (51011, "SEARCH_ERROR"), (51012, "PIXEL_ERROR"),
            (51014, "LEGO_SERVICE_SYNC_ERROR"), (51015, "GRANTING_SERVICE_ERROR"), (51016, "ACCOUNT_ERROR"),
            (51017, "VIDEO_TRANSCODE_SERVICE_ERROR"), (51018, "AGENT_SERVICE_ERROR"), (51019, "IMAGE_CUT_ERROR"),
            (51020, "ORDER_CENTER_SERVICE_ERROR"), (51030, "USER_PASSPORT_SERVICE_ERROR"),
            (51031, "PLATFORM_ACCOUNT_SERVICE_ERROR"), (51032, "PLAYABLE_SERVICE_ERROR"), (51033, "TOOLBOX_ERROR"),
            (51034, "AD_MACHINE_AUDIT_ZEPHYR"), (51035, "SATELLITE_ERROR"), (51036, "TETRIS_ERROR"),
            (51037, "ASYNC_TASK_ERROR"), (51038, "UNION_TREASURE_BOX_ERROR"), (51039, "AUTH_SERVICE_ERROR"),
            (51040, "ADVERTISER_INFO_ERROR"), (51041, "AD_GARM_SERVICE_ERROR"), (51042, "LEGO_BUSINESS_SERVICE_ERROR"),
            (51043, "CREATIVE_PLATFORM_SERVICE_ERROR"), (51044, "DPA_PLATFORM_ERROR"), (51045, "AD_FILE_SERVICE_ERROR"),
            (51046, "SIRIUS_SERVICE_ERROR"), (51047, "SUBSCRIPTION_ERROR"), (51048, "ADS_PREVIEW_ERROR"),
            (51049, "DPA_RENDER_GATEWAY_ERROR"), (51050, "MEASUREMENT_STONE_ERROR"), (51051, "MANUAL_REVIEW_ERROR"),
            (51052, "OPTIMIZER_ERROR"), (51053, "DPA_CATALOG_BUSINESS_ERROR"), (51054, "CRM_ERROR"),
            (51055, "GCRM_ERROR"), (51056, "ADVERTISER_ACCOUNT_SERVICE_ERROR"), (51057, "APP_ERROR"),
            (51058, "POSTER_SERVICE_ERROR"), (51059, "CONFIG_SERVICE_ERROR"), (51060, "BC_RPC_ERROR"),
            (51061, "BM_SERVICE_ERROR"), (51062, "IMAGEX_SERVICE_ERROR"), (51063, "SEGMENT_GATEWAY_SERVICE_ERROR"),
            (51064, "ECO_GAME_MANAGER_SERVICE_ERROR"), (51065, "TTOP_SERVICE_ERROR"),
            (51066, "SUGGESTION_ENGINE_SERVICE_ERROR"), (51067, "VIDEOARCH_SERVICE_ERROR"),
            (51099, "STATISTICS_NEW_ERROR")
        ])
        set(.split, [(40061, "INVALID_BATCH_SIZE"), (40011, "ID_LIMIT_EXCEED")])
        set(.bodyRejected, [(40062, "PII_NOT_HASHED"), (53102, "DESERIALIZATION_ERROR"), (53103, "SERIALIZATION_ERROR")])
        // The token or the login behind it: renewed by authorising again.
        set(.tokenRefused, [
            (40102, "ACCESS_TOKEN_EXPIRE"), (40103, "REFRESH_TOKEN_EXPIRE"), (40104, "EMPTY_ACCESS_TOKEN"),
            (40105, "INVALID_ACCESS_TOKEN"), (40106, "INVALID_CORE_USER"), (40107, "INVALID_REFRESH_TOKEN"),
            (40108, "INVALID_GRANT_TYPE"), (40109, "ERROR_AES_DECIPHER"), (40110, "AUTH_CODE_ERROR"),
            (40112, "PASSWORD_ERROR"), (40114, "ADVERTISER_LOGOUT"), (40115, "AUTH_TIMESTAMP_EXPIRE"),
            (40116, "AUTH_SIG_ERROR"), (40130, "SCOPE_NOT_AUTHORIZED"), (40131, "SCOPE_TT_USER_OAUTH_FAILED"),
            (40309, "REQUIRE_LOGIN"), (70001, "INVALID_BIZ_AUTH_TYPE"),
        ])
        // The app, the developer, the user's rights or the advertiser: fixed in TikTok's portals or
        // the configuration.
        set(.configurationRefused, [
            (40001, "PERMISSION_ERROR"), (40003, "FORBIDDEN"), (40013, "SANDBOX_ADV_NOT_EXIST"),
            (40063, "INVALID_PARTNER_NAME"), (40101, "INVALID_PARTNER"), (40113, "APP_FORBIDDEN"),
            (40117, "APP_METHOD_FORBIDDEN"), (40118, "NOT_IN_WHITELIST"), (40119, "NOT_SAME_IDENTITY"),
            (40120, "TIKTOK_USER_NOT_LOGGED_IN"), (40121, "NOT_A_TCM_CREATOR"), (40122, "TCM_CREATOR_INVALID_COUNTRY"),
            (40124, "DEVELOPER_REJECTED"), (40125, "DEVELOPER_NO_PERMISSION"), (40126, "GARM_SINGLE_AUTH_FAILED"),
            (40127, "GARM_DOUBLE_AUTH_FAILED"), (40128, "GARM_SINGLE_VALIDATE_ERROR"), (40129, "GARM_DOUBLE_VALIDATE_ERROR"),
            (40300, "ADVERTISER_NOT_EXIST"), (40301, "ADVERTISER_ROLE_ERROR"), (40302, "CUSTOMER_ADVERTISER_NOT_EXIST"),
            (40900, "SIGNATURE_ERROR"),
        ])
        // The call itself, whatever the segment: the endpoint, its version, its domain or cluster.
        set(.serviceRefused, [
            (40006, "VERSION_ERROR"), (40008, "NOT_IMPL"), (40009, "UNSUPPORTED_IN_SANDBOX"), (40010, "UNSUPPORTED_DOMAIN"),
            (40014, "INVALID_CLUSTER"), (40051, "INVALID_API_VERSION"), (40400, "ROUTE_NOT_FOUND"), (41000, "BLOCKED"),
            (41001, "INTERFACE_OFFLINE"), (41002, "FIELDS_OFFLINE"),
        ])
        // About what the request carries (an audience TikTok does not know or will not take):
        // the segment is parked, the others go on. The rest of the list belongs to other APIs
        // (ads, creatives, files) and is handled the same way if it ever comes back here.
        set(.permanentForBatch, [
            (40000, "INVALID_PARAMS"), (40002, "PARAM_ERROR"), (40007, "NOT_EXIST"), (40052, "ACO_MATERIAL_EXIST"),
            (40053, "VIDEO_ID_INVALID_ERROR"), (40502, "AD_NUMBER_LIMIT"), (40700, "RPC_VALIDATION_ERROR"),
            (40901, "VIDEO_TRANSCODING"), (40902, "URL_FETCH_TIMEOUT"), (40903, "URL_UNAVAILABLE"),
            (40904, "IMAGE_ILLEGAL_CONTENT"), (40905, "FILE_NOT_EXIST"), (40906, "FILE_EMPTY"), (40907, "FILE_TOO_LARGE"),
            (40908, "FILE_TYPE_ERROR"), (40909, "FILE_CALCULATE_TYPE_ERROR"), (40910, "FILE_EXPIRED"),
            (40911, "DUPLICATED_MATERIAL_NAME"), (40912, "IMAGE_UNAVAILABLE"), (40913, "IMAGE_FETCH_TIMEOUT"),
            (40914, "URL_FETCH_ERROR"), (40915, "FILE_UPLOAD_INVALID"), (40916, "VIDEO_ILLEGAL_CONTENT"),
            (41013, "SITE_TO_VIDEO_SERVICE_ERROR"),
        ])
        return table
    }()
}

/// What to tell the operator about a code that pauses all sending, beyond TikTok's own message.
public enum ReturnCodeAdvice {
    public static func forCode(_ code: Int?) -> String? {
        switch code {
        case 41000: "TikTok has blocked this app or advertiser (BLOCKED); ask TikTok support why"
        case 40009: "the call is not available in TikTok's sandbox; use the production tiktok.base_url for the audience API"
        case 40006, 40051: "TikTok refuses this API version; check tiktok.base_url (it ends in /open_api/v1.3) and update tiktok-audience-sync"
        case 40400: "TikTok found no such route; check tiktok.base_url (it ends in /open_api/v1.3)"
        case 40010: "TikTok does not serve the API on this domain (UNSUPPORTED_DOMAIN); check tiktok.base_url (https://business-api.tiktok.com/open_api/v1.3)"
        case 40014: "TikTok sent the call to the wrong data cluster (INVALID_CLUSTER), usually for a while; sending resumes by itself, and if it lasts, check tiktok.base_url"
        case 40008, 41002: "TikTok has not got this part of the API in service now; sending resumes by itself"
        case 41001: "TikTok has taken the interface offline for now; sending resumes by itself"
        case 40101:
            "TikTok does not take the app behind the access token (INVALID_PARTNER: a wrong app id or secret, or an app TikTok has not enabled); authorise again with the right app (tiktok-audience-sync auth --app-id APP) and sending resumes"
        case 40063: "TikTok does not know the app as an audience partner (INVALID_PARTNER_NAME); check the app in TikTok's developer portal"
        case 40013:
            "the advertiser does not exist in TikTok's sandbox (SANDBOX_ADV_NOT_EXIST): use a sandbox advertiser id with the sandbox tiktok.base_url, or the production base_url"
        case 40302:
            "TikTok finds no such advertiser for this account (CUSTOMER_ADVERTISER_NOT_EXIST); check tiktok.advertiser_id and that the user who authorised the token may act for it"
        case 40106:
            "TikTok no longer takes the user who authorised the token (INVALID_CORE_USER); have an Admin or Operator of the ad account authorise again (tiktok-audience-sync auth)"
        case 40309, 40120:
            "TikTok asks for a new login (REQUIRE_LOGIN); have an Admin or Operator of the ad account authorise again (tiktok-audience-sync auth)"
        case 40119, 40121, 40122, 40124, 40125, 40126, 40127, 40128, 40129, 40900:
            "TikTok refuses the app or its developer account for this call; check the app's status and permissions in TikTok's developer portal"
        case 40117, 40118, 40113:
            "the app may need TikTok's allow-listing for the audience API, and the user who authorised it Admin or Operator rights on the ad account"
        case 40001, 40003, 40300, 40301:
            "check tiktok.advertiser_id, and that the user who authorised the token has Admin or Operator rights on the ad account"
        default: nil
        }
    }
}
