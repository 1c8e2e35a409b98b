/// A ledger failure. Carries SQLite's code and message and the statement's text,
/// never the values bound to it (those may be member identifiers).
public struct LedgerError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case open
        case sqlite
        case superseded
        case corrupt
    }

    public let kind: Kind
    public let path: String
    public let sqliteCode: Int32?
    public let detail: String

    init(_ kind: Kind, path: String, sqliteCode: Int32? = nil, _ detail: String) {
        self.kind = kind
        self.path = path
        self.sqliteCode = sqliteCode
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .open: "cannot open the ledger \(path): \(detail). Check that state_directory exists and is writable."
        case .superseded:
            "the ledger \(path) was written by a newer version of tiktok-audience-sync (\(detail)); run that version or restore a backup."
        case .corrupt: "the ledger \(path) is damaged: \(detail). Restore it from a backup."
        case .sqlite: "ledger \(path): \(detail)"
        }
    }
}
