/// The identifier types `/segment/mapping/` accepts in `id_schema`.
enum IdentifierType: String, CaseIterable, Sendable {
    case emailSHA256 = "EMAIL_SHA256"
    case phoneSHA256 = "PHONE_SHA256"
    case idfaSHA256 = "IDFA_SHA256"
    case aaidSHA256 = "AAID_SHA256"
    case idfaMD5 = "IDFA_MD5"
    case aaidMD5 = "AAID_MD5"

    /// Hex characters in a digest of this type.
    var digestLength: Int {
        switch self {
        case .emailSHA256, .phoneSHA256, .idfaSHA256, .aaidSHA256: 64
        case .idfaMD5, .aaidMD5: 32
        }
    }

    var algorithmName: String {
        self.digestLength == 64 ? "SHA-256" : "MD5"
    }

    static var allNames: String {
        Self.allCases.map(\.rawValue).joined(separator: ", ")
    }

    /// Why `id` (found at `location`) is not an acceptable digest of this type, or nil if it is.
    ///
    /// Never repeats the identifier itself: clients log these messages.
    func problem(with id: String, at location: String) -> TikTokAPIError? {
        let bytes = id.utf8
        if bytes.count == self.digestLength, bytes.allSatisfy(WireRules.isLowercaseHexDigit) {
            return nil
        }
        if bytes.isEmpty {
            return .param("\(location) is empty")
        }
        guard bytes.allSatisfy(WireRules.isHexDigit) else {
            return .piiNotHashed(
                "\(location) is not a \(self.algorithmName) hex digest for \(self.rawValue) and looks like unhashed PII: "
                    + "send \(self.digestLength) lowercase hex characters"
            )
        }
        if bytes.count != self.digestLength {
            var message = "\(location) has \(bytes.count) hex characters; \(self.rawValue) needs \(self.digestLength)"
            if self.digestLength == 64, bytes.count == 32 {
                message += " (an MD5 digest? TikTok takes only SHA-256 for this type)"
            } else if self.digestLength == 32, bytes.count == 64 {
                message += " (a SHA-256 digest? use the *_SHA256 type)"
            }
            return .param(message)
        }
        return .param("\(location) must be lowercase hex; it contains uppercase letters")
    }
}
