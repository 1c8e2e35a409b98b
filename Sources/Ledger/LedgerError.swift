import CSQLite
import Glibc
import AudienceModel

/// A ledger failure. Carries SQLite's code and message and the statement's text, never the values
/// bound to it (those may be member identifiers).
public struct LedgerError: OperatorError {
    private enum Code: Sendable {
        case open
        case sqlite
        case superseded
        case corrupt
        case upgradeBlocked
        case needsUpgrade
    }

    private let code: Code
    public let path: String
    /// SQLite's extended result code, when SQLite gave one.
    public let sqliteCode: Int32?
    /// The errno of the system call that failed under SQLite, when one did (0: none).
    public let systemErrno: Int32
    public let detail: String

    private init(_ code: Code, path: String, sqliteCode: Int32? = nil, systemErrno: Int32 = 0, _ detail: String) {
        self.code = code
        self.path = path
        self.sqliteCode = sqliteCode
        self.systemErrno = systemErrno
        self.detail = detail
    }

    /// The ledger file cannot be opened.
    static func open(_ path: String, sqliteCode: Int32, systemErrno: Int32, _ detail: String) -> Self {
        Self(.open, path: path, sqliteCode: sqliteCode, systemErrno: systemErrno, detail)
    }

    /// A statement failed.
    static func sqlite(_ path: String, sqliteCode: Int32, systemErrno: Int32, _ detail: String) -> Self {
        Self(.sqlite, path: path, sqliteCode: sqliteCode, systemErrno: systemErrno, detail)
    }

    /// A newer version of the program wrote the ledger.
    static func superseded(_ path: String, _ detail: String) -> Self {
        Self(.superseded, path: path, detail)
    }

    /// The ledger cannot be upgraded safely now (no room for the copy made before).
    static func upgradeBlocked(_ path: String, _ detail: String) -> Self {
        Self(.upgradeBlocked, path: path, detail)
    }

    /// The ledger is older than this version, and this command may not upgrade it: only the
    /// process that holds the state directory's lock (the daemon, or `once`) does.
    static func needsUpgrade(_ path: String, _ detail: String) -> Self {
        Self(.needsUpgrade, path: path, detail)
    }

    /// The ledger holds what no version writes.
    static func corrupt(_ path: String, _ detail: String) -> Self {
        Self(.corrupt, path: path, detail)
    }

    /// A full disk, an I/O error or a lock held too long passes: retried later (75), never the
    /// configuration ending (78) that systemd does not restart.
    public var ending: FailureEnding {
        switch code {
        case .superseded, .corrupt, .upgradeBlocked: return .configuration
        // It goes by itself: the service upgrades it when it restarts (the package restarts it).
        case .needsUpgrade: return .retryLater
        case .open, .sqlite:
            switch (sqliteCode ?? 0) & 0xff {
            case SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_INTERRUPT, SQLITE_PROTOCOL:
                return .retryLater
            case SQLITE_CANTOPEN:
                // SQLite says CANTOPEN for any failure to open the ledger, its log or its index:
                // the errno tells a permission (the set-up) from a full disk or no file handles.
                switch systemErrno {
                case ENOSPC, EDQUOT, EIO, EMFILE, ENFILE, ENOMEM, EAGAIN, EINTR: return .retryLater
                default: return .configuration
                }
            case SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH:
                return .configuration
            default:
                return code == .open ? .configuration : .software
            }
        }
    }

    public var description: String {
        switch code {
        case .open:
            "cannot open the ledger \(path): \(detail). Check that state_directory exists and is writable by the service user."
        case .superseded:
            "the ledger \(path) was written by a newer version of tiktok-audience-sync (\(detail)); run that version or restore a backup."
        case .corrupt: "the ledger \(path) is damaged: \(detail). Restore it from a backup."
        case .upgradeBlocked: detail
        case .needsUpgrade:
            "the ledger \(path) is at \(detail): restart the service to upgrade the ledger (systemctl restart tiktok-audience-sync), or run `tiktok-audience-sync once` while it is stopped. Nothing was changed."
        case .sqlite:
            switch ending {
            case .retryLater: "ledger \(path): \(detail). Nothing was lost; free disk space or fix the disk, and it is tried again."
            case .configuration: "ledger \(path): \(detail). Check the ledger file's permissions, or restore it from a backup."
            default: "ledger \(path): \(detail)"
            }
        }
    }
}
