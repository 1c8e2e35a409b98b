import Foundation
import Glibc
import AudienceModel
import AudiencePlanning
import AudienceReading

/// A file as the ledger remembers it.
public struct FileRecord: Sendable, Codable, Equatable {
    public enum Outcome: String, Sendable, Codable { case applied, rejected, held }
    public var fingerprint: String
    public var name: String
    public var size: Int64
    public var outcome: Outcome
    /// Nil for a file that was not read through (rejected whole, or held).
    public var kind: FileKind?
    public var rowsRead: Int
    public var rowsRejected: Int
    public var members: Int
    public var adds: Int
    public var removes: Int
    public var reason: String?
    public var plannedAt: Int64
    public var archivedAs: String?
    public var duplicatesSeen: Int
    public var receipt: String?
    public var confirmedAt: Int64?
    /// The net change per segment when it was applied (nil for ledgers older than that record).
    public var segmentChanges: [String: SegmentChange]?
}

/// The net change one file made to desired membership, per segment.
public struct SegmentChange: Sendable, Codable, Equatable {
    public var adds = 0
    public var removes = 0
    public init(adds: Int = 0, removes: Int = 0) {
        self.adds = adds
        self.removes = removes
    }
}

public struct FileApplyResult: Sendable {
    public var summary: ReadSummary
    public var changes: [String: SegmentChange]
    public var generation: Int64
    /// For a preview of a snapshot: the segment it would be held for (the removal limit).
    public var wouldHold: SnapshotHeld?
    public var adds: Int { changes.values.reduce(0) { $0 + $1.adds } }
    public var removes: Int { changes.values.reduce(0) { $0 + $1.removes } }
}

extension Ledger {

    /// Applies a file's member changes to desired membership and records the file, in one
    /// transaction; rolled back if the planning's stop is asked for meanwhile (``PlanningStopped``).
    /// `reapplying`: the same bytes were applied before (a snapshot re-sent after newer files):
    /// the file's record is that of this arrival from now on.
    public func applyFile(
        _ changes: SortedChanges, fingerprint: Digest32, name: String, size: Int64,
        maximumRemovalPercent: Double? = nil, reapplying: Bool = false
    ) throws -> FileApplyResult {
        let connection = self.connection
        let body = { () throws -> FileApplyResult in
            let generation = try connection.nextGeneration()
            var writer = try ChangeWriter(ledger: connection, generation: generation)
            writer.maximumRemovalPercent = maximumRemovalPercent
            try changes.write(into: &writer)
            try writer.flush()
            if !changes.isDelta {
                try writer.sweepSnapshot()
            }
            let result = FileApplyResult(summary: changes.summary, changes: writer.changes, generation: generation)
            if reapplying {
                let forget = try connection.connection.prepare("DELETE FROM file WHERE fingerprint = ?1 RETURNING generation")
                forget.bind(1, fingerprint)
                var earlier: [Int64] = []
                while try forget.step() { if let generation = forget.optionalInt(0) { earlier.append(generation) } }
                forget.reset()
                // The earlier arrival's trail goes with its record, as retention would take it.
                try connection.forgetTrail(generations: earlier)
            }
            try connection.insertFile(
                fingerprint: fingerprint, generation: generation, name: name, size: size, result: result)
            return result
        }
        // A file is planned with a large page cache (its key-ordered writes reuse pages); between
        // files, while the sender confirms, a small one: the pages planning filled are given back
        // before the requests in flight need their memory.
        try connection.connection.execute("PRAGMA cache_size = -\(Self.planningCacheKiB)")
        defer { try? connection.connection.execute("PRAGMA cache_size = -\(Self.steadyCacheKiB)") }
        do {
            return try connection.connection.transaction(body)
        } catch {
            try? connection.reloadSegments()
            throw error
        }
    }

    /// The writer's page cache while a file is planned, and otherwise (KiB).
    static let planningCacheKiB = 16_384
    static let steadyCacheKiB = 4_096
}

extension LedgerReader {
    /// What a file would change, computed by reading the ledger only (for `plan`).
    /// `maximumRemovalPercent`: the limit a snapshot is held by (``FileApplyResult/wouldHold``).
    public func previewFile(_ changes: SortedChanges, maximumRemovalPercent: Double? = nil) throws -> FileApplyResult {
        try connection.reloadSegments()
        // One read transaction: the file is compared with one consistent state of the ledger.
        try connection.connection.execute("BEGIN")
        defer { try? connection.connection.execute("ROLLBACK") }
        var preview = try ChangePreview(ledger: connection)
        try changes.write(into: &preview)
        let (perSegment, held) = try preview.changes(isDelta: changes.isDelta, maximumRemovalPercent: maximumRemovalPercent)
        return FileApplyResult(summary: changes.summary, changes: perSegment, generation: 0, wouldHold: held)
    }
}

