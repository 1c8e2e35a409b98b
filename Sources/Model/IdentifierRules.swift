/// How plain identifiers are normalised before hashing, and the MAID type for rows that do not say
/// it: TIKTOK_API.md's rules, each a setting whose default follows TikTok's own guidance. The same
/// person must always hash the same, or TikTok matches nothing and deletes silently miss.
public struct IdentifierRules: Sendable, Equatable, Codable {
    /// How a phone number is written before hashing.
    public enum PhoneForm: String, Sendable, Codable, CaseIterable {
        /// Country code and number, digits only, no `+`: TikTok's help page and its hashed example.
        case digits
        /// E.164 with the `+`, as TikTok's API notes and file-upload guide write it.
        case e164
    }

    /// Drop a `+tag` from an email's local part (`jane+news@x.com` → `jane@x.com`), as TikTok's
    /// customer-file help page says.
    public var emailRemovesPlusTag = true
    /// Drop dots from an email's local part; one version of TikTok's help page said so, most
    /// platforms do it for gmail.com only. Off by default.
    public var emailRemovesDots = false
    public var phoneForm: PhoneForm = .digits
    /// The type of a `maid` value without a `maid_type`; nil: such rows are rejected.
    public var maidType: MAIDType?

    public init() {}

    public enum CodingKeys: String, CodingKey {
        case emailRemovesPlusTag = "email_remove_plus_tag"
        case emailRemovesDots = "email_remove_dots"
        case phoneForm = "phone_format"
        case maidType = "maid_type"
    }

    /// One line for `validate`, `check` and `hash`: the rules in effect.
    public var summary: String {
        var email = ["trimmed", "lowercased"]
        if emailRemovesPlusTag { email.append("+tag removed") }
        if emailRemovesDots { email.append("dots removed before @") }
        let phone = phoneForm == .digits ? "digits only, country code first, no +" : "E.164 with +"
        let maid = maidType.map { "untyped maid is \($0.rawValue)" } ?? "untyped maid rejected (set identifiers.maid_type)"
        return "email: \(email.joined(separator: ", ")); phone: \(phone); \(maid)"
    }
}
