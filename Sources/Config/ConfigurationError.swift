import AudienceModel
import AudienceSupport

/// A configuration problem: names the key and where it came from, and says what to do.
public struct ConfigurationError: OperatorError {
    public let file: String
    public let key: String?
    public let detail: String

    public init(file: String, key: String?, _ detail: String) {
        self.file = file
        self.key = key
        self.detail = detail
    }

    public var ending: FailureEnding { .configuration }

    public var description: String {
        if let key {
            let environment = "TIKTOK_AUDIENCE_SYNC_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
            return "configuration \(file): \(key): \(detail) (set it in the file or with \(environment))"
        }
        return "configuration \(file): \(detail)"
    }
}
