import Foundation

/// Why a file is left in the inbox for now. Said to the operator by its description (the
/// journal, `once`'s summary, `status`), decided on by its case.
public enum WaitReason: Sendable, Equatable, CustomStringConvertible {
    /// Its size or modification time changed within `settle_seconds`.
    case stillBeingWritten
    /// The daemon may not read it; the text says what the partner should do.
    case unreadable(String)
    /// Settled but visibly unfinished; the text says why and how to upload instead.
    case looksIncomplete(String)
    /// Its folder is not (yet) a partner in the configuration.
    case notAPartnerYet(partner: String)
    /// The state directory lacks about ``IntakeDecision/freeSpaceFactor`` times its size.
    case needsFreeSpace(bytes: Int64)
    /// An older file of the same partner is still waiting: no file overtakes an older one.
    case behind(older: String)
    /// The process is stopping: it takes no new file.
    case stopping
    /// Taking it failed for a reason of this machine (a disk, a permission, the ledger).
    case couldNotBeTaken(String)
    /// It changed while it was read, or could not be read through: read again at the next look.
    case changedWhileRead

    public var description: String {
        switch self {
        case .stillBeingWritten: "still being written"
        case .unreadable(let advice), .looksIncomplete(let advice): advice
        case .notAPartnerYet(let partner):
            "folder \(partner) is not a partner under partners: yet; the file is taken once it is added (then systemctl reload)"
        case .needsFreeSpace(let bytes):
            // The free figure is left out: it changes at every look, and the reason is said once
            // per file while it stays the same.
            "waits for free space: taking it needs about \(IntakeDecision.freeSpaceFactor) times its size (\(bytes.formatted(.byteCount(style: .file)))) free in the state directory, which has less; free some (old archive/ files, the retention: settings) and it is taken at the next look"
        case .behind(let older): "waits behind \(older), which arrived first and is not taken yet"
        case .stopping: "not taken: the process is stopping"
        case .couldNotBeTaken(let error): "could not be taken: \(error)"
        case .changedWhileRead: "changed while being read, or could not be read; it is read again"
        }
    }

    /// Whether it waits for an operator or a partner to act, not for time or the daemon.
    public var needsAction: Bool {
        switch self {
        case .unreadable, .looksIncomplete, .notAPartnerYet, .needsFreeSpace, .couldNotBeTaken: true
        case .stillBeingWritten, .behind, .stopping, .changedWhileRead: false
        }
    }

    /// Whether the file is still arriving: the normal state of an upload, not worth a journal line.
    public var isSettling: Bool { self == .stillBeingWritten }
}
