// Recording TikTok's confirmations: by key range while nothing changed since the rows were read,
// else row by row, guarded by the generation each row was read with.

/// See ``Ledger/sendingEpoch()``.
public struct SendingEpoch: Sendable, Equatable {
    var generation: Int64
    var parking: Int64
}

extension LedgerReader {
    /// What decides which rows are pending, as of now: the file generation (also moved on when a
    /// confirmation requeues a row) and the count of parkings. While it stays the same, only
    /// confirmations change the ledger's pending rows.
    public func sendingEpoch() throws -> SendingEpoch {
        try withConnection { try $0.sendingEpoch() }
    }
}

extension Ledger {
    /// Records TikTok's confirmation of `rows`, in one transaction, and takes them off the outbox.
    /// A row that a newer file changed since it was read keeps its new wish and stays pending.
    /// `epoch`: the ``sendingEpoch()`` from before the rows were read; while it holds, a batch is
    /// settled by one statement over its key range instead of row by row.
    /// Returns how many rows were settled.
    /// `closing`: the batch's in-flight record, when these rows are all of it: it goes in the same
    /// transaction, as TikTok's answer settles every one of its members.
    @discardableResult
    public func markAcknowledged(_ rows: [PendingRow], readIn epoch: SendingEpoch? = nil, closing ticket: InFlightTicket? = nil) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try withConnection { ledger in
            try ledger.connection.transaction {
                if let ticket { try ledger.closeInFlight(ticket.id, recheckAt: nil) }
                // Off the outbox first: a row ``settleEach(_:)`` queues again may be given one of
                // these numbers again (SQLite reuses the highest free one).
                try ledger.dropFromOutbox(rows.map(\.seq))
                let unchanged = try epoch == ledger.sendingEpoch()
                var settled = 0
                // By action and identifier type (a sender's batch is one of each): no string per row.
                let groups = Dictionary(grouping: rows) { Int($0.action.rawValue) << 8 | Int($0.member.type.rawValue) }
                for group in groups.values {
                    if unchanged, let count = try ledger.settleAsRange(group) {
                        settled += count
                    } else {
                        settled += try ledger.settleEach(group)
                    }
                }
                return settled
            }
        }
    }

}

extension LedgerConnection {
    func sendingEpoch() throws -> SendingEpoch {
        let statement = try connection.prepare(
            """
            SELECT coalesce((SELECT value FROM setting WHERE key = 'generation'), 0),
                   coalesce((SELECT value FROM setting WHERE key = 'parking'), 0)
            """)
        defer { statement.reset() }
        guard try statement.step() else { throw connection.error(0, "reading the sending epoch returned nothing") }
        return SendingEpoch(generation: statement.int(0), parking: statement.int(1))
    }

    /// Counts parkings and unparkings, so that parking a segment again after `retry` still
    /// changes the sending epoch.
    func countParkingChange() throws {
        try connection.execute(
            "INSERT INTO setting (key, value) VALUES ('parking', 1) ON CONFLICT (key) DO UPDATE SET value = value + 1")
    }

    /// Whether a statement over the key range `low`...`high` (first words of the identifiers)
    /// would read about as many rows as the `rows` it is for: true for rows a file put next to
    /// each other in a ledger of about their size, false for a few rows scattered over a large
    /// ledger (a 1,000-row delta's confirmation spans nearly every key, and would read all of
    /// 100M members). Identifiers are SHA-256 hashes, spread evenly over the key space: the rows
    /// in a range are about its share of the key space times the rows in the ledger, told from
    /// its size (about 100 bytes a row).
    func rangeIsDense(low: UInt64, high: UInt64, rows: Int) throws -> Bool {
        let share = Double(high - low) / 18_446_744_073_709_551_616.0
        let expected = share * Double(try ledgerBytes()) / 100
        return expected <= 8 * Double(rows)
    }

    /// The ledger file's size as SQLite counts it (pages times page size).
    func ledgerBytes() throws -> Int64 {
        let pages = try connection.prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")
        defer { pages.reset() }
        return try pages.step() ? pages.int(0) : 0
    }

