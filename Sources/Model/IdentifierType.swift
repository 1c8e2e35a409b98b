/// The kinds of identifier TikTok accepts for a segment member, as they are sent (always hashed).
public enum IdentifierType: UInt8, Sendable, CaseIterable, Comparable {
    case emailSHA256 = 1
    case phoneSHA256 = 2
    case idfaSHA256 = 3
    case aaidSHA256 = 4
    /// MD5 MAIDs, which TikTok takes for MAIDs only; some sources (mParticle) have nothing else.
    case idfaMD5 = 5
    case aaidMD5 = 6

    /// The `id_schema` value TikTok expects for this type.
    public var schemaName: String {
        switch self {
        case .emailSHA256: "EMAIL_SHA256"
        case .phoneSHA256: "PHONE_SHA256"
        case .idfaSHA256: "IDFA_SHA256"
        case .aaidSHA256: "AAID_SHA256"
        case .idfaMD5: "IDFA_MD5"
        case .aaidMD5: "AAID_MD5"
        }
    }

    /// Bytes of the digest: 32 for SHA-256, 16 for MD5 (held in a ``Digest32`` followed by zeros).
    public var digestByteCount: Int {
        switch self {
        case .idfaMD5, .aaidMD5: 16
        default: 32
        }
    }

    public init?(schemaName: String) {
        guard let match = Self.allCases.first(where: { $0.schemaName == schemaName }) else { return nil }
        self = match
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Which mobile advertising id a `maid` value is. IDFA and AAID look alike (both UUIDs), so the
/// type must come from the row, the partner or the configuration, never from a guess.
public enum MAIDType: String, Sendable, Codable {
    case idfa
    case aaid

    /// The type TikTok receives for a plain or SHA-256 value of this MAID.
    package var sha256Type: IdentifierType { self == .idfa ? .idfaSHA256 : .aaidSHA256 }
    /// The type TikTok receives for an MD5 value of this MAID.
    package var md5Type: IdentifierType { self == .idfa ? .idfaMD5 : .aaidMD5 }

    /// Accepts the names partners use: `idfa`, `aaid`, and Google's `gaid` / `adid` for Android.
    public init?(partnerValue: some StringProtocol) {
        switch partnerValue.lowercased() {
        case "idfa", "ios": self = .idfa
        case "aaid", "gaid", "adid", "android": self = .aaid
        default: return nil
        }
    }
}
