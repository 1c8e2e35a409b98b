import AudienceModel
import AudiencePlanning
import AudienceReading

/// Writes one file's member changes into desired membership, inside the file's transaction, and
/// puts each row it changes on the outbox. Counts, per segment, the rows whose desired state
/// actually changed.
public struct ChangeWriter: ChangeSink {
    private let ledger: LedgerConnection
    private let generation: Int64
    private var delta: DeltaWriter
    private let snapshotUpsert: Statement
    private var outbox: OutboxAppender
    /// A snapshot may remove at most this share of a segment's members; nil: no limit.
    var maximumRemovalPercent: Double?
    private var tally = SegmentTally()
    private var sweptRemovals: [Int64: Int] = [:]

    /// Per segment, the rows whose desired state changed.
    var changes: [String: SegmentChange] {
        tally.changes { entry in entry.row.flatMap { sweptRemovals[$0] } ?? 0 }
    }

    init(ledger: LedgerConnection, generation: Int64) throws {
        self.ledger = ledger
        self.generation = generation
        let connection = ledger.connection
        delta = try DeltaWriter(connection: connection, generation: generation)
        snapshotUpsert = try connection.prepare(
            """
            INSERT INTO membership (id_type, identifier, segment, desired, acked, generation, seen)
            VALUES (?2, ?3, ?1, 1, 0, ?4, ?4)
            ON CONFLICT DO UPDATE SET desired = 1, seen = excluded.seen,
                generation = CASE WHEN desired = 1 THEN generation ELSE excluded.generation END,
                outbox_seq = CASE WHEN desired = 1 THEN outbox_seq END
            RETURNING generation, desired IS NOT acked
            """)
        outbox = try OutboxAppender(connection: connection, generation: generation)
    }

    /// Applies changes, each (segment, member) at most once; the order only matters for speed:
    /// in (identifier type, identifier, segment) order the table is written sequentially.
    /// Every delta row that changed goes on the outbox, marked known pending if the file created
    /// it; one whose change only cancelled an unsent one is not pending, and the sender drops it
    /// when it meets it. A snapshot's rows go on it only when pending.
    public mutating func apply(_ batch: UnsafeBufferPointer<MemberChange>, segments: [SegmentID], isDelta: Bool) throws {
        for change in batch {
            let index = Int(change.segment)
            // Segment rows are created on first sight, so there is always one.
            guard let segmentRow = try tally.row(index, segments, lookUp: { try ledger.segmentRow(for: $0, bySnapshot: !isDelta) })
            else { continue }
            if isDelta {
                try delta.add(change, segmentRow: segmentRow, indexed: isSwept(index, segmentRow))
                if delta.written.count >= 4096 { try recordDeltaWrites(flushing: false) }
                continue
            }
            snapshotUpsert.bind(1, segmentRow)
            snapshotUpsert.bind(2, Int64(change.member.type.rawValue))
            snapshotUpsert.bind(3, change.member.digest)
            snapshotUpsert.bind(4, generation)
            let changedNow = try snapshotUpsert.step() && snapshotUpsert.int(0) == generation
            let pending = snapshotUpsert.int(1) == 1
            snapshotUpsert.reset()
            guard changedNow else {
                tally.entries[index]?.keptMembers += 1
                continue
            }
            tally.entries[index]?.change.adds += 1
            if pending {
                try outbox.append(.init(member: change.member, segmentRow: segmentRow, desired: true, knownPending: true))
            }
        }
    }

    /// Whether segment number `index` has had a snapshot (a delta's new members then go into the
    /// segment index): asked of the ledger once per segment, as a delta does not change it.
    private mutating func isSwept(_ index: Int, _ segmentRow: Int64) throws -> Bool {
        if let known = tally.entries[index]?.swept { return known }
        let answer = try ledger.isSwept(segmentRow: segmentRow)
        tally.entries[index]?.swept = answer
        return answer
    }

