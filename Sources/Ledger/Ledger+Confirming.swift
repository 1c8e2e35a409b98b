import AudienceModel

// Recording TikTok's confirmations. A code 0 is a fact about TikTok: it now holds, for each
// (member, segment) the request carried, what the request said, whatever the files wish by now
// (a member is in one request at a time, so no other answer can overtake it). So a confirmation
// sets `acked` to the value sent, for exactly the keys the request carried: the row is settled
// when that is its wish, and stays pending with its newer wish when a file changed it meanwhile.
// Nothing is concluded from how many rows a statement touched.

/// See ``Ledger/sendingEpoch()``.
public struct SendingEpoch: Sendable, Equatable {
    var generation: Int64
    var parking: Int64
}

extension LedgerReader {
    /// What decides which rows are pending, as of now: the file generation (also moved on when a
    /// confirmation requeues a row) and the count of parkings. While it stays the same, only the
    /// sender changes the ledger's pending rows, and only those of its own batches: confirmed
    /// ones settle, and unconfirmed ones become unknown on the outbox row it read (no wish changes).
    public func sendingEpoch() throws -> SendingEpoch {
        try withConnection { try $0.sendingEpoch() }
    }
}

extension Ledger {
    /// Records TikTok's code 0 for `rows` (one request's, or part of one), in one transaction,
    /// and takes them off the outbox. Returns how many rows it settled (their wish was the one
    /// sent); the others keep the newer wish a file gave them, pending.
    /// `closing`: the batch's in-flight record, when these rows are all of it: it goes in the same
    /// transaction, as TikTok's answer settles every one of its members.
    /// `request`: the request TikTok answered, remembered as the last that carried these members.
    @discardableResult
    public func markAcknowledged(_ rows: [PendingRow], closing ticket: InFlightTicket? = nil, request: SentRequest? = nil) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try withConnection { ledger in
            try ledger.connection.transaction {
                if let ticket { try ledger.closeInFlight(ticket.id, recheckAt: nil) }
                let requestRow = try request.map { try ledger.insertRequest($0) }
                // Off the outbox first: a row ``settleEach(_:)`` queues again may be given one of
                // these numbers again (SQLite reuses the highest free one).
                try ledger.dropFromOutbox(rows.map(\.seq))
                var settled = 0
                // By action and identifier type (a sender's batch is one of each): no string per row.
                let oneKind = rows.allSatisfy { $0.action == rows[0].action && $0.member.type == rows[0].member.type }
                let groups = oneKind ? [rows] : Array(Dictionary(grouping: rows) { Int($0.action.rawValue) << 8 | Int($0.member.type.rawValue) }.values)
                for group in groups {
                    // A batch is read from the outbox in key order: sorting is then only a check.
                    let inKeyOrder = zip(group, group.dropFirst()).allSatisfy { Self.keyOrder($0, $1) }
                    let sorted = inKeyOrder ? group : group.sorted(by: Self.keyOrder)
                    if try ledger.settleAsRange(sorted, request: requestRow) {
                        settled += sorted.count
                    } else {
                        settled += try ledger.settleEach(sorted, request: requestRow)
                    }
                    // A confirmed removal's row went to the trail: the trail keeps the request.
                    if let requestRow, sorted.first?.action == .remove { try ledger.markTrail(sorted, request: requestRow) }
                }
                return settled
            }
        }
    }
}

