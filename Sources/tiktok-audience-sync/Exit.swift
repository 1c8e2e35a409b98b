import ArgumentParser
import AudienceSync

/// sysexits(3) codes, as DESIGN.md and the systemd unit expect them.
enum Exit {
    static let done = ExitCode(0)
    static let inputRejected = ExitCode(65)
    static let workPending = ExitCode(75)
    static let badConfiguration = ExitCode(78)
    static let software = ExitCode(70)
}

/// Prints a message for the operator on stderr (through the redactor) and exits with `code`.
func fail(_ message: String, _ code: ExitCode, redactor: Redactor? = nil) -> ExitCode {
    let text = redactor?.redact(message) ?? message
    FileHandleOutput.standardError("tiktok-audience-sync: \(text)\n")
    return code
}
