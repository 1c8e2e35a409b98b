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
    /// Faults that strike `/segment/mapping/` requests at random, each with its probability, when
    /// no queued fault is due: a server that misbehaves now and then, for long runs.
    public var randomFaults: [RandomFault] = []
    /// The seed of the random faults, so that a run can be repeated.
    public var randomSeed: UInt64 = 1
    /// Keeps every change to every member (``EmulatorState/trace(of:)``); for tests of small
    /// audiences that must explain a wrong member, not for large runs.
    public var traceMembers = false
    /// How long an audience made through `/segment/audience/` refuses `/segment/mapping/` (HTTP 400
    /// with code 40002, "not ready"): TikTok may need a minute or two before a new audience takes
    /// writes. Zero: at once.
    public var newAudienceRefusal: Duration = .zero

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

/// A fault that strikes a request with this probability (0...1).
public struct RandomFault: Sendable {
    public var fault: EmulatorFault
    public var probability: Double

    public init(_ fault: EmulatorFault, probability: Double) {
        self.fault = fault
        self.probability = probability
    }

    /// Reads `{"code":50002}@0.03`: a fault as `POST /_emulator/faults` spells it, `@`, its probability.
    public init(parsing text: String) throws(EmulatorFault.AdminJSONError) {
        guard let at = text.lastIndex(of: "@"), let probability = Double(text[text.index(after: at)...]), (0...1).contains(probability)
        else { throw EmulatorFault.AdminJSONError(reason: "expected FAULT@PROBABILITY, e.g. {\"code\":50002}@0.03") }
        let value: JSONValue
        do {
            value = try JSONParser.parse(Array(text[..<at].utf8))
        } catch {
            throw EmulatorFault.AdminJSONError(reason: "the fault is not JSON: \(error)")
        }
        self.init(try EmulatorFault(adminJSON: value), probability: probability)
    }
}
