import AudienceReading

/// Writes a delta file's adds and removes into membership. Rows new to the ledger (a first load,
/// a new segment) are inserted a group to a statement (``MultiRowInsert``). A row it creates is pending, which the outbox can record, so the
/// sender need not look it up. Once an insert finds rows already there, it goes row by row with
/// an upsert for a while (files that change existing members), then tries inserting again.
struct DeltaWriter {
    struct Written {
        var change: MemberChange
        var segmentRow: Int64
        /// The row is new (so pending); else an existing row whose desired state changed.
        var created: Bool
    }

    private static let upsertsAfterAMiss = 64
    private let connection: SQLiteConnection
    private let generation: Int64
    private let insertNew: MultiRowInsert
    private let upsert: Statement
    /// Sets desired on an existing row whose desired state differs.
    private let update: Statement
    private let generationOf: Statement
    private var group: [(change: MemberChange, segmentRow: Int64, indexed: Bool)] = []
    private var upsertsBeforeProbe = 0
    /// What the last calls wrote; the caller takes it with ``drain()``.
    private(set) var written: [Written] = []

    init(connection: SQLiteConnection, generation: Int64) throws {
        self.connection = connection
        self.generation = generation
        // A new row from an add starts as "not at TikTok" (acked 0), so add-then-remove cancels out;
        // a new row from a remove starts unknown (acked NULL), so the delete is still sent.
        let columns = "segment, id_type, identifier, desired, acked, generation, seen"
        insertNew = try MultiRowInsert(
            connection: connection, into: "membership (\(columns), unindexed)",
            row: "(?, ?, ?, ?, ?, \(generation), \(generation), ?)", parametersPerRow: 6, tail: "ON CONFLICT DO NOTHING")
        // A changed row is matched to its outbox row by generation again (outbox_seq NULL). A row
        // this creates (after a miss, rarely) goes into the segment index: an entry too many
        // costs only time.
        upsert = try connection.prepare(
            """
            INSERT INTO membership (\(columns)) VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 1 THEN 0 END, ?5, ?5)
            ON CONFLICT DO UPDATE SET desired = excluded.desired, generation = excluded.generation,
                                      seen = excluded.seen, outbox_seq = NULL
            WHERE desired <> excluded.desired
            """)
        update = try connection.prepare(
            """
            UPDATE membership SET desired = ?4, generation = ?5, seen = ?5, outbox_seq = NULL
            WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND desired <> ?4
            """)
        generationOf = try connection.prepare(
            "SELECT generation FROM membership WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3")
        group.reserveCapacity(MultiRowInsert.rowsPerStatement)
    }

    /// `indexed`: whether a row its grouped insert creates goes into the segment index (its
    /// segment has had a snapshot); rows it only changes keep theirs.
    mutating func add(_ change: MemberChange, segmentRow: Int64, indexed: Bool) throws {
        if change.removesOnlyIfPresent {
            // It only undoes an add of the same file: never a new row.
            try flush()  // keeps the writes, and the outbox, in key order
            try updateExisting(change, segmentRow)
            return
        }
        if upsertsBeforeProbe > 0 {
            upsertsBeforeProbe -= 1
            bindKey(upsert, change, segmentRow)
            upsert.bind(4, Int64(change.action.rawValue))
            upsert.bind(5, generation)
            try upsert.run()
            if connection.changes > 0 { written.append(Written(change: change, segmentRow: segmentRow, created: false)) }
            return
        }
        group.append((change, segmentRow, indexed))
        if group.count == MultiRowInsert.rowsPerStatement { try flush() }
    }

    /// Writes the rows still grouped for inserting.
    mutating func flush() throws {
        guard !group.isEmpty else { return }
        defer { group.removeAll(keepingCapacity: true) }
        let inserted = try insertNew.insert(count: group.count) { statement, first, index in
            let entry = group[index]
            statement.bind(first, entry.segmentRow)
            statement.bind(first + 1, Int64(entry.change.member.type.rawValue))
            statement.bind(first + 2, entry.change.member.digest)
            statement.bind(first + 3, Int64(entry.change.action.rawValue))
            if entry.change.action == .add { statement.bind(first + 4, Int64(0)) } else { statement.bindNull(first + 4) }
            if entry.indexed { statement.bindNull(first + 5) } else { statement.bind(first + 5, Int64(1)) }
        }
        if inserted == group.count {
            for entry in group { written.append(Written(change: entry.change, segmentRow: entry.segmentRow, created: true)) }
            return
        }
        // Some rows were there already. The ones just inserted carry this file's generation,
        // which no existing row can (a file names each row once); the others are updated.
        upsertsBeforeProbe = Self.upsertsAfterAMiss
        for entry in group {
            bindKey(generationOf, entry.change, entry.segmentRow)
            let created = try generationOf.step() && generationOf.int(0) == generation
            generationOf.reset()
            if created {
                written.append(Written(change: entry.change, segmentRow: entry.segmentRow, created: true))
                continue
            }
            try updateExisting(entry.change, entry.segmentRow)
        }
    }

    private mutating func updateExisting(_ change: MemberChange, _ segmentRow: Int64) throws {
        bindKey(update, change, segmentRow)
        update.bind(4, Int64(change.action.rawValue))
        update.bind(5, generation)
        try update.run()
        if connection.changes > 0 { written.append(Written(change: change, segmentRow: segmentRow, created: false)) }
    }

    /// What was written since the last drain.
    mutating func drain() -> [Written] {
        defer { written.removeAll(keepingCapacity: true) }
        return written
    }

    private func bindKey(_ statement: Statement, _ change: MemberChange, _ segmentRow: Int64) {
        statement.bind(1, segmentRow)
        statement.bind(2, Int64(change.member.type.rawValue))
        statement.bind(3, change.member.digest)
    }
}