    /// Counts and queues what the delta writer has written.
    private mutating func recordDeltaWrites(flushing: Bool) throws {
        if flushing { try delta.flush() }
        for written in delta.drain() {
            let index = Int(written.change.segment)
            if written.change.action == .add {
                tally.entries[index]?.change.adds += 1
            } else {
                tally.entries[index]?.change.removes += 1
            }
            try outbox.append(
                .init(member: written.change.member, segmentRow: written.segmentRow, desired: written.change.action == .add,
                      knownPending: written.created))
        }
    }

    /// Writes what is still buffered; the file's transaction needs it before it ends.
    mutating func flush() throws {
        try recordDeltaWrites(flushing: true)
        try outbox.flush()
    }

    /// A snapshot is the whole membership of each segment it names with at least one valid row
    /// (a file of bad rows never empties a segment): members it left out go, read through the
    /// segment index (at a segment's first snapshot, after one pass puts in the members deltas
    /// left out of it). Then the removal limit: a segment that would lose too much throws
    /// `SnapshotHeld`, and the file's transaction, sweep included, is rolled back.
    mutating func sweepSnapshot() throws {
        let rows = tally.rowList
        try outbox.flush()
        guard !rows.isEmpty else { return }
        try ledger.putInSegmentIndex(segmentRows: rows)
        // Members TikTok holds (or may hold) become pending removals: onto the outbox, in key order.
        let queue = try ledger.connection.prepare(
            """
            INSERT OR FAIL INTO outbox (id_type, identifier, segment, generation, desired, known_pending)
            SELECT id_type, identifier, segment, ?1, 0, 1 FROM membership INDEXED BY membership_by_segment
            WHERE unindexed IS NULL AND desired = 1 AND seen <> ?1 AND segment IN (\(rows)) AND acked IS NOT 0
            ORDER BY id_type, identifier, segment
            """)
        queue.bind(1, generation)
        try queue.run()
        let sweep = try ledger.connection.prepare(
            """
            UPDATE membership INDEXED BY membership_by_segment SET desired = 0, generation = ?1, outbox_seq = NULL
            WHERE unindexed IS NULL AND desired = 1 AND seen <> ?1 AND segment IN (\(rows))
            RETURNING segment
            """)
        sweep.bind(1, generation)
        sweptRemovals = try ledger.count(sweep) { $0.int(0) }
        guard let limit = maximumRemovalPercent else { return }
        for case let entry? in tally.entries {
            let leaving = entry.row.flatMap { sweptRemovals[$0] } ?? 0
            if let held = SnapshotHeld.exceeding(segment: entry.segment.rawValue, members: leaving + entry.keptMembers, removals: leaving, limitPercent: limit) {
                throw held
            }
        }
    }
}

/// A snapshot that would remove more of a segment than `max_snapshot_removal_percent` allows:
/// nothing of it is applied until an operator approves it (a truncated export must not empty a segment).
public struct SnapshotHeld: OperatorError {
    public var ending: FailureEnding { .inputRejected }
    public let segment: String
    public let members: Int
    public let removals: Int
    public let limitPercent: Double

    /// The hold of a snapshot that would remove `removals` of a segment's `members`; nil when
    /// that is within `limitPercent`. The one rule, for planning and for `plan`'s preview.
    static func exceeding(segment: String, members: Int, removals: Int, limitPercent: Double) -> SnapshotHeld? {
        guard members > 0, Double(removals) * 100 > Double(members) * limitPercent else { return nil }
        return SnapshotHeld(segment: segment, members: members, removals: removals, limitPercent: limitPercent)
    }

    public var description: String {
        let share = members > 0 ? Double(removals) * 100 / Double(members) : 0
        return "this snapshot would remove \(removals) of the \(members) members of segment \(segment) (\(Int(share.rounded()))%, more than max_snapshot_removal_percent \(Int(limitPercent))%); held until `tiktok-audience-sync approve FILE`"
    }
}
