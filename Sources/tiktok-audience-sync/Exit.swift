import AudienceDaemon
import ArgumentParser
import AudienceModel
import AudienceSupport

/// sysexits(3) codes, as DESIGN.md and the systemd unit expect them.
enum Exit {
    static let done = ExitCode(0)
    static let inputRejected = ExitCode(65)
    static let workPending = ExitCode(75)
    static let badConfiguration = ExitCode(78)
    static let software = ExitCode(70)
}

extension Exit {
    /// The one place where a failure's ending becomes an exit code.
    static func code(for ending: FailureEnding) -> ExitCode {
        switch ending {
        case .inputRejected: inputRejected
        case .retryLater: workPending
        case .configuration: badConfiguration
        case .software: software
        }
    }

    /// How the pipeline ended (``PipelineEnding``), as `once` and `run` exit.
    static func code(for ending: PipelineEnding) -> ExitCode {
        ending.ending.map(code(for:)) ?? done
    }
}

/// Prints what went wrong on stderr (through the redactor) and exits as the error's ending says.
func fail(_ error: any Error, redactor: Redactor? = nil) -> ExitCode {
    fail("\(error)", Exit.code(for: FailureEnding(of: error)), redactor: redactor)
}

/// Prints a message for the operator on stderr (through the redactor) and exits with `code`.
func fail(_ message: String, _ code: ExitCode, redactor: Redactor? = nil) -> ExitCode {
    let text = redactor?.redact(message) ?? message
    FileHandleOutput.standardError("tiktok-audience-sync: \(text)\n")
    return code
}
