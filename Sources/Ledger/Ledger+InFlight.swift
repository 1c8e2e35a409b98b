import AudienceModel

// Requests that may have reached TikTok. Once a batch may have left the process, the ledger may
// not assume what TikTok holds for its members: the batch is recorded before it is sent, and until
// TikTok's code 0 for it is recorded its members count as *unknown* (acked NULL) whenever the send
// ends otherwise, or the process dies. Unknown differs from both wishes, so the next wish is sent
// whatever it is. See DESIGN.md, "The one idea".

/// A batch recorded as possibly at TikTok; returned by ``Ledger/recordInFlight(_:readIn:type:now:)``.
public struct InFlightTicket: Sendable, Equatable {
    let id: Int64
    /// The rows recorded: those of the batch whose wish was still the ledger's. Only these may
    /// be sent.
    public let rows: [PendingRow]
}

/// What ``Ledger/reclaimInFlight(now:grace:)`` did.
public struct InFlightReclaim: Sendable, Equatable {
    /// Members of sends a process did not finish (killed, crashed): now unknown.
    public var interrupted = 0
    /// Members whose grace period after a send without an answer ran out: now unknown again.
    public var rechecked = 0
}

/// Members waiting to be sent their wish again after a send that got no sure answer.
public struct PendingRechecks: Sendable, Equatable {
    public var members = 0
    /// Seconds since the epoch of the earliest recheck; nil when none waits.
    public var next: Int64?
}

extension Ledger {
    /// Durably records `rows` (all of one identifier type) as possibly at TikTok. Call it before
    /// the request leaves, and send only the ticket's rows; if it throws, nothing may be sent.
    ///
    /// Rows are read ahead of sending, and a file planned meanwhile may have given a member a
    /// newer wish (or a segment been parked): nothing older than the ledger's wish may leave. On
    /// the ledger's writer, no file can commit between this look and the record, so rows read in
    /// the current sending epoch (`readIn`: the oldest epoch they were read in) are taken as
    /// read; otherwise (or with no `readIn`) each is looked up, and kept only if it is still
    /// pending with the wish it was read with. The newer wish has an outbox row of its own,
    /// which a later pass sends. Nil: no row is still wished as read; nothing recorded.
    public func recordInFlight(_ rows: [PendingRow], readIn: SendingEpoch? = nil, type: IdentifierType, now: Int64) throws -> InFlightTicket? {
        try withConnection { ledger in
            let epoch = try ledger.sendingEpoch()
            var current = rows
            if readIn != epoch {
                let parked = try ledger.parkedSegmentRows()
                let isStillWished = try ledger.stillWishedCheck()
                current = try rows.filter { row in try !parked.contains(row.segmentRow) && isStillWished(row) }
            }
            guard !current.isEmpty else { return nil }
            var members: [UInt8] = []
            members.reserveCapacity(current.count * InFlightMembers.stride)
            for row in current { InFlightMembers.append(row.member.digest, segmentRow: row.segmentRow, to: &members) }
            let insert = try ledger.connection.prepare(
                "INSERT INTO in_flight (id_type, members, member_count, sent_at) VALUES (?1, ?2, ?3, ?4) RETURNING id")
            insert.bind(1, Int64(type.rawValue))
            insert.bind(2, bytes: members)
            insert.bind(3, current.count)
            insert.bind(4, now)
            defer { insert.reset() }
            guard try insert.step() else { throw ledger.connection.error(0, "recording a batch in flight returned nothing") }
            return InFlightTicket(id: insert.int(0), rows: current)
        }
    }

