
/// The TikTok access token. Its description is redacted so it can never reach a log by accident.
public struct AccessToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    package let value: String

    public init?(_ value: String) {
        let trimmed = value.trimmingCharacters(in: " \t\r\n")
        guard !trimmed.isEmpty else { return nil }
        self.value = trimmed
    }

    public var description: String { "<redacted token>" }
    public var debugDescription: String { description }

    /// Removes the token from any text that is about to be shown or stored.
    public func redact(_ text: String) -> String {
        guard text.contains(value) else { return text }
        return text.replacingEvery(value, with: "<redacted token>")
    }
}

extension String {
    /// Every occurrence of `target` replaced, without Foundation.
    func replacingEvery(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension AccessToken {
    /// Lets `redactor` scrub this token from everything it sees.
    public func register(in redactor: Redactor) { redactor.add(value) }
}