extension Ledger {
    /// Records a file rejected as a whole (or held), so a re-upload of the same bytes is known at once.
    /// `arrived`: for a held file, its place in the arrival order (see ``heldArrival(fingerprint:)``).
    public func recordRejectedFile(
        fingerprint: Digest32, name: String, size: Int64, reason: String, outcome: FileRecord.Outcome = .rejected,
        arrived: Double? = nil
    ) throws {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let statement = try ledger.connection.prepare(
                    """
                    INSERT INTO file (fingerprint, name, size, outcome, reason, planned_at, arrived)
                    VALUES (?1, ?2, ?3, ?6, ?4, ?5, ?7)
                    ON CONFLICT (fingerprint) DO NOTHING
                    """)
                statement.bind(6, outcome.rawValue)
                if let arrived { statement.bind(7, arrived) } else { statement.bindNull(7) }
                statement.bind(1, fingerprint)
                statement.bind(2, name)
                statement.bind(3, size)
                statement.bind(4, reason)
                statement.bind(5, Int64(time(nil)))
                try statement.run()
            }
        }
    }

    public func recordDuplicate(fingerprint: Digest32) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "UPDATE file SET duplicates_seen = duplicates_seen + 1 WHERE fingerprint = ?1")
            statement.bind(1, fingerprint)
            try statement.run()
        }
    }

    public func recordArchived(fingerprint: Digest32, as relativePath: String) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "UPDATE file SET archived_as = ?2 WHERE fingerprint = ?1 AND archived_as IS NULL")
            statement.bind(1, fingerprint)
            statement.bind(2, relativePath)
            try statement.run()
        }
    }

}

extension LedgerConnection {
    func nextGeneration() throws -> Int64 {
        let statement = try connection.prepare(
            """
            INSERT INTO setting (key, value) VALUES ('generation', 1)
            ON CONFLICT (key) DO UPDATE SET value = value + 1
            RETURNING value
            """)
        defer { statement.reset() }
        guard try statement.step() else { throw connection.error(0, "generation counter returned nothing") }
        return statement.int(0)
    }

    func insertFile(fingerprint: Digest32, generation: Int64, name: String, size: Int64, result: FileApplyResult) throws {
        let statement = try connection.prepare(
            """
            INSERT INTO file (fingerprint, generation, name, size, outcome, kind, rows_read, rows_rejected,
                              members, adds, removes, planned_at, segment_changes)
            VALUES (?1, ?2, ?3, ?4, 'applied', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
            """)
        statement.bind(12, (try? JSONEncoder().encode(result.changes)).map { String(decoding: $0, as: UTF8.self) })
        statement.bind(1, fingerprint)
        statement.bind(2, generation)
        statement.bind(3, name)
        statement.bind(4, size)
        statement.bind(5, result.summary.kind.rawValue)
        statement.bind(6, result.summary.rowsRead)
        statement.bind(7, result.summary.rowsRejected)
        statement.bind(8, result.summary.membersRead)
        statement.bind(9, result.adds)
        statement.bind(10, result.removes)
        statement.bind(11, Int64(time(nil)))
        try statement.run()
    }
}

extension Ledger {
    public func recordReceipt(fingerprint: Digest32, at relativePath: String) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("UPDATE file SET receipt = ?2 WHERE fingerprint = ?1")
            statement.bind(1, fingerprint)
            statement.bind(2, relativePath)
            try statement.run()
        }
    }

    /// Marks applied files whose every change TikTok has now confirmed (no pending row from their
    /// generation or earlier), and returns them with their receipt paths.
    public func confirmSettledFiles(now: Int64) throws -> [(fingerprint: Digest32, receipt: String?)] {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let oldest = try ledger.liveOutboxRows("min(generation)")
                let boundary = try oldest.step() ? (oldest.optionalInt(0) ?? Int64.max) : Int64.max
                oldest.reset()
                let settled = try ledger.connection.prepare(
                    """
                    UPDATE file SET confirmed_at = ?2
                    WHERE outcome = 'applied' AND confirmed_at IS NULL AND generation < ?1
                    RETURNING fingerprint, receipt
                    """)
                settled.bind(1, boundary)
                settled.bind(2, now)
                var result: [(Digest32, String?)] = []
                while try settled.step() {
                    if let print = settled.digest(0) { result.append((print, settled.optionalString(1))) }
                }
                settled.reset()
                return result
            }
        }
    }
}