    /// The send of `ticket` is over without a code 0 for every row. `unconfirmed` (rows with no
    /// confirmation recorded) become unknown now. `recheckAt`: when some try got no sure answer
    /// (it may still land), the time at which every member of the batch is made unknown again.
    /// `request`: the last request of the send, remembered as the last that carried these members.
    public func endInFlight(
        _ ticket: InFlightTicket, unconfirmed: [PendingRow], type: IdentifierType, recheckAt: Int64?, request: SentRequest? = nil
    ) throws {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let requestRow = try request.map { try ledger.insertRequest($0) }
                let requeue = try ledger.makeUnknownWhereStillQueued(unconfirmed, request: requestRow)
                try ledger.makeUnknown(requeue.map { ($0.member.digest, $0.segmentRow) }, type: type, request: requestRow)
                try ledger.closeInFlight(ticket.id, recheckAt: recheckAt)
            }
        }
    }

    /// Call before a sending pass, while no send of this process runs: the sends a process did not
    /// finish (it was killed or crashed) make their members unknown and are rechecked after
    /// `grace` seconds (their request may still land); sends whose recheck time has come make
    /// their members unknown once more, and are done with. Every such member goes back on the outbox.
    /// Times are whole seconds: a recheck is due once its second has begun, and is set for the
    /// second after `now` and the grace have both passed, never sooner.
    @discardableResult
    public func reclaimInFlight(now: Double, grace: Int64) throws -> InFlightReclaim {
        try withConnection { ledger in
            try ledger.connection.transaction {
                let select = try ledger.connection.prepare(
                    "SELECT id, id_type, members, recheck_at FROM in_flight WHERE recheck_at IS NULL OR recheck_at <= ?1 ORDER BY id")
                select.bind(1, Int64(now.rounded(.down)))
                var found: [(id: Int64, type: Int64, members: [UInt8], interrupted: Bool)] = []
                while try select.step() {
                    found.append((select.int(0), select.int(1), select.bytes(2), select.isNull(3)))
                }
                select.reset()
                var reclaim = InFlightReclaim()
                for record in found {
                    guard let type = IdentifierType(rawValue: UInt8(clamping: record.type)) else {
                        throw LedgerError.corrupt(ledger.connection.path, "a batch in flight has a bad identifier type")
                    }
                    let members = InFlightMembers.decode(record.members)
                    try ledger.makeUnknown(members, type: type)
                    if record.interrupted {
                        reclaim.interrupted += members.count
                        try ledger.closeInFlight(record.id, recheckAt: Int64(now.rounded(.up)) + grace)
                    } else {
                        reclaim.rechecked += members.count
                        try ledger.closeInFlight(record.id, recheckAt: nil)
                    }
                }
                return reclaim
            }
        }
    }

}

extension LedgerConnection {
    /// Tells whether the membership row of a pending row is still pending with the wish it was
    /// read with (one statement, prepared once, for a batch's rows).
    func stillWishedCheck() throws -> (PendingRow) throws -> Bool {
        let statement = try connection.prepare(
            """
            SELECT 1 FROM membership
            WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3 AND generation = ?4 AND desired = ?5
              AND acked IS NOT desired
            """)
        return { row in
            defer { statement.reset() }
            statement.bind(1, Int64(row.member.type.rawValue))
            statement.bind(2, row.member.digest)
            statement.bind(3, row.segmentRow)
            statement.bind(4, row.generation)
            statement.bind(5, Int64(row.action.rawValue))
            return try statement.step()
        }
    }

    /// Makes unknown the members of `rows` whose outbox row, the one the sender read, is still live
    /// by ``PendingRule`` (the usual case after a refusal or a send without an answer): acked NULL is then
    /// all it takes, as that row still carries their wish and the next pass meets it again. The
    /// sending epoch does not move, so the outbox stays trusted, and counting a large backlog
    /// after a refused token needs no lookup per row (2M pending: `status` took 3 s).
    /// Returns the other rows (a newer file changed the member, or its row went), which
    /// ``makeUnknown(_:type:request:)`` queues again.
    func makeUnknownWhereStillQueued(_ rows: [PendingRow], request: Int64?) throws -> [PendingRow] {
        guard !rows.isEmpty else { return [] }
        let isLive = try isLiveOutboxRow()
        let unknown = try connection.prepare(
            """
            UPDATE membership SET acked = NULL, request = coalesce(?4, request)
            WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3
            """)
        var others: [PendingRow] = []
        for row in rows {
            guard try isLive(row.seq) else {
                others.append(row)
                continue
            }
            unknown.bind(1, Int64(row.member.type.rawValue))
            unknown.bind(2, row.member.digest)
            unknown.bind(3, row.segmentRow)
            if let request { unknown.bind(4, request) } else { unknown.bindNull(4) }
            try unknown.run()
        }
        return others
    }

