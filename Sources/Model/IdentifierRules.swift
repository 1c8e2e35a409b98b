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

    /// The rules that decide a plain identifier's hash, as the ledger records them: a change of
    /// these changes the hash of people already sent (the MAID type does not hash anything).
    public var hashingKey: String {
        "email_remove_plus_tag=\(emailRemovesPlusTag);email_remove_dots=\(emailRemovesDots);phone_format=\(phoneForm.rawValue)"
    }

    /// What differs between the rules of `key` (recorded earlier) and these, in words; empty when
    /// nothing does (or the key is not one this version wrote).
    public func changes(since key: String) -> [String] {
        var earlier: [String: String] = [:]
        for pair in key.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { earlier[parts[0]] = parts[1] }
        }
        var changes: [String] = []
        func yesNo(_ flag: Bool) -> String { flag ? "removed" : "kept" }
        if let plus = earlier["email_remove_plus_tag"], plus != "\(emailRemovesPlusTag)" {
            changes.append("email +tag \(yesNo(plus == "true")) → \(yesNo(emailRemovesPlusTag))")
        }
        if let dots = earlier["email_remove_dots"], dots != "\(emailRemovesDots)" {
            changes.append("email dots \(yesNo(dots == "true")) → \(yesNo(emailRemovesDots))")
        }
        if let phone = earlier["phone_format"], phone != phoneForm.rawValue {
            changes.append("phone_format \(phone) → \(phoneForm.rawValue)")
        }
        return changes
    }
}
