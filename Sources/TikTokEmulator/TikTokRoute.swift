/// The TikTok API routes the emulator serves, relative to ``apiPrefix``.
enum TikTokRoute: CaseIterable, Sendable {
    static let apiPrefix = "/open_api/v1.3"

    case segmentMapping
    case segmentAudience
    case customAudienceGet
    case customAudienceList
    case userInfo
    case oauthAccessToken

    /// The path under ``apiPrefix``; TikTok's paths end with `/`.
    var path: String {
        switch self {
        case .segmentMapping: "/segment/mapping/"
        case .segmentAudience: "/segment/audience/"
        case .customAudienceGet: "/dmp/custom_audience/get/"
        case .customAudienceList: "/dmp/custom_audience/list/"
        case .userInfo: "/user/info/"
        case .oauthAccessToken: "/oauth2/access_token/"
        }
    }

    var method: String {
        switch self {
        case .customAudienceGet, .customAudienceList, .userInfo: "GET"
        case .segmentMapping, .segmentAudience, .oauthAccessToken: "POST"
        }
    }

    /// The route whose path is `relativePath`, whatever the method.
    init?(relativePath: String) {
        guard let route = Self.allCases.first(where: { $0.path == relativePath }) else { return nil }
        self = route
    }
}