    /// Deletes the record of a finished send, or keeps it until `recheckAt`.
    func closeInFlight(_ id: Int64, recheckAt: Int64?) throws {
        let statement = try connection.prepare(
            recheckAt == nil
                ? "DELETE FROM in_flight WHERE id = ?1"
                : "UPDATE in_flight SET recheck_at = ?2 WHERE id = ?1")
        statement.bind(1, id)
        if let recheckAt { statement.bind(2, recheckAt) }
        try statement.run()
    }

    /// Records that TikTok may hold either state for these members: acked NULL, and back on the
    /// outbox with their current wish. A member the ledger had let go (a confirmed removal) comes
    /// back as a wish to be out. Moves the generation counter on, so the sender takes none of
    /// their older outbox rows on trust.
    /// `request`: the request that last carried them, when there was one (nil keeps the last known).
    func makeUnknown(_ members: [(digest: Digest32, segmentRow: Int64)], type: IdentifierType, request: Int64? = nil) throws {
        guard !members.isEmpty else { return }
        let generation = try nextGeneration()
        let upsert = try connection.prepare(
            """
            INSERT INTO membership (id_type, identifier, segment, desired, acked, generation, seen, request)
            VALUES (?1, ?2, ?3, 0, NULL, ?4, 0, ?5)
            ON CONFLICT DO UPDATE SET acked = NULL, request = coalesce(excluded.request, request)
            RETURNING desired, generation
            """)
        for (digest, segmentRow) in members {
            upsert.bind(1, Int64(type.rawValue))
            upsert.bind(2, digest)
            upsert.bind(3, segmentRow)
            upsert.bind(4, generation)
            if let request { upsert.bind(5, request) } else { upsert.bindNull(5) }
            guard try upsert.step() else { throw connection.error(0, "marking a member unknown returned nothing") }
            let desired = upsert.int(0) == 1
            let rowGeneration = upsert.int(1)
            upsert.reset()
            try appendToOutbox(
                Member(type: type, digest: digest), segmentRow: segmentRow, generation: rowGeneration, desired: desired)
        }
    }
}

/// The `members` blob of an in-flight row: 32 bytes of identifier, then 8 of segment row.
enum InFlightMembers {
    static let stride = 40

    static func append(_ digest: Digest32, segmentRow: Int64, to bytes: inout [UInt8]) {
        digest.withUnsafeBytes { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: segmentRow.bigEndian) { bytes.append(contentsOf: $0) }
    }

    static func decode(_ bytes: [UInt8]) -> [(digest: Digest32, segmentRow: Int64)] {
        var members: [(digest: Digest32, segmentRow: Int64)] = []
        members.reserveCapacity(bytes.count / stride)
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + stride <= raw.count {
                let digest = Digest32(bytes: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 32)]))
                let segmentRow = Int64(bigEndian: raw.loadUnaligned(fromByteOffset: offset + 32, as: Int64.self))
                members.append((digest, segmentRow))
                offset += stride
            }
        }
        return members
    }
}

extension LedgerReader {
    /// Members waiting for a recheck (or in a send right now), and when the first recheck is due.
    public func pendingRechecks() throws -> PendingRechecks {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "SELECT coalesce(sum(member_count), 0), min(recheck_at) FROM in_flight")
            defer { statement.reset() }
            guard try statement.step() else { return PendingRechecks() }
            return PendingRechecks(members: Int(statement.int(0)), next: statement.optionalInt(1))
        }
    }
}
