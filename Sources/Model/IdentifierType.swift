/// The kinds of identifier TikTok accepts for a segment member, as they are sent (always hashed).
public enum IdentifierType: UInt8, Sendable, CaseIterable, Comparable {
    case emailSHA256 = 1
    case phoneSHA256 = 2
    case idfaSHA256 = 3
    case aaidSHA256 = 4

    /// The `id_schema` value TikTok expects for this type.
    public var schemaName: String {
        switch self {
        case .emailSHA256: "EMAIL_SHA256"
        case .phoneSHA256: "PHONE_SHA256"
        case .idfaSHA256: "IDFA_SHA256"
        case .aaidSHA256: "AAID_SHA256"
        }
    }

    public init?(schemaName: String) {
        guard let match = Self.allCases.first(where: { $0.schemaName == schemaName }) else { return nil }
        self = match
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Which mobile advertising id a `maid` value is.
public enum MAIDType: String, Sendable {
    case idfa
    case aaid

    package var identifierType: IdentifierType { self == .idfa ? .idfaSHA256 : .aaidSHA256 }

    /// Accepts the names partners use: `idfa`, `aaid`, and Google's `gaid` / `adid` for Android.
    public init?(partnerValue: some StringProtocol) {
        switch partnerValue.lowercased() {
        case "idfa", "ios": self = .idfa
        case "aaid", "gaid", "adid", "android": self = .aaid
        default: return nil
        }
    }
}