extension LedgerReader {
    public func fileRecord(fingerprint: Digest32) throws -> FileRecord? {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT name, size, outcome, kind, rows_read, rows_rejected, members, adds, removes, reason,
                       planned_at, archived_as, duplicates_seen, receipt, confirmed_at, segment_changes
                FROM file WHERE fingerprint = ?1
                """)
            defer { statement.reset() }
            statement.bind(1, fingerprint)
            guard try statement.step() else { return nil }
            return FileRecord(
                fingerprint: fingerprint.hex, name: statement.string(0), size: statement.int(1),
                outcome: FileRecord.Outcome(rawValue: statement.string(2)) ?? .rejected,
                kind: statement.optionalString(3).flatMap(FileKind.init(rawValue:)),
                rowsRead: Int(statement.int(4)), rowsRejected: Int(statement.int(5)), members: Int(statement.int(6)),
                adds: Int(statement.int(7)), removes: Int(statement.int(8)), reason: statement.optionalString(9),
                plannedAt: statement.int(10), archivedAs: statement.optionalString(11),
                duplicatesSeen: Int(statement.int(12)), receipt: statement.optionalString(13),
                confirmedAt: statement.optionalInt(14),
                segmentChanges: statement.optionalString(15).flatMap {
                    try? JSONDecoder().decode([String: SegmentChange].self, from: Data($0.utf8))
                })
        }
    }

    /// The generation of the last file applied (0 for none): see ``Configuration/ledgerSealName``.
    public func lastAppliedGeneration() throws -> Int64 {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT coalesce(max(generation), 0) FROM file WHERE outcome = 'applied'")
            defer { statement.reset() }
            return try statement.step() ? statement.int(0) : 0
        }
    }

    /// When a held file first arrived in the inbox (nil for ledgers older than that record).
    public func heldArrival(fingerprint: Digest32) throws -> Double? {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT arrived FROM file WHERE fingerprint = ?1 AND outcome = 'held'")
            defer { statement.reset() }
            statement.bind(1, fingerprint)
            return try statement.step() && !statement.isNull(0) ? statement.double(0) : nil
        }
    }

    /// Whether a file was applied after the one with this fingerprint: then a snapshot with the
    /// same bytes is the partner's complete membership *now*, and is applied again.
    public func hasFileAppliedAfter(fingerprint: Digest32) throws -> Bool {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT EXISTS (SELECT 1 FROM file WHERE outcome = 'applied' AND generation >
                    (SELECT generation FROM file WHERE fingerprint = ?1))
                """)
            defer { statement.reset() }
            statement.bind(1, fingerprint)
            return try statement.step() && statement.int(0) == 1
        }
    }

    /// Names of files applied after the file with this fingerprint was recorded (held, say) that
    /// lie in the same inbox folder: `folder` is the partner folder, nil for the inbox itself.
    public func filesApplied(after fingerprint: Digest32, inFolder folder: String?) throws -> [String] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT name FROM file WHERE outcome = 'applied'
                  AND rowid > (SELECT rowid FROM file WHERE fingerprint = ?1)
                  AND (CASE WHEN ?2 IS NULL THEN instr(name, '/') = 0 ELSE substr(name, 1, length(?2) + 1) = ?2 || '/' END)
                ORDER BY rowid
                """)
            defer { statement.reset() }
            statement.bind(1, fingerprint)
            statement.bind(2, folder)
            var names: [String] = []
            while try statement.step() { names.append(statement.string(0)) }
            return names
        }
    }

    /// Applied files with a receipt but no recorded place in `archive/`: the process stopped
    /// between the move and recording it (or, rarely, a new upload replaced the file as it was
    /// read, and it was never moved). With each one's receipt path.
    public func appliedFilesNotRecordedAsArchived() throws -> [(fingerprint: Digest32, receipt: String)] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "SELECT fingerprint, receipt FROM file WHERE outcome = 'applied' AND archived_as IS NULL AND receipt IS NOT NULL")
            defer { statement.reset() }
            var found: [(Digest32, String)] = []
            while try statement.step() { if let print = statement.digest(0) { found.append((print, statement.string(1))) } }
            return found
        }
    }

    /// Applied and archived files whose receipt was never recorded: a process of an earlier
    /// version stopped between the move and the receipt.
    public func archivedFilesWithoutReceipt() throws -> [(fingerprint: Digest32, record: FileRecord)] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "SELECT fingerprint FROM file WHERE outcome = 'applied' AND archived_as IS NOT NULL AND receipt IS NULL")
            var prints: [Digest32] = []
            while try statement.step() { if let print = statement.digest(0) { prints.append(print) } }
            statement.reset()
            return prints
        }.compactMap { print in try fileRecord(fingerprint: print).map { (print, $0) } }
    }

    /// The most recent files, newest first.
    public func recentFiles(limit: Int) throws -> [FileRecord] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "SELECT fingerprint FROM file ORDER BY planned_at DESC, rowid DESC LIMIT ?1")
            statement.bind(1, limit)
            var prints: [Digest32] = []
            while try statement.step() { if let print = statement.digest(0) { prints.append(print) } }
            statement.reset()
            return prints
        }.compactMap { try fileRecord(fingerprint: $0) }
    }
}
