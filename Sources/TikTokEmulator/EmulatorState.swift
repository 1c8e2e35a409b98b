/// The emulated TikTok account: audiences and their members, tokens, faults and counters.
///
/// Tests and scripts inspect and steer a running emulator through it; the HTTP routes read and
/// change it through the internal methods in the `EmulatorState+…` files.
public actor EmulatorState {
    let advertiserID: String
    let appID: String
    let appSecret: String
    let recordedRequestLimit: Int

    /// Tokens the `Access-Token` header may carry: the configured one plus those granted by auth codes.
    var accessTokens: Set<String>
    var requestsPerSecondLimit: Int?
    var rateLimiter = SlidingWindowRateLimiter()
    var audiences: [String: AudienceRecord] = [:]
    /// Audience ids in creation order, for `/dmp/custom_audience/list/`.
    var audienceOrder: [String] = []
    var refusedAudiences: Set<String> = []
    /// How long a newly created audience refuses writes (``EmulatorConfiguration/newAudienceRefusal``).
    var newAudienceRefusal: Duration
    var faults: [EmulatorFault] = []
    let randomFaults: [RandomFault]
    var randomState: UInt64
    var lateLandings: [LateLanding] = []
    /// The answers of delayed requests that landed while their handler slept, by request number.
    var delayedReplies: [Int: EmulatorReply] = [:]
    /// Delayed requests whose handler stopped waiting (cancelled): their answer is not kept.
    var abandonedDelayedRequests: Set<Int> = []
    /// Every change to every member, when ``EmulatorConfiguration/traceMembers`` is on.
    var memberTrace: [EmulatorMember: [MemberTraceEvent]]?
    var authCodes: [String: String]
    var recorded: [RecordedRequest] = []
    var requestSequence = 0
    var lastCreatedAudienceNumber = 7_100_000_000_000_000_000
    /// Tests waiting for a condition on the state, looked at again after every change.
    var waiters: [UInt64: StateWaiter] = [:]
    var nextWaiterID: UInt64 = 0
    var checkingWaiters = false
    var changedWhileChecking = false
    /// The `audience_type` of audiences uploaded as customer files in TikTok's UI.
    public static let customerFileType = "Customer File Audience"

    /// `/segment/mapping/` requests received, refused ones included.
    public internal(set) var mappingRequestCount = 0
    /// `/segment/mapping/` requests that were applied (answered code 0, or applied before a lost answer).
    public internal(set) var appliedMappingRequestCount = 0
    /// API requests being answered now, and the most there were at once: how many a client keeps
    /// in flight.
    var concurrentRequests = 0
    /// API requests received and not answered yet (those waiting out the configured latency too).
    public var requestsInProgress: Int { self.concurrentRequests }
    public internal(set) var peakConcurrentRequests = 0
    /// Users (`batch_data` entries) summed over applied requests.
    public internal(set) var identifiersReceived = 0

    init(configuration: EmulatorConfiguration) {
        self.advertiserID = configuration.advertiserID
        self.appID = configuration.appID
        self.appSecret = configuration.appSecret
        self.recordedRequestLimit = max(0, configuration.recordedRequestLimit)
        self.accessTokens = [configuration.accessToken]
        self.requestsPerSecondLimit = configuration.requestsPerSecondLimit
        self.authCodes = configuration.authCodes
        self.randomFaults = configuration.randomFaults
        self.randomState = configuration.randomSeed
        self.memberTrace = configuration.traceMembers ? [:] : nil
        self.newAudienceRefusal = configuration.newAudienceRefusal
        for id in configuration.audienceIDs where self.audiences[id] == nil {
            self.audiences[id] = AudienceRecord(id: id, name: "Emulator audience \(id)", createdAt: Self.longAgo())
            self.audienceOrder.append(id)
        }
        for id in configuration.customerFileAudienceIDs where self.audiences[id] == nil {
            var audience = AudienceRecord(id: id, name: "Emulator customer file \(id)", createdAt: Self.longAgo())
            audience.audienceType = Self.customerFileType
            self.audiences[id] = audience
            self.audienceOrder.append(id)
        }
    }

    // MARK: Inspecting

    /// The members of an audience (empty for an unknown or deleted one).
    public func members(of audienceID: String) -> Set<EmulatorMember> {
        self.applyDueLateLandings()
        return self.audiences[audienceID]?.members ?? []
    }

    /// Audience id → number of members, for every audience that exists.
    public func memberCounts() -> [String: Int] {
        self.applyDueLateLandings()
        return self.audiences.mapValues(\.members.count)
    }

    /// Every change made to `member` in any audience, oldest first (empty unless
    /// ``EmulatorConfiguration/traceMembers`` is on).
    public func trace(of member: EmulatorMember) -> [MemberTraceEvent] {
        self.applyDueLateLandings()
        return self.memberTrace?[member] ?? []
    }

    /// The ids of the audiences that exist, in creation order.
    public func audienceIDs() -> [String] {
        self.audienceOrder
    }

    /// The most recent requests (up to ``EmulatorConfiguration/recordedRequestLimit``), oldest first.
    public func requests() -> [RecordedRequest] {
        self.recorded
    }

    /// Faults still waiting for a `/segment/mapping/` request.
    public var queuedFaultCount: Int {
        self.faults.count
    }

    // MARK: Steering

    /// Forgets the faults not consumed yet.
    public func clearFaults() {
        self.faults.removeAll()
    }

    /// Queues faults; each later `/segment/mapping/` request consumes one, in order.
    public func enqueue(_ faults: [EmulatorFault]) {
        self.faults.append(contentsOf: faults)
    }

    /// Makes `token` the only valid token (tokens granted by auth codes stop working too).
    public func setAccessToken(_ token: String) {
        self.accessTokens = [token]
    }

    /// Limits `/segment/mapping/` calls per sliding second; nil removes the limit.
    public func setRequestsPerSecondLimit(_ limit: Int?) {
        self.requestsPerSecondLimit = limit
    }

    /// Creates an empty Partner audience with this id (no-op if it exists).
    public func addAudience(_ id: String) {
        self.insertAudience(AudienceRecord(id: id, name: "Emulator audience \(id)", createdAt: Self.longAgo()))
    }

    /// Creates an audience of another type than Partner (as made in TikTok's UI: "Customer File
    /// Audience", say), which `/segment/mapping/` refuses; no-op if the id exists.
    public func addAudience(_ id: String, type: String) {
        var audience = AudienceRecord(id: id, name: "Emulator \(type) \(id)", createdAt: Self.longAgo())
        audience.audienceType = type
        self.insertAudience(audience)
    }

    /// Makes an audience expire at a Unix time (nil: never), or marks it not valid (TikTok says so
    /// of audiences still being computed, and of expired ones).
    public func setAudienceState(_ id: String, expiresAt: Int?, isValid: Bool = true) {
        self.audiences[id]?.expiresAt = expiresAt
        self.audiences[id]?.isValid = isValid
    }

    /// Mapping requests naming any of these audiences get code 40002 naming the audience.
    public func setRefusedAudiences(_ ids: Set<String>) {
        self.refusedAudiences = ids
    }

    /// How long audiences created from now on refuse writes (see ``EmulatorConfiguration/newAudienceRefusal``).
    public func setNewAudienceRefusal(_ duration: Duration) {
        self.newAudienceRefusal = duration
    }

    /// Ends a new audience's refusal of writes now, whatever time was left of it.
    public func makeAudienceReady(_ id: String) {
        self.audiences[id]?.notReadyUntil = nil
    }

    /// `/segment/mapping/` requests refused so far: answered with an error and not applied (a
    /// request counts once its answer is decided, not while it is being handled).
    public internal(set) var refusedMappingRequestCount = 0

    // MARK: Internal bookkeeping

    /// The creation time of audiences that exist from the start (or are added as existing ones):
    /// 30 days ago, long past the minute or two a new audience may refuse writes. Only those made
    /// through `/segment/audience/` are new.
    static func longAgo() -> Int { WallClock.secondsSince1970() - 30 * 86_400 }

    func apiRequestBegan() {
        self.concurrentRequests += 1
        self.peakConcurrentRequests = max(self.peakConcurrentRequests, self.concurrentRequests)
        self.stateChanged()
    }

    func apiRequestEnded() {
        self.concurrentRequests -= 1
        self.stateChanged()
    }

    func insertAudience(_ audience: AudienceRecord) {
        guard self.audiences[audience.id] == nil else { return }
        self.audiences[audience.id] = audience
        self.audienceOrder.append(audience.id)
    }

    func record(_ request: RecordedRequest) {
        guard self.recordedRequestLimit > 0 else { return }
        if self.recorded.count >= self.recordedRequestLimit {
            self.recorded.removeFirst(self.recorded.count - self.recordedRequestLimit + 1)
        }
        self.recorded.append(request)
    }

    /// A fresh request id for an envelope: digits like TikTok's, unique within this process.
    func nextRequestID() -> String {
        self.requestSequence += 1
        let sequence = String(self.requestSequence)
        let random = String(UInt64.random(in: 0...UInt64.max), radix: 16, uppercase: true)
        return AudienceRecord.timestamp(secondsSince1970: WallClock.secondsSince1970()).filter(\.isNumber)
            + String(repeating: "0", count: max(0, 8 - sequence.count)) + sequence
            + String(repeating: "0", count: 16 - random.count) + random
    }

    /// Rejects requests without a valid `Access-Token`.
    func authorize(_ token: String?) throws(TikTokAPIError) {
        guard let token, !token.isEmpty else { throw .tokenMissing }
        guard self.accessTokens.contains(token) else { throw .tokenInvalid }
    }
}
