/// How a ``TikTokEmulator`` starts: where it listens, who it accepts and how it misbehaves.
///
/// A value type with defaults for everything, so tests write only what they care about:
/// `EmulatorConfiguration(requestsPerSecondLimit: 2)`.
public struct EmulatorConfiguration: Sendable {
    /// Address to bind. Loopback by default; the emulator is for tests and local trials only.
    public var host: String = "127.0.0.1"
    /// Port to bind; 0 picks a free one (read it back from ``RunningEmulator/port``).
    public var port: Int = 0
    /// The one advertiser the emulator knows; every request must name it.
    public var advertiserID: String = "7000000000000000001"
    /// The token the `Access-Token` header must carry.
    public var accessToken: String = "emulator-token"
    /// Partner audiences that exist at start.
    public var audienceIDs: [String] = ["123456", "654321"]
    /// Customer File audiences that exist at start: listed, but `/segment/mapping/` refuses them.
    public var customerFileAudienceIDs: [String] = []
    /// When set, `/segment/mapping/` calls above this many in the last second get code 40100.
    public var requestsPerSecondLimit: Int? = nil
    /// Added before every answer under `/open_api/v1.3` (not to the `/_emulator` admin routes).
    public var latency: Duration = .zero
    /// App credentials `/oauth2/access_token/` accepts.
    public var appID: String = "emulator-app"
    public var appSecret: String = "emulator-secret"
    /// `auth_code` → the access token it grants. Each code works once.
    public var authCodes: [String: String] = [:]
    /// How many of the most recent requests ``EmulatorState/requests()`` keeps (bodies included).
    public var recordedRequestLimit: Int = 1_000

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        advertiserID: String = "7000000000000000001",
        accessToken: String = "emulator-token",
        audienceIDs: [String] = ["123456", "654321"],
        requestsPerSecondLimit: Int? = nil,
        latency: Duration = .zero,
        appID: String = "emulator-app",
        appSecret: String = "emulator-secret",
        authCodes: [String: String] = [:],
        recordedRequestLimit: Int = 1_000
    ) {
        self.host = host
        self.port = port
        self.advertiserID = advertiserID
        self.accessToken = accessToken
        self.audienceIDs = audienceIDs
        self.requestsPerSecondLimit = requestsPerSecondLimit
        self.latency = latency
        self.appID = appID
        self.appSecret = appSecret
        self.authCodes = authCodes
        self.recordedRequestLimit = recordedRequestLimit
    }
}
