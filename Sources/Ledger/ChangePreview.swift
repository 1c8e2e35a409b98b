import AudienceModel
import AudiencePlanning
import AudienceReading

/// Works out what a file would change, reading the ledger only: `plan` writes nothing, not even to
/// the write-ahead log. It answers what ``ChangeWriter`` would count, row for row.
public struct ChangePreview: ChangeSink {
    private let ledger: LedgerConnection
    private let lookup: Statement
    private var tally = SegmentTally()

    init(ledger: LedgerConnection) throws {
        self.ledger = ledger
        lookup = try ledger.connection.prepare(
            "SELECT desired FROM membership WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
    }

    /// The member's desired state before the file: nil when the ledger has no row for it.
    private func desired(_ change: MemberChange, segmentRow: Int64?) throws -> Int64? {
        guard let segmentRow else { return nil }
        defer { lookup.reset() }
        lookup.bind(1, Int64(change.member.type.rawValue))
        lookup.bind(2, change.member.digest)
        lookup.bind(3, segmentRow)
        return try lookup.step() ? lookup.int(0) : nil
    }

    public mutating func apply(_ batch: UnsafeBufferPointer<MemberChange>, segments: [SegmentID], isDelta: Bool) throws {
        for change in batch {
            let index = Int(change.segment)
            let before = try desired(change, segmentRow: tally.row(index, segments, lookUp: ledger.knownSegmentRow(for:)))
            switch (isDelta, change.action) {
            case (false, _):
                if before == 1 { tally.entries[index]?.keptMembers += 1 } else { tally.entries[index]?.change.adds += 1 }
            case (true, .add):
                if before != 1 { tally.entries[index]?.change.adds += 1 }
            case (true, .remove):
                // A remove of a member never seen is still sent; one that only undoes an add of the
                // same file removes nothing that was not there.
                if before == 1 || (before == nil && !change.removesOnlyIfPresent) { tally.entries[index]?.change.removes += 1 }
            }
        }
    }

    /// Per segment, what the file would change; a snapshot also removes the members it left out,
    /// and is held when that is more of a segment than `maximumRemovalPercent` (as ``ChangeWriter``
    /// decides it).
    func changes(isDelta: Bool, maximumRemovalPercent: Double? = nil) throws -> ([String: SegmentChange], SnapshotHeld?) {
        guard !isDelta else { return (tally.changes { _ in 0 }, nil) }
        var members: [Int64: Int] = [:]
        let rows = tally.rowList
        if !rows.isEmpty {
            let indexed = try ledger.connection.prepare(
                """
                SELECT segment FROM membership INDEXED BY membership_by_segment
                WHERE unindexed IS NULL AND desired = 1 AND segment IN (\(rows))
                """)
            members = try ledger.count(indexed) { $0.int(0) }
            // A segment's first snapshot also counts the members deltas left out of the index, in
            // the one pass over membership that applying it makes.
            let unswept = try ledger.unsweptSegments(among: rows)
            if !unswept.isEmpty {
                let outside = try ledger.connection.prepare(
                    """
                    SELECT segment FROM membership NOT INDEXED
                    WHERE unindexed = 1 AND desired = 1 AND segment IN (\(unswept.map(String.init).joined(separator: ",")))
                    """)
                members.merge(try ledger.count(outside) { $0.int(0) }, uniquingKeysWith: +)
            }
        }
        var held: SnapshotHeld?
        if let limit = maximumRemovalPercent {
            for case let entry? in tally.entries where held == nil {
                let before = entry.row.flatMap { members[$0] } ?? 0
                held = SnapshotHeld.exceeding(segment: entry.segment.rawValue, members: before, removals: before - entry.keptMembers, limitPercent: limit)
            }
        }
        return (tally.changes { entry in entry.row.map { (members[$0] ?? 0) - entry.keptMembers } ?? 0 }, held)
    }
}
