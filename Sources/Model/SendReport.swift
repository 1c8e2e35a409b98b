/// A batch TikTok would not take, with what TikTok said. Its rows stay pending.
public struct SendFailure: Sendable, Codable, Equatable {
    public var segments: [String]
    public var action: String
    public var identifierType: String
    public var rows: Int
    public var code: Int?
    public var httpStatus: Int?
    public var message: String
    public var requestID: String?

    package init(
        segments: [String], action: String, identifierType: String, rows: Int, code: Int?, httpStatus: Int?, message: String,
        requestID: String?
    ) {
        self.segments = segments
        self.action = action
        self.identifierType = identifierType
        self.rows = rows
        self.code = code
        self.httpStatus = httpStatus
        self.message = message
        self.requestID = requestID
    }
}

/// Why a pass stopped sending anything more: what kind of stop, and what to tell the operator.
public struct SendPause: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case tokenRefused = "token refused"
        case accessRefused = "TikTok refused access"
        case bodyRejected = "TikTok could not read a request"
        case unreachable = "TikTok unreachable"
        case serviceRefused = "TikTok refused the API call"

        /// The kind as a metric label.
        public var label: String {
            switch self {
            case .tokenRefused: "token_refused"
            case .accessRefused: "access_refused"
            case .bodyRejected: "body_rejected"
            case .unreachable: "unreachable"
            case .serviceRefused: "service_refused"
            }
        }
    }

    public var kind: Kind
    public var message: String

    package init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Changes of one segment, by action.
public struct ActionCounts: Sendable, Equatable, Codable {
    public var adds = 0
    public var removes = 0

    public init(adds: Int = 0, removes: Int = 0) {
        self.adds = adds
        self.removes = removes
    }

    package mutating func count(_ action: MembershipAction, _ number: Int = 1) {
        if action == .add { adds += number } else { removes += number }
    }

    package mutating func add(_ other: ActionCounts) {
        adds += other.adds
        removes += other.removes
    }
}

/// Where confirmed changes came from: a segment, and the partner whose files asked for them (nil:
/// a file at the inbox's top level, or one the ledger no longer remembers).
public struct ChangeSource: Sendable, Hashable, Comparable {
    public var segment: String
    public var partner: String?

    public init(segment: String, partner: String?) {
        self.segment = segment
        self.partner = partner
    }

    public static func < (a: Self, b: Self) -> Bool { (a.segment, a.partner ?? "") < (b.segment, b.partner ?? "") }
}

/// What one pass over the pending rows did.
public struct SendReport: Sendable {
    /// Requests TikTok answered (whatever the answer).
    public var requests = 0
    /// Tries that got no answer at all (connection refused or reset, timeout).
    public var unanswered = 0
    public var acknowledged = 0
    /// What TikTok answered code 0 for, by segment: the audit trail of what reached TikTok.
    public var confirmed: [String: ActionCounts] = [:]
    /// The same, by segment and the partner whose files asked for the changes: the audit lines.
    public var confirmedBySource: [ChangeSource: ActionCounts] = [:]
    public var failures: [SendFailure] = []
    /// Set when sending stopped for everything (token refused, permission, a body TikTok could not
    /// read, no answer at all).
    public var pause: SendPause?
    public var pausedReason: String? { pause?.message }

    public init() {}

    package mutating func merge(_ other: SendReport) {
        requests += other.requests
        unanswered += other.unanswered
        acknowledged += other.acknowledged
        for (segment, counts) in other.confirmed { confirmed[segment, default: ActionCounts()].add(counts) }
        for (source, counts) in other.confirmedBySource { confirmedBySource[source, default: ActionCounts()].add(counts) }
        failures += other.failures
        pause = pause ?? other.pause
    }
}