    /// Settles a batch of one action and identifier type with one statement over its key range,
    /// which walks the table in order instead of seeking each row. Only while the sending epoch
    /// is the one the rows were read in: then every row is as it was read, and the statement
    /// touching exactly as many rows as the batch has means it touched exactly the batch's rows.
    /// If it touched more (a row of another file's run in the same range that is still waiting),
    /// it is undone and nil returned, for ``settleEach(_:)``; so it is too when the range holds
    /// far more rows than the batch (``rangeIsDense(low:high:rows:)``).
    func settleAsRange(_ rows: [PendingRow]) throws -> Int? {
        guard let first = rows.first else { return 0 }
        var low = (digest: first.member.digest, segment: first.segmentRow)
        var high = low
        for row in rows.dropFirst() {
            let key = (digest: row.member.digest, segment: row.segmentRow)
            if (key.digest, key.segment) < (low.digest, low.segment) { low = key }
            if (key.digest, key.segment) > (high.digest, high.segment) { high = key }
        }
        guard try rangeIsDense(low: low.digest.w0, high: high.digest.w0, rows: rows.count) else { return nil }
        let isAdd = first.action == .add
        // A confirmed removal leaves nothing worth keeping: the row goes.
        let statement = try connection.prepare(
            """
            \(isAdd ? "UPDATE membership SET acked = 1" : "DELETE FROM membership")
            WHERE (id_type, identifier, segment) BETWEEN (?1, ?2, ?3) AND (?1, ?4, ?5)
              AND desired = ?6 AND acked IS NOT ?6 AND generation <= ?7
              AND segment NOT IN (SELECT segment FROM parked_segment)
            """)
        statement.bind(1, Int64(first.member.type.rawValue))
        statement.bind(2, low.digest)
        statement.bind(3, low.segment)
        statement.bind(4, high.digest)
        statement.bind(5, high.segment)
        statement.bind(6, isAdd ? 1 : 0)
        statement.bind(7, rows.map(\.generation).max() ?? 0)
        try connection.execute("SAVEPOINT settle_range")
        try statement.run()
        if connection.changes == rows.count {
            try connection.execute("RELEASE settle_range")
            return rows.count
        }
        try connection.execute("ROLLBACK TO settle_range; RELEASE settle_range")
        return nil
    }

    /// Settles rows one by one, guarded by the generation each was read with.
    func settleEach(_ rows: [PendingRow]) throws -> Int {
        let confirmAdd = try connection.prepare(
            """
            UPDATE membership SET acked = 1
            WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND generation = ?4 AND desired = 1
            """)
        let confirmRemove = try connection.prepare(
            """
            DELETE FROM membership
            WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND generation = ?4 AND desired = 0
            """)
        var settled = 0
        for row in rows {
            let statement = row.action == .add ? confirmAdd : confirmRemove
            statement.bind(1, row.segmentRow)
            statement.bind(2, Int64(row.member.type.rawValue))
            statement.bind(3, row.member.digest)
            statement.bind(4, row.generation)
            try statement.run()
            if connection.changes > 0 {
                settled += 1
            } else {
                try recordSent(row)
            }
        }
        return settled
    }

    /// A newer file changed the row while the request was in flight, to the opposite wish: TikTok
    /// now holds what was sent, so record that, and the new wish goes back on the outbox. A row
    /// the ledger let go meanwhile (its removal confirmed by a later request) comes back as a
    /// wish to be out: TikTok may now hold the member again.
    private func recordSent(_ row: PendingRow) throws {
        let update = try connection.prepare(
            """
            INSERT INTO membership (id_type, identifier, segment, desired, acked, generation, seen)
            VALUES (?1, ?2, ?3, 0, ?4, coalesce((SELECT value FROM setting WHERE key = 'generation'), 0), 0)
            ON CONFLICT DO UPDATE SET acked = ?4 WHERE desired <> ?4
            RETURNING generation, desired
            """)
        update.bind(1, Int64(row.member.type.rawValue))
        update.bind(2, row.member.digest)
        update.bind(3, row.segmentRow)
        update.bind(4, Int64(row.action.rawValue))
        let written = try update.step() ? (generation: update.int(0), desired: update.int(1)) : nil
        update.reset()
        if let written, written.desired != Int64(row.action.rawValue) {
            try requeue(row.member, segmentRow: row.segmentRow, generation: written.generation, desired: written.desired == 1)
        }
    }
}
