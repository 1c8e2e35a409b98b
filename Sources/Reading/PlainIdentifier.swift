import AudienceModel

/// One plain value hashed as a file's row would hash it: for `hash`, so that a partner who hashes
/// on their side can check that their hashes match what TikTok receives from here.
public enum PlainIdentifier {
    public enum Kind: Sendable {
        case email
        case phone
        /// A MAID of this type; nil: the rules' type, else refused as a row would be.
        case maid(MAIDType?)
    }

    public static func member(_ value: String, as kind: Kind, rules: IdentifierRules) -> Result<Member, RejectReason> {
        var bytes = Array(value.utf8)
        return bytes.withUnsafeMutableBytes { mutable in
            let raw = UnsafeRawBufferPointer(mutable)
            switch kind {
            case .email:
                return IdentifierNormalizer.email(raw, rules: rules).map { Member(type: .emailSHA256, digest: $0) }
            case .phone:
                return IdentifierNormalizer.phone(raw, rules: rules).map { Member(type: .phoneSHA256, digest: $0) }
            case .maid(let type):
                guard let type = type ?? rules.maidType else { return .failure(.maidWithoutType) }
                return IdentifierNormalizer.maid(raw, hex32: rules.maid32Hex).map {
                    Member(type: $0.md5 ? type.md5Type : type.sha256Type, digest: $0.digest)
                }
            }
        }
    }

    /// A value that is already a SHA-256 (64 hex digits, any case), as a hash column holds it; nil
    /// for anything else.
    public static func hashed(_ value: String, as type: IdentifierType) -> Member? {
        var bytes = Array(value.utf8)
        return bytes.withUnsafeMutableBytes { mutable in
            guard case .success(let digest) = IdentifierNormalizer.sha256Hex(UnsafeRawBufferPointer(mutable)) else { return nil }
            return Member(type: type, digest: digest)
        }
    }
}
