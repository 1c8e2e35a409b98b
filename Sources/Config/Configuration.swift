import Foundation
import AudienceModel

/// Everything the operator configures, validated once at start. Built from the YAML file and the
/// environment by ``ConfigurationLoader``; tests build it directly.
public struct Configuration: Sendable {
    public struct TikTok: Sendable {
        public var baseURL = "https://business-api.tiktok.com/open_api/v1.3"
        public var advertiserID: String
        public var accessTokenFile: String?
        /// TikTok's rate for an app of the Basic tier, where every app starts (Basic 10, Advanced 20,
        /// Premium 30): raised by the operator once the app has a higher tier.
        public var requestsPerSecond: Double = 10
        /// The most requests in flight; below it the number adapts to TikTok's answer times.
        public var maxInFlight = 12
        /// Identifiers per request: TikTok takes at most 10,000; fewer make smaller bodies (a slow
        /// or metered link, a proxy with a body limit).
        public var maxUsersPerRequest = 10_000
        public var maxAttempts = 6
        public var initialBackoffMilliseconds = 500
        /// How long one request may take before it counts as unanswered.
        public var requestTimeoutSeconds = 60
        /// After a request that got no sure answer, how long before its members are sent their
        /// current wish again (a request TikTok applies late must not stick). Nil: twice the timeout.
        public var resendUnansweredAfterSeconds: Int?
        public var effectiveResendUnansweredAfterSeconds: Int { resendUnansweredAfterSeconds ?? 2 * requestTimeoutSeconds }
        public var requestTimeout: Duration { .seconds(requestTimeoutSeconds) }

        public init(advertiserID: String) {
            self.advertiserID = advertiserID
        }
    }

    public struct Partner: Sendable, Equatable {
        public var name: String
        public var segments: Set<String>
        /// The type of this partner's untyped `maid` values, over ``IdentifierRules/maidType``.
        public var maidType: MAIDType?

        public init(name: String, segments: Set<String>, maidType: MAIDType? = nil) {
            self.name = name
            self.segments = segments
            self.maidType = maidType
        }
    }

    public struct ListenAddress: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// How long what the state directory keeps is kept, in days (0: for ever).
    public struct Retention: Sendable, Equatable {
        /// Per folder of the state directory; a file's age counts from when it was put there.
        public var days: [StateFolder: Int] = [.archive: 35, .rejected: 35, .held: 90, .receipts: 90]
        /// The ledger's record of each file (what makes a re-upload a duplicate). Kept longer than
        /// the files: partners re-send old files, and a record costs a few hundred bytes.
        public var fileHistoryDays = 400

        public init() {}
    }

    public var inbox: String
    public var stateDirectory: String
    /// Where the daemon serves its metrics (Prometheus' text format, `GET /metrics`); nil: nowhere.
    public var metricsListen: ListenAddress?
    public var settleSeconds: Double = 5
    public var rescanSeconds: Double = 60
    /// A file that still looks unfinished this long after its last change is moved to `rejected/`.
    public var incompleteUploadSeconds: Double = 3600
    /// A snapshot that would remove more than this share of a segment's members is held for approval.
    public var maxSnapshotRemovalPercent: Double? = 50
    public var heldDirectory: String { StateFolder.held.path(in: stateDirectory) }
    public var maxDecompressedBytes: Int64 = 16 << 30
    public var retention = Retention()
    public var tiktok: TikTok
    /// Normalisation and the MAID type, for every partner (a partner may set its own MAID type).
    public var identifiers = IdentifierRules()
    /// When set, only these inbox folders are read and each may touch only its segments.
    public var partners: [String: Partner]?
    /// The file the configuration came from, for messages.
    public var source: String

    public init(inbox: String, stateDirectory: String, tiktok: TikTok, source: String = "(built in)") {
        self.inbox = inbox
        self.stateDirectory = stateDirectory
        self.tiktok = tiktok
        self.source = source
    }

    /// The rules for a file from `partner`'s folder (nil: the inbox's top level, or no partners).
    /// `legacyMAIDType`: the ledger's type for untyped MAIDs from earlier versions, used when the
    /// configuration sets none.
    public func identifierRules(forPartner partner: String?, legacyMAIDType: MAIDType? = nil) -> IdentifierRules {
        var rules = identifiers
        if let partner, let type = partners?[partner]?.maidType { rules.maidType = type }
        if rules.maidType == nil { rules.maidType = legacyMAIDType }
        return rules
    }

    /// The partner folder of the inbox that `path` lies in, if any: `INBOX/acme/x.csv` → acme.
    public func partner(containing path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let inbox = inbox.hasSuffix("/") ? inbox : inbox + "/"
        guard absolute.hasPrefix(inbox) else { return nil }
        let parts = absolute.dropFirst(inbox.count).split(separator: "/")
        return parts.count >= 2 ? String(parts[0]) : nil
    }

    /// Segment id → the partners whose files may touch it, sorted.
    public var partnersBySegment: [String: [String]] {
        var result: [String: [String]] = [:]
        for partner in (partners ?? [:]).values.sorted(by: { $0.name < $1.name }) {
            for segment in partner.segments { result[segment, default: []].append(partner.name) }
        }
        return result
    }

    public var ledgerPath: String { stateDirectory + "/ledger.sqlite" }
    /// Below the state directory: the generation of the last file applied, written after each
    /// one, so that a ledger that lost its latest commits (a deleted -wal file, an older copy put
    /// back) is noticed instead of taken for the truth.
    public static let ledgerSealName = "ledger.seal"
    public var archiveDirectory: String { StateFolder.archive.path(in: stateDirectory) }
    public var receiptsDirectory: String { StateFolder.receipts.path(in: stateDirectory) }
}
