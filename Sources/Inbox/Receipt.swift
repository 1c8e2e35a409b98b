import Foundation
import AudienceLedger
import AudienceModel
import AudienceReading
import AudienceSupport

/// What happened to one file, written as JSON beside the others in `receipts/` and summarised in
/// one log line. Holds counts and line numbers, never an identifier beyond a short prefix.
public struct Receipt: Codable, Sendable {
    public enum Outcome: String, Codable, Sendable {
        case applied, duplicate, rejected, incomplete, held
    }

    public var file: String
    public var partner: String?
    public var fingerprint: String?
    public var outcome: Outcome
    public var kind: FileKind?
    public var reason: String?
    public var rowsRead = 0
    public var rowsRejected = 0
    public var members = 0
    public var segments: [String: SegmentChange] = [:]
    public var rejectCounts: [String: Int] = [:]
    public var rejects: [RowRejection] = []
    public var ignoredColumns: [String] = []
    public var receivedAt: String
    public var confirmedAt: String?
    public var archivedAs: String?

    enum CodingKeys: String, CodingKey {
        case file, partner, fingerprint, outcome, kind, reason, members, segments, rejects
        case rowsRead = "rows_read"
        case rowsRejected = "rows_rejected"
        case rejectCounts = "reject_counts"
        case ignoredColumns = "ignored_columns"
        case receivedAt = "received_at"
        case confirmedAt = "confirmed_at"
        case archivedAs = "archived_as"
    }

    public init(file: InboxFile, outcome: Outcome, now: Date = Date()) {
        self.file = file.relativePath
        partner = file.partner
        self.outcome = outcome
        receivedAt = Receipt.timestamp(now)
    }

    /// What an applied file's receipt counts, from whichever knows it: the run that read the file,
    /// or (after a restart) the ledger's record of it.
    struct Applied {
        var kind: FileKind
        var rowsRead: Int
        var rowsRejected: Int
        var members: Int
        var segments: [String: SegmentChange]

        init(_ result: FileApplyResult) {
            kind = result.summary.kind
            rowsRead = result.summary.rowsRead
            rowsRejected = result.summary.rowsRejected
            members = result.summary.membersRead
            segments = result.changes
        }

        /// From the ledger: counts per segment; the rejected lines were only in the run that read it.
        init(_ record: FileRecord) {
            kind = record.kind ?? .delta
            rowsRead = record.rowsRead
            rowsRejected = record.rowsRejected
            members = record.members
            segments = record.segmentChanges ?? [:]
        }
    }

    /// The receipt of an applied file: every applied file's receipt is made here.
    init(applied file: InboxFile, fingerprint: String, _ counts: Applied, now: Date = Date()) {
        self.init(file: file, outcome: .applied, now: now)
        self.fingerprint = fingerprint
        kind = counts.kind
        rowsRead = counts.rowsRead
        rowsRejected = counts.rowsRejected
        members = counts.members
        segments = counts.segments
    }

    /// The rejected lines and ignored columns, which only the run that read the file knows.
    mutating func addReadingDetails(_ summary: ReadSummary) {
        rejects = summary.rejections
        rejectCounts = Dictionary(uniqueKeysWithValues: summary.rejectionCounts.map { ($0.key.rawValue, $0.value) })
        ignoredColumns = summary.ignoredColumns
    }

    /// The one line an operator reads in the log.
    public var logLine: String {
        var parts = ["\(file.escapingControlCharacters): \(outcome.rawValue)"]
        if let kind { parts.append(kind.rawValue) }
        if outcome == .applied {
            let adds = segments.values.reduce(0) { $0 + $1.adds }
            let removes = segments.values.reduce(0) { $0 + $1.removes }
            parts.append("\(rowsRead) rows, +\(adds) -\(removes) across \(segments.count) segment(s)")
        }
        if rowsRejected > 0 { parts.append("\(rowsRejected) rows rejected") }
        if let reason { parts.append(reason.escapingControlCharacters) }
        return parts.joined(separator: ", ")
    }

    public func encoded() -> [UInt8] {
        Array(((try? PrettyJSON.encode(self)) ?? "{}").utf8) + [UInt8(ascii: "\n")]
    }

    static func timestamp(_ date: Date) -> String { ISO8601Time.string(Int(date.timeIntervalSince1970)) }

    /// Where the receipt for `file` lives below the state directory. The same file always gets
    /// the same place, so a receipt written again after a stop replaces the first. A duplicate's
    /// sits beside the receipt of the first arrival, named after its own arrival (first seen in
    /// the inbox, to the microsecond).
    static func relativePath(for file: InboxFile, fingerprint: String?, outcome: Outcome = .applied) -> String {
        var suffix = fingerprint.map { "." + $0.prefix(12) } ?? ""
        if outcome == .duplicate { suffix += ".duplicate-" + arrivalStamp(file.arrived) }
        return FileName.appending(suffix + ".json", to: StateFolder.receipts.rawValue + "/" + file.relativePath)
    }

    /// `20261203T062512.038110Z`: seconds since 1970 as a UTC time that sorts as it reads.
    static func arrivalStamp(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.down))
        let micros = Int(((seconds - Double(whole)) * 1_000_000).rounded(.down))
        let time = ISO8601Time.string(whole).filter { $0 != "-" && $0 != ":" }.dropLast()  // 20261203T062512
        let fraction = String(micros)
        return time + "." + String(repeating: "0", count: max(0, 6 - fraction.count)) + fraction + "Z"
    }
}
