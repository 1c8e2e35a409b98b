import AudienceModel

// The outbox is the sender's work list: a row per change planning made, appended in the order it
// wrote them (key order within a file). A membership row has at most one *live* outbox row: one
// naming it while it is pending, matched by generation, or by `outbox_seq` once a confirmation
// racing a newer file queued it again. Every other outbox row is dead for good (its wish was
// cancelled, superseded or confirmed) and is dropped when the sender meets it.

/// The one rule for pending work, as SQL over an outbox row `o`: the wish it still carries, as
/// `generation * 2 + desired` (the membership row's, whose generation guards the confirmation),
/// or NULL when the row is dead. Sending, counting and dropping dead rows all use it.
///
/// A row planned in the latest generation as known pending is taken as it is, without a lookup:
/// no file has changed anything since (the common case, and the cheap one). Any other row is live
/// while its membership row is pending and names it: by `outbox_seq` once a confirmation racing
/// a newer file queued it again, else by generation.
enum PendingRule {
    /// The statement parameter that holds the latest generation (``SendingEpoch/generation``):
    /// numbered high, so that a statement's own parameters can be 1, 2 … around it.
    static let latestGeneration: Int32 = 9

    static let liveWish = """
        CASE WHEN o.known_pending = 1 AND o.generation = ?\(latestGeneration) THEN o.generation * 2 + o.desired
        ELSE (SELECT m.generation * 2 + m.desired FROM membership m
              WHERE m.id_type = o.id_type AND m.identifier = o.identifier AND m.segment = o.segment
                AND m.desired IS NOT m.acked
                AND (m.outbox_seq = o.seq OR (m.outbox_seq IS NULL AND m.generation = o.generation)))
        END
        """

    /// The desired state of a wish.
    static func desired(_ wish: Int64) -> Int64 { wish & 1 }
    /// The generation of a wish.
    static func generation(_ wish: Int64) -> Int64 { wish >> 1 }
}

extension LedgerConnection {
    /// The live outbox rows, by ``PendingRule``, as (segment, desired, generation) for counting;
    /// `generation` is the outbox row's, the file that queued it. `whereSegment` filters.
    func liveOutboxRows(_ columns: String, whereSegment filter: String = "") throws -> Statement {
        let statement = try connection.prepare(
            """
            SELECT \(columns) FROM (
                SELECT o.segment AS segment, (\(PendingRule.liveWish)) AS wish, o.generation AS generation FROM outbox o
            ) WHERE wish IS NOT NULL \(filter.isEmpty ? "" : "AND segment \(filter)")
            """)
        statement.bind(PendingRule.latestGeneration, try sendingEpoch().generation)
        return statement
    }
}

extension LedgerConnection {
    /// Whether the outbox row `seq` is live by ``PendingRule`` (it is there, and still stands for
    /// its member's pending wish), prepared once for many rows.
    func isLiveOutboxRow() throws -> (Int64) throws -> Bool {
        let statement = try connection.prepare("SELECT (\(PendingRule.liveWish)) IS NOT NULL FROM outbox o WHERE o.seq = ?1")
        let latest = try sendingEpoch().generation
        return { seq in
            defer { statement.reset() }
            statement.bind(1, seq)
            statement.bind(PendingRule.latestGeneration, latest)
            return try statement.step() && statement.int(0) == 1
        }
    }
}

/// Appends to the outbox, a group of rows per statement.
struct OutboxAppender {
    struct Entry {
        var member: Member
        var segmentRow: Int64
        var desired: Bool
        var knownPending: Bool
    }

    private let insert: MultiRowInsert
    private var buffered: [Entry] = []

    init(connection: SQLiteConnection, generation: Int64) throws {
        insert = try MultiRowInsert(
            connection: connection,
            into: "outbox (id_type, identifier, segment, generation, desired, known_pending)",
            row: "(?, ?, ?, \(generation), ?, ?)", parametersPerRow: 5)
        buffered.reserveCapacity(MultiRowInsert.rowsPerStatement)
    }

    mutating func append(_ entry: Entry) throws {
        buffered.append(entry)
        if buffered.count == MultiRowInsert.rowsPerStatement { try flush() }
    }

    mutating func flush() throws {
        defer { buffered.removeAll(keepingCapacity: true) }
        _ = try insert.insert(count: buffered.count) { statement, first, index in
            let entry = buffered[index]
            statement.bind(first, Int64(entry.member.type.rawValue))
            statement.bind(first + 1, entry.member.digest)
            statement.bind(first + 2, entry.segmentRow)
            statement.bind(first + 3, entry.desired ? 1 : 0)
            statement.bind(first + 4, entry.knownPending ? 1 : 0)
        }
    }
}

extension LedgerConnection {
    /// Deletes outbox rows, a run of consecutive numbers at a time.
    func dropFromOutbox(_ seqs: [Int64]) throws {
        guard !seqs.isEmpty else { return }
        let statement = try connection.prepare("DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2")
        let sorted = seqs.sorted()
        var start = sorted[0]
        var end = start
        func flush() throws {
            statement.bind(1, start)
            statement.bind(2, end)
            try statement.run()
        }
        for seq in sorted.dropFirst() {
            if seq == end + 1 {
                end = seq
            } else {
                try flush()
                start = seq
                end = seq
            }
        }
        try flush()
    }

    /// Puts a membership row back on the outbox under a number of its own, which from now on is
    /// the only outbox row that stands for it. It also moves the generation counter on: an outbox
    /// row the latest file queued for this member as known pending (a snapshot's add, say) no
    /// longer stands for it, and the sender must not take it on trust.
    func requeue(_ member: Member, segmentRow: Int64, generation: Int64, desired: Bool) throws {
        _ = try nextGeneration()
        try appendToOutbox(member, segmentRow: segmentRow, generation: generation, desired: desired)
    }

    /// The outbox half of ``requeue(_:segmentRow:generation:desired:)``, for a caller that has
    /// moved the generation counter on itself.
    func appendToOutbox(_ member: Member, segmentRow: Int64, generation: Int64, desired: Bool) throws {
        let append = try connection.prepare(
            """
            INSERT INTO outbox (id_type, identifier, segment, generation, desired, known_pending)
            VALUES (?1, ?2, ?3, ?4, ?5, 0) RETURNING seq
            """)
        append.bind(1, Int64(member.type.rawValue))
        append.bind(2, member.digest)
        append.bind(3, segmentRow)
        append.bind(4, generation)
        append.bind(5, desired ? 1 : 0)
        guard try append.step() else { throw connection.error(0, "outbox insert returned nothing") }
        let seq = append.int(0)
        append.reset()
        let link = try connection.prepare(
            "UPDATE membership SET outbox_seq = ?4 WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
        link.bind(1, Int64(member.type.rawValue))
        link.bind(2, member.digest)
        link.bind(3, segmentRow)
        link.bind(4, seq)
        try link.run()
    }
}
