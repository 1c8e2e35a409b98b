import AudienceModel

/// One pending (segment, member) row: desired differs from what TikTok confirmed.
public struct PendingRow: Sendable, Equatable {
    public var member: Member
    public var segmentRow: Int64
    public var audienceID: String
    public var action: MembershipAction
    /// The generation read with the row: the ack only lands if no newer file changed it since.
    public var generation: Int64
    /// The row's place on the outbox.
    public var seq: Int64
}

/// Where a walk over the outbox has got to.
public struct PendingCursor: Sendable, Equatable {
    var seq: Int64
}

/// One read of the outbox: see ``LedgerReader/pendingRows(after:through:limit:)``.
public struct PendingPage: Sendable {
    public var rows: [PendingRow]
    /// What decided the pending rows when these were read: while it holds, their wishes are
    /// still the ledger's; once it moved on, ``Ledger/recordInFlight(_:readIn:type:now:)`` looks again.
    public var readIn: SendingEpoch
    /// Where the next read starts.
    public var next: PendingCursor?
    /// Outbox rows whose wish was cancelled, superseded or confirmed: for the writer to drop.
    public var dead: [Int64]
}

public struct PendingCounts: Sendable, Codable, Equatable {
    public var adds = 0
    public var removes = 0
    public var bySegment: [String: SegmentChange] = [:]
    public var total: Int { adds + removes }
}

extension Ledger {
    /// Drops outbox rows a read found dead (see ``PendingPage/dead``).
    public func dropDeadOutboxRows(_ seqs: [Int64]) throws {
        try connection.connection.transaction { try connection.dropFromOutbox(seqs) }
    }
}

extension LedgerConnection {
    func parkedSegmentRows() throws -> Set<Int64> {
        let statement = try connection.prepare("SELECT segment FROM parked_segment")
        defer { statement.reset() }
        var rows: Set<Int64> = []
        while try statement.step() { rows.insert(statement.int(0)) }
        return rows
    }
}

extension LedgerReader {
    /// The outbox's last row number now: a sending pass reads no further, so that a change
    /// planned while it runs waits for the next pass instead of racing one in flight.
    public func outboxEnd() throws -> PendingCursor {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT coalesce(max(seq), 0) FROM outbox")
            defer { statement.reset() }
            return PendingCursor(seq: try statement.step() ? statement.int(0) : 0)
        }
    }

    /// The next pending rows after `cursor` (up to `end`), in outbox order: the order planning
    /// wrote them, which is (identifier type, identifier, segment) order within each file. The
    /// dead outbox rows it meets are listed for ``Ledger/dropDeadOutboxRows(_:)``.
    public func pendingRows(after cursor: PendingCursor?, through end: PendingCursor? = nil, limit: Int) throws -> PendingPage {
        try withConnection { ledger in
            let parked = try ledger.parkedSegmentRows()
            let statement = try ledger.connection.prepare(
                """
                SELECT o.seq, o.id_type, o.identifier, o.segment, (\(PendingRule.liveWish)) FROM outbox o
                WHERE o.seq > ?1 AND o.seq <= ?2 ORDER BY o.seq
                """)
            statement.bind(1, cursor?.seq ?? 0)
            statement.bind(2, end?.seq ?? Int64.max)
            let epoch = try ledger.sendingEpoch()
            statement.bind(PendingRule.latestGeneration, epoch.generation)
            var rows: [PendingRow] = []
            rows.reserveCapacity(limit)
            var dead: [Int64] = []
            var last = cursor
            while rows.count < limit, try statement.step() {
                let seq = statement.int(0)
                last = PendingCursor(seq: seq)
                let segmentRow = statement.int(3)
                guard let type = IdentifierType(rawValue: UInt8(clamping: statement.int(1))),
                    let digest = statement.digest(2)
                else { throw LedgerError.corrupt(ledger.connection.path, "an outbox row has a bad identifier") }
                guard let wish = statement.optionalInt(4) else {
                    dead.append(seq)
                    continue
                }
                let desired = PendingRule.desired(wish)
                let generation = PendingRule.generation(wish)
                if parked.contains(segmentRow) { continue }  // waits for `retry`
                guard let audienceID = ledger.audienceID(forRow: segmentRow) else { continue }
                rows.append(
                    PendingRow(
                        member: Member(type: type, digest: digest), segmentRow: segmentRow, audienceID: audienceID,
                        action: desired == 1 ? .add : .remove, generation: generation, seq: seq))
            }
            statement.reset()
            return PendingPage(rows: rows, readIn: epoch, next: last, dead: dead)
        }
    }

    /// Pending adds and removes, in total and per segment; parked segments are not counted here
    /// (see ``parkedSegments()``).
    ///
    /// Counting walks the outbox, and once a file or an unknown answer has moved the generation
    /// on, it looks up each row's membership: about 3 s for 2M pending rows. A daemon paused with
    /// such a backlog (a refused token over a weekend) counted them for its metrics every 15 s,
    /// a fifth of a core. The counts are kept while SQLite's `data_version` says that no other
    /// connection (this one only reads) has committed since they were read.
    public func pendingCounts() throws -> PendingCounts {
        try withConnection { ledger in
            let dataVersion = try ledger.dataVersion()
            if let last = lastPendingCounts, last.dataVersion == dataVersion { return last.counts }
            let counts = try ledger.countPending()
            // The version read before counting: a commit in between only makes the next call count again.
            lastPendingCounts = (dataVersion, counts)
            return counts
        }
    }

    /// Members TikTok has confirmed, per segment. Reads the whole membership table: only on
    /// request (`status --count`), never on a path that runs with every file.
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

    /// Whether any row is pending, without counting them all.
    public func hasPendingWork() throws -> Bool {
        try withConnection { ledger in
            let statement = try ledger.liveOutboxRows(
                "1", whereSegment: "NOT IN (SELECT segment FROM parked_segment) LIMIT 1")
            defer { statement.reset() }
            return try statement.step()
        }
    }

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

extension LedgerConnection {
    /// SQLite's `PRAGMA data_version`: changes when another connection commits.
    func dataVersion() throws -> Int64 {
        let statement = try connection.prepare("PRAGMA data_version")
        defer { statement.reset() }
        guard try statement.step() else { throw connection.error(0, "PRAGMA data_version returned nothing") }
        return statement.int(0)
    }

    fileprivate func countPending() throws -> PendingCounts {
        let statement = try liveOutboxRows("segment, wish & 1", whereSegment: "NOT IN (SELECT segment FROM parked_segment)")
        var counts = PendingCounts()
        for (key, count) in try count(statement, by: { [$0.int(0), $0.int(1)] }) {
            let segment = audienceID(forRow: key[0]) ?? "?"
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
