/// Why one row of an audience file was not applied. The file's other rows still apply.
public enum RejectReason: String, Error, Sendable, Codable, CaseIterable {
    case notSHA256 = "not_sha256"
    case md5NotAccepted = "md5_not_accepted"
    case plainEmailInHashColumn = "plain_email_in_hash_column"
    case badEmail = "bad_email"
    case badPhone = "bad_phone"
    case badMAID = "bad_maid"
    case badMAIDType = "bad_maid_type"
    case ambiguousMAID = "ambiguous_maid"
    case maidWithoutType = "maid_without_type"
    case noIdentifier = "no_identifier"
    case missingSegment = "missing_segment"
    case badSegment = "bad_segment"
    case segmentNotAllowed = "segment_not_allowed"
    case missingAction = "missing_action"
    case unknownAction = "unknown_action"
    case wrongFieldCount = "wrong_field_count"
    case malformedQuoting = "malformed_quoting"

    /// What the partner should do about it.
    public var advice: String {
        switch self {
        case .notSHA256: "email_hash and phone_hash must be SHA-256 digests: 64 hexadecimal characters"
        case .md5NotAccepted: "this is an MD5 digest; TikTok accepts only SHA-256 for email and phone"
        case .plainEmailInHashColumn: "this is a plain email address; put it in an `email` column to have it hashed here"
        case .badEmail: "not an email address"
        case .badPhone:
            "phone numbers need their country code, 7 to 15 digits, like +14155550123 (with the + where identifiers.phone_format is e164)"
        case .badMAID:
            "a MAID must be a UUID like 5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25, or its SHA-256 (64 hex characters) or MD5 (32)"
        case .badMAIDType: "maid_type must be idfa or aaid"
        case .ambiguousMAID:
            "32 hex digits may be the MAID's MD5 or the MAID (a UUID) without its hyphens, which TikTok hashes differently: set identifiers.maid_32_hex to md5 or uuid to say which your partners send"
        case .maidWithoutType:
            "IDFA and AAID look alike, and this maid has no type: add a maid_type column (idfa or aaid), use an idfa or aaid column, or set identifiers.maid_type or partners.NAME.maid_type"
        case .noIdentifier: "the row has no identifier (email_hash, phone_hash, email, phone or maid)"
        case .missingSegment: "segment_id is empty"
        case .badSegment: "segment_id must be a TikTok audience id: 1 to 19 digits"
        case .segmentNotAllowed: "this partner may not change that segment (see partners: in the configuration)"
        case .missingAction: "action is empty; use add or remove"
        case .unknownAction: "action must be add, remove or delete"
        case .wrongFieldCount: "the row has a different number of fields than the header"
        case .malformedQuoting: "text follows a closing quote; quote the whole field"
        }
    }
}

public struct RowRejection: Sendable, Codable, Equatable {
    public var line: Int
    public var reason: RejectReason
    /// The offending column and at most a short prefix of its value, never a whole identifier.
    public var detail: String

    public init(line: Int, reason: RejectReason, detail: String) {
        self.line = line
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "line \(line): \(reason.advice) (\(detail))" }
}
