import Foundation

/// How a failure ends a command, when it ends one. The executable turns it into an exit code in
/// one place (sysexits(3), as the systemd unit expects: 78 is never restarted, 75 is).
public enum FailureEnding: Sendable, Equatable {
    /// A file, row or argument the operator gave was refused: fix the input (65).
    case inputRejected
    /// The setup is sound; try again later: a full disk, an I/O error, TikTok, another run (75).
    case retryLater
    /// The setup is wrong and a restart cannot help: configuration, permissions, a damaged or
    /// newer ledger (78).
    case configuration
    /// A defect of tiktok-audience-sync (70).
    case software
}

/// A failure an operator reads: its description says what happened and what to do, with the
/// context (file, line, segment, TikTok's code and request_id) but never a secret or a member.
public protocol OperatorError: Error, CustomStringConvertible, Sendable {
    /// How the failure ends a command that cannot go on.
    var ending: FailureEnding { get }
}

extension OperatorError {
    /// The description on one line of at most 400 characters: for status lines and summaries.
    public var shortDescription: String { Self.bounded(description) }

    static func bounded(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count <= 400 ? line : String(line.prefix(399)) + "…"
    }
}

extension FailureEnding {
    /// The ending of a failed system call: no permission, a read-only file system or a file where
    /// a folder should be is the set-up; a full disk or an I/O error passes.
    public init(errno code: Int32) {
        switch code {
        case EACCES, EPERM, EROFS, ENOTDIR, ELOOP: self = .configuration
        default: self = .retryLater
        }
    }

    /// The ending of any error: an ``OperatorError`` says it; a file-system error from Foundation
    /// (a full disk, a permission) is taken as passing; anything else is a defect.
    public init(of error: any Error) {
        switch error {
        case let error as any OperatorError: self = error.ending
        case is CancellationError: self = .retryLater
        case let error as CocoaError where error.isFileError: self = .retryLater
        case is POSIXError: self = .retryLater
        default: self = .software
        }
    }
}
