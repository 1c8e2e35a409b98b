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

    /// What a `maid` of 32 hex digits is: an MD5 of the MAID (TikTok takes `*_MD5` for MAIDs; some
    /// sources, mParticle, have nothing else) or a UUID written without its hyphens. The two look
    /// alike, so it is a setting, never a guess.
    public enum MAID32Hex: String, Sendable, Codable, CaseIterable {
        /// Sent as it is, as `IDFA_MD5` / `AAID_MD5`: what earlier versions did, and the default.
        case md5
        /// Hyphens put back (8-4-4-4-12), lowercased and hashed as any UUID: `*_SHA256`.
        case uuid
        /// The row is rejected, saying why: for partners who should say which they send.
        case reject
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
    /// How a MAID of 32 hex digits is taken.
    public var maid32Hex: MAID32Hex = .md5

    public init() {}

    public enum CodingKeys: String, CodingKey {
        case emailRemovesPlusTag = "email_remove_plus_tag"
        case emailRemovesDots = "email_remove_dots"
        case phoneForm = "phone_format"
        case maidType = "maid_type"
        case maid32Hex = "maid_32_hex"
    }

    /// One line for `validate`, `check` and `hash`: the rules in effect.
    public var summary: String {
        var email = ["trimmed", "lowercased"]
        if emailRemovesPlusTag { email.append("+tag removed") }
        if emailRemovesDots { email.append("dots removed before @") }
        let phone = phoneForm == .digits ? "digits only, country code first, no +" : "E.164 with +"
        let maid = maidType.map { "untyped maid is \($0.rawValue)" } ?? "untyped maid rejected (set identifiers.maid_type)"
        let hex32: String
        switch maid32Hex {
        case .md5: hex32 = "32-hex maid is an MD5"
        case .uuid: hex32 = "32-hex maid is a UUID without hyphens"
        case .reject: hex32 = "32-hex maid rejected (MD5 or UUID?)"
        }
        return "email: \(email.joined(separator: ", ")); phone: \(phone); \(maid); \(hex32)"
    }

    /// The rules that decide a plain identifier's hash, as the ledger records them: a change of
    /// these changes the hash of people already sent (the MAID type does not hash anything).
    /// The 32-hex MAID rule is named only when it is not the default, so that a ledger that recorded
    /// the rules before the setting existed finds them unchanged.
    public var hashingKey: String {
        "email_remove_plus_tag=\(emailRemovesPlusTag);email_remove_dots=\(emailRemovesDots);phone_format=\(phoneForm.rawValue)"
            + (maid32Hex == .md5 ? "" : ";maid_32_hex=\(maid32Hex.rawValue)")
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
        let hex32 = earlier["maid_32_hex"] ?? MAID32Hex.md5.rawValue
        if !earlier.isEmpty, hex32 != maid32Hex.rawValue {
            changes.append("maid_32_hex \(hex32) → \(maid32Hex.rawValue)")
        }
        return changes
    }
}