extension Ledger {
    fileprivate static func keyOrder(_ a: PendingRow, _ b: PendingRow) -> Bool {
        (a.member.digest, a.segmentRow) < (b.member.digest, b.segmentRow)
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

    /// Settles a batch of one action and identifier type, sorted by key, with one statement over
    /// its key range, which walks the table in order instead of seeking each row (2M rows: 0.7 s
    /// against several seconds). Only when the range holds exactly the batch: the rows in it
    /// that are pending with the action sent are read first and must be the batch's keys, each
    /// at the generation it was sent with, no more and no fewer; the statement then writes that
    /// same set, in the same transaction. False (nothing written) otherwise, for
    /// ``settleEach(_:)``; so too when the range holds far more rows than the batch
    /// (``rangeIsDense(low:high:rows:)``).
    func settleAsRange(_ sorted: [PendingRow], request: Int64? = nil) throws -> Bool {
        guard sorted.count > 1, let first = sorted.first, let last = sorted.last,
            try rangeIsDense(low: first.member.digest.w0, high: last.member.digest.w0, rows: sorted.count)
        else { return false }
        let isAdd = first.action == .add
        let range = """
            WHERE (id_type, identifier, segment) BETWEEN (?1, ?2, ?3) AND (?1, ?4, ?5)
              AND desired = ?6 AND acked IS NOT ?6
            """
        func bindRange(_ statement: Statement) {
            statement.bind(1, Int64(first.member.type.rawValue))
            statement.bind(2, first.member.digest)
            statement.bind(3, first.segmentRow)
            statement.bind(4, last.member.digest)
            statement.bind(5, last.segmentRow)
            statement.bind(6, isAdd ? 1 : 0)
        }
        let read = try connection.prepare(
            "SELECT identifier, segment, generation FROM membership \(range) ORDER BY id_type, identifier, segment")
        bindRange(read)
        var next = 0
        var exact = true
        while try read.step() {
            guard next < sorted.count, read.digest(0) == sorted[next].member.digest, read.int(1) == sorted[next].segmentRow,
                read.int(2) == sorted[next].generation
            else {
                exact = false
                break
            }
            next += 1
        }
        read.reset()
        guard exact, next == sorted.count else { return false }
        // A confirmed removal leaves nothing worth keeping: the row goes. OR FAIL: under ABORT,
        // acked's CHECK would make SQLite copy every page of the range to a statement journal
        // first (see MultiRowInsert); any error rolls the whole transaction back anyway.
        let write = try connection.prepare(
            "\(isAdd ? "UPDATE OR FAIL membership SET acked = 1, request = coalesce(?7, request)" : "DELETE FROM membership") \(range)")
        bindRange(write)
        if isAdd, let request { write.bind(7, request) }
        try write.run()
        return true
    }

    /// Records the confirmation row by row: TikTok holds what was sent for each key. A row whose
    /// wish is what was sent is settled (a removal's row goes); one a newer file gave the
    /// opposite wish stays pending with it, and goes back on the outbox; one the ledger had let
    /// go (its removal confirmed since) comes back as a wish to be out when an add was sent.
    /// Returns how many rows it settled.
    func settleEach(_ rows: [PendingRow], request: Int64? = nil) throws -> Int {
        let read = try connection.prepare(
            "SELECT desired, generation FROM membership WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
        let confirmAdd = try connection.prepare(
            "UPDATE membership SET acked = 1, request = coalesce(?4, request) WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
        let confirmRemove = try connection.prepare(
            "UPDATE membership SET acked = 0, request = coalesce(?4, request) WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
        let forget = try connection.prepare(
            "DELETE FROM membership WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
        let insertHeld = try connection.prepare(
            """
            INSERT INTO membership (id_type, identifier, segment, desired, acked, generation, seen, request)
            VALUES (?1, ?2, ?3, 0, 1, ?4, 0, ?5)
            """)
        func bindKey(_ statement: Statement, _ row: PendingRow) {
            statement.bind(1, Int64(row.member.type.rawValue))
            statement.bind(2, row.member.digest)
            statement.bind(3, row.segmentRow)
        }
        // Bindings go with each run (a run clears them): the request, where the statement names it.
        func bindRequest(_ statement: Statement, _ index: Int32) {
            if let request { statement.bind(index, request) } else { statement.bindNull(index) }
        }
        var settled = 0
        // A row settled through an outbox row other than its live one (a newer file wished the
        // same again): that live row may be one the sender takes on trust, so trust is withdrawn.
        var settledAnother = false
        for row in rows {
            let sent = Int64(row.action.rawValue)
            bindKey(read, row)
            let found = try read.step() ? (desired: read.int(0), generation: read.int(1)) : nil
            read.reset()
            guard let found else {
                guard row.action == .add else { continue }  // out, as the ledger had it
                let generation = try nextGeneration()
                bindKey(insertHeld, row)
                insertHeld.bind(4, generation)
                bindRequest(insertHeld, 5)
                try insertHeld.run()
                try appendToOutbox(row.member, segmentRow: row.segmentRow, generation: generation, desired: false)
                continue
            }
            if found.desired == sent {
                let statement = row.action == .add ? confirmAdd : forget
                bindKey(statement, row)
                if row.action == .add { bindRequest(statement, 4) }
                try statement.run()
                settled += 1
                if found.generation != row.generation { settledAnother = true }
                continue
            }
            let statement = row.action == .add ? confirmAdd : confirmRemove
            bindKey(statement, row)
            bindRequest(statement, 4)
            try statement.run()
            try requeue(row.member, segmentRow: row.segmentRow, generation: found.generation, desired: found.desired == 1)
        }
        if settledAnother { _ = try nextGeneration() }
        return settled
    }
}
