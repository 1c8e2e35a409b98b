/// One identifier held by an emulated audience: its type as named in `id_schema` and its digest.
public struct EmulatorMember: Hashable, Sendable, Comparable {
    /// `EMAIL_SHA256`, `PHONE_SHA256`, `IDFA_SHA256`, `AAID_SHA256`, `IDFA_MD5` or `AAID_MD5`.
    public let idType: String
    /// The lowercase hex digest as sent.
    public let id: String

    public init(idType: String, id: String) {
        self.idType = idType
        self.id = id
    }

    public static func < (lhs: EmulatorMember, rhs: EmulatorMember) -> Bool {
        (lhs.idType, lhs.id) < (rhs.idType, rhs.id)
    }
}
