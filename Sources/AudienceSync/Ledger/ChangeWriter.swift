/// Writes one file's member changes into desired membership, inside the file's transaction.
/// Counts, per segment, the rows whose desired state actually changed.
public struct ChangeWriter {
    private let ledger: LedgerConnection
    private let generation: Int64
    private let deltaUpsert: Statement
    private let snapshotUpsert: Statement
    private let removeIfPresent: Statement
    private let sweep: Statement
    private let countMembers: Statement
    private let countSweep: Statement
    /// A snapshot may remove at most this share of a segment's members; nil: no limit.
    var maximumRemovalPercent: Double?
    private var membersBefore: [SegmentID: Int] = [:]
    private var segmentRows: [SegmentID: Int64] = [:]
    private(set) var changes: [String: SegmentChange] = [:]
    /// Segments that received at least one valid row: only these does a snapshot replace.
    private(set) var touchedSegments: Set<SegmentID> = []

    init(ledger: LedgerConnection, generation: Int64) throws {
        self.ledger = ledger
        self.generation = generation
        let connection = ledger.connection
        // A new row from an add starts as "not at TikTok" (acked 0), so add-then-remove cancels out;
        // a new row from a remove starts unknown (acked NULL), so the delete is still sent.
        deltaUpsert = try connection.prepare(
            """
            INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen)
            VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 1 THEN 0 END, ?5, ?5)
            ON CONFLICT DO UPDATE SET desired = excluded.desired, generation = excluded.generation,
                                      seen = excluded.seen
            WHERE desired <> excluded.desired
            """)
        snapshotUpsert = try connection.prepare(
            """
            INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen)
            VALUES (?1, ?2, ?3, 1, 0, ?4, ?4)
            ON CONFLICT DO UPDATE SET desired = 1, seen = excluded.seen,
                generation = CASE WHEN desired = 1 THEN generation ELSE excluded.generation END
            RETURNING generation
            """)
        removeIfPresent = try connection.prepare(
            """
            UPDATE membership SET desired = 0, generation = ?4, seen = ?4
            WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND desired <> 0
            """)
        countMembers = try connection.prepare("SELECT count(*) FROM membership WHERE segment = ?1 AND desired = 1")
        countSweep = try connection.prepare(
            "SELECT count(*) FROM membership WHERE segment = ?1 AND desired = 1 AND seen <> ?2")
        sweep = try connection.prepare(
            """
            UPDATE membership SET desired = 0, generation = ?2
            WHERE segment = ?1 AND desired = 1 AND seen <> ?2
            """)
    }

    private mutating func row(for segment: SegmentID) throws -> Int64 {
        if let row = segmentRows[segment] { return row }
        let row = try ledger.segmentRow(for: segment)
        segmentRows[segment] = row
        return row
    }

    /// Applies changes in the order given; for one member the last change wins.
    public mutating func apply(_ batch: UnsafeBufferPointer<MemberChange>, segments: [SegmentID], isDelta: Bool) throws {
        var currentIndex = UInt32.max
        var currentRow: Int64 = 0
        var currentSegment = segments.first
        var counts = SegmentChange()
        func flush(_ changes: inout [String: SegmentChange], _ segment: SegmentID?, _ counts: SegmentChange) {
            guard let segment, counts.adds + counts.removes > 0 else { return }
            changes[segment.rawValue, default: SegmentChange()].adds += counts.adds
            changes[segment.rawValue, default: SegmentChange()].removes += counts.removes
        }
        for change in batch {
            if change.segment != currentIndex {
                flush(&changes, currentIndex == .max ? nil : currentSegment, counts)
                counts = SegmentChange()
                currentIndex = change.segment
                currentSegment = segments[Int(change.segment)]
                currentRow = try row(for: segments[Int(change.segment)])
                let segment = segments[Int(change.segment)]
                if touchedSegments.insert(segment).inserted && !isDelta && maximumRemovalPercent != nil {
                    membersBefore[segment] = try count(countMembers, currentRow)
                }
            }
            if isDelta && change.removesOnlyIfPresent {
                removeIfPresent.bind(1, currentRow)
                removeIfPresent.bind(2, Int64(change.member.type.rawValue))
                removeIfPresent.bind(3, change.member.digest)
                removeIfPresent.bind(4, generation)
                try removeIfPresent.run()
                counts.removes += ledger.connection.changes
            } else if isDelta {
                deltaUpsert.bind(1, currentRow)
                deltaUpsert.bind(2, Int64(change.member.type.rawValue))
                deltaUpsert.bind(3, change.member.digest)
                deltaUpsert.bind(4, Int64(change.action.rawValue))
                deltaUpsert.bind(5, generation)
                try deltaUpsert.run()
                if ledger.connection.changes > 0 {
                    if change.action == .add { counts.adds += 1 } else { counts.removes += 1 }
                }
            } else {
                snapshotUpsert.bind(1, currentRow)
                snapshotUpsert.bind(2, Int64(change.member.type.rawValue))
                snapshotUpsert.bind(3, change.member.digest)
                snapshotUpsert.bind(4, generation)
                defer { snapshotUpsert.reset() }
                if try snapshotUpsert.step(), snapshotUpsert.int(0) == generation { counts.adds += 1 }
            }
        }
        flush(&changes, currentIndex == .max ? nil : currentSegment, counts)
    }

    private func count(_ statement: Statement, _ row: Int64, _ generation: Int64? = nil) throws -> Int {
        defer { statement.reset() }
        statement.bind(1, row)
        if let generation { statement.bind(2, generation) }
        return try statement.step() ? Int(statement.int(0)) : 0
    }

    /// A snapshot is the whole membership of each segment it names: members it left out go.
    mutating func sweepSnapshot(segment: SegmentID) throws {
        let row = try row(for: segment)
        if let limit = maximumRemovalPercent, let before = membersBefore[segment], before > 0 {
            let leaving = try count(countSweep, row, generation)
            if Double(leaving) * 100 > Double(before) * limit {
                throw SnapshotHeld(segment: segment.rawValue, members: before, removals: leaving, limitPercent: limit)
            }
        }
        sweep.bind(1, row)
        sweep.bind(2, generation)
        try sweep.run()
        let removed = ledger.connection.changes
        changes[segment.rawValue, default: SegmentChange()].removes += removed
    }
}

/// A snapshot that would remove more of a segment than `max_snapshot_removal_percent` allows:
/// nothing of it is applied until an operator approves it (a truncated export must not empty a segment).
public struct SnapshotHeld: Error, CustomStringConvertible, Sendable {
    public let segment: String
    public let members: Int
    public let removals: Int
    public let limitPercent: Double

    public var description: String {
        let share = members > 0 ? Double(removals) * 100 / Double(members) : 0
        return "this snapshot would remove \(removals) of the \(members) members of segment \(segment) (\(Int(share.rounded()))%, more than max_snapshot_removal_percent \(Int(limitPercent))%); held until `tiktok-audience-sync approve FILE`"
    }
}
