/// One pending (segment, member) row: desired differs from what TikTok confirmed.
public struct PendingRow: Sendable, Equatable {
    public var member: Member
    public var segmentRow: Int64
    public var audienceID: String
    public var action: MembershipAction
    /// The generation read with the row: the ack only lands if no newer file changed it since.
    public var generation: Int64
}

/// Where a walk over the pending rows has got to (their index order).
public struct PendingCursor: Sendable, Equatable {
    var type: UInt8
    var digest: Digest32
    var segmentRow: Int64
}

public struct PendingCounts: Sendable, Codable, Equatable {
    public var adds = 0
    public var removes = 0
    public var bySegment: [String: SegmentChange] = [:]
    public var total: Int { adds + removes }
}

extension Ledger {
    /// The next pending rows after `cursor`, in (identifier type, identifier, segment) order.
    public func pendingRows(after cursor: PendingCursor?, limit: Int) throws -> ([PendingRow], PendingCursor?) {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT id_type, identifier, segment, desired, generation
                FROM membership INDEXED BY membership_pending
                WHERE desired IS NOT acked AND (id_type, identifier, segment) > (?1, ?2, ?3)
                  AND segment NOT IN (SELECT segment FROM parked_segment)
                ORDER BY id_type, identifier, segment
                LIMIT ?4
                """)
            defer { statement.reset() }
            statement.bind(1, Int64(cursor?.type ?? 0))
            statement.bind(2, cursor?.digest ?? Digest32(w0: 0, w1: 0, w2: 0, w3: 0))
            statement.bind(3, cursor?.segmentRow ?? -1)
            statement.bind(4, limit)
            var rows: [PendingRow] = []
            rows.reserveCapacity(limit)
            var last = cursor
            while try statement.step() {
                guard let type = IdentifierType(rawValue: UInt8(clamping: statement.int(0))),
                    let digest = statement.digest(1)
                else { throw LedgerError(.corrupt, path: ledger.connection.path, "a membership row has a bad identifier") }
                let segmentRow = statement.int(2)
                last = PendingCursor(type: type.rawValue, digest: digest, segmentRow: segmentRow)
                guard let audienceID = ledger.audienceID(forRow: segmentRow) else { continue }
                rows.append(
                    PendingRow(
                        member: Member(type: type, digest: digest), segmentRow: segmentRow, audienceID: audienceID,
                        action: statement.int(3) == 1 ? .add : .remove, generation: statement.int(4)))
            }
            return (rows, last)
        }
    }

    /// Records TikTok's confirmation of `rows`, in one transaction. A row that a newer file changed
    /// since it was read keeps its new wish and stays pending. Returns how many rows were settled.
    @discardableResult
    public func markAcknowledged(_ rows: [PendingRow]) throws -> Int {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let confirmAdd = try ledger.connection.prepare(
                    """
                    UPDATE membership SET acked = 1
                    WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND generation = ?4 AND desired = 1
                    """)
                // A confirmed removal leaves nothing worth keeping: desired 0 and acked 0.
                let confirmRemove = try ledger.connection.prepare(
                    """
                    DELETE FROM membership
                    WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND generation = ?4 AND desired = 0
                    """)
                // A newer file changed the row while the request was in flight, to the opposite wish:
                // TikTok now holds what was sent, so record that, and the new wish stays pending.
                let recordSent = try ledger.connection.prepare(
                    """
                    UPDATE membership SET acked = ?4
                    WHERE segment = ?1 AND id_type = ?2 AND identifier = ?3 AND desired <> ?4
                    """)
                var settled = 0
                for row in rows {
                    let statement = row.action == .add ? confirmAdd : confirmRemove
                    statement.bind(1, row.segmentRow)
                    statement.bind(2, Int64(row.member.type.rawValue))
                    statement.bind(3, row.member.digest)
                    statement.bind(4, row.generation)
                    try statement.run()
                    if ledger.connection.changes > 0 {
                        settled += 1
                        continue
                    }
                    recordSent.bind(1, row.segmentRow)
                    recordSent.bind(2, Int64(row.member.type.rawValue))
                    recordSent.bind(3, row.member.digest)
                    recordSent.bind(4, Int64(row.action.rawValue))
                    try recordSent.run()
                }
                return settled
            }
        }
    }

    /// Pending adds and removes, in total and per segment; parked segments are not counted here
    /// (see ``parkedSegments()``).
    public func pendingCounts() throws -> PendingCounts {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT segment, desired FROM membership INDEXED BY membership_pending
                WHERE desired IS NOT acked AND segment NOT IN (SELECT segment FROM parked_segment)
                """)
            var counts = PendingCounts()
            for (key, count) in try ledger.count(statement, by: { [$0.int(0), $0.int(1)] }) {
                let segment = ledger.audienceID(forRow: key[0]) ?? "?"
                if key[1] == 1 {
                    counts.adds += count
                    counts.bySegment[segment, default: SegmentChange()].adds += count
                } else {
                    counts.removes += count
                    counts.bySegment[segment, default: SegmentChange()].removes += count
                }
            }
            return counts
        }
    }

    /// Members TikTok has confirmed, per segment. Reads the whole membership table.
    public func confirmedCounts() throws -> [String: Int] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT segment FROM membership WHERE acked = 1")
            var counts: [String: Int] = [:]
            for (row, count) in try ledger.count(statement, by: { $0.int(0) }) {
                counts[ledger.audienceID(forRow: row) ?? "?"] = count
            }
            return counts
        }
    }
}

extension Ledger {
    /// Whether any row is pending, without counting them all.
    public func hasPendingWork() throws -> Bool {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                """
                SELECT 1 FROM membership INDEXED BY membership_pending
                WHERE desired IS NOT acked AND segment NOT IN (SELECT segment FROM parked_segment) LIMIT 1
                """)
            defer { statement.reset() }
            return try statement.step()
        }
    }
}

extension Ledger {
    /// Every segment the ledger has heard of.
    public func knownSegments() throws -> [String] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT audience_id FROM segment ORDER BY audience_id")
            defer { statement.reset() }
            var result: [String] = []
            while try statement.step() { result.append(statement.string(0)) }
            return result
        }
    }
}
