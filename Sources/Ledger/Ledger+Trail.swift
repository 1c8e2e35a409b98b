import AudienceModel

// A member traced end to end (`lookup`): which files changed its wish in each segment, and which
// request last carried it. The member's row holds its last wish with the generation of the file
// that gave it, and the last request that carried it; the trail (`member_trail`, written by the
// schema's triggers) holds the wishes newer files replaced, and the last wish of a member whose
// row went (a removal TikTok confirmed). Files are found by generation, so a member's history is
// as long as the file records are kept. The trail names a member by the first 8 bytes of its
// identifier (itself a hash): never a plain value, and two members of one file sharing them is
// a one-in-10^13 chance.

/// A request as it is remembered: when, what, and what TikTok answered.
public struct SentRequest: Sendable, Equatable {
    public var sentAt: Int64
    public var action: MembershipAction
    public var type: IdentifierType
    public var users: Int
    /// TikTok's code; nil when the request got no answer with an envelope.
    public var code: Int?
    public var httpStatus: Int?
    public var message: String?
    public var requestID: String?

    public init(
        sentAt: Int64, action: MembershipAction, type: IdentifierType, users: Int, code: Int?, httpStatus: Int?, message: String?,
        requestID: String?
    ) {
        self.sentAt = sentAt
        self.action = action
        self.type = type
        self.users = users
        self.code = code
        self.httpStatus = httpStatus
        self.message = message
        self.requestID = requestID
    }
}

/// One member (one identifier type) in one segment, as the ledger knows it.
public struct MemberTrace: Sendable, Equatable {
    /// What TikTok is known to hold.
    public enum Held: String, Sendable, Codable {
        case member = "in"
        case notMember = "out"
        /// A request may have reached TikTok without a sure answer (or is being sent).
        case unknown
    }

    /// One change a file made to the member's wish.
    public struct Change: Sendable, Equatable {
        public var file: String
        /// When the file landed in the inbox (its record's arrival, else when it was planned).
        public var arrivedAt: Int64
        public var plannedAt: Int64
        public var kind: FileKind?
        /// The wish the file gave: true add, false remove (or left out of a snapshot).
        public var desired: Bool
        /// The file's place in the order files were applied.
        public var generation: Int64
    }

    public var type: IdentifierType
    public var segment: String
    /// The wish now; nil when the ledger has no row (never wished, or a removal TikTok confirmed).
    public var desired: Bool?
    /// What TikTok holds, as far as the ledger knows; nil when it has no row.
    public var held: Held?
    /// The segment is parked (TikTok refused it): its pending changes wait for `retry`.
    public var parked = false
    /// Newest first, as far back as the ledger remembers files.
    public var changes: [Change] = []
    public var lastRequest: SentRequest?
    /// The row names a request the ledger no longer remembers (older than the file history).
    public var lastRequestForgotten = false
}

extension LedgerConnection {
    /// Remembers one request; its row id.
    func insertRequest(_ request: SentRequest) throws -> Int64 {
        let insert = try connection.prepare(
            """
            INSERT INTO request (sent_at, action, id_type, users, code, http_status, message, request_id)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id
            """)
        defer { insert.reset() }
        insert.bind(1, request.sentAt)
        insert.bind(2, request.action == .add ? "add" : "delete")
        insert.bind(3, Int64(request.type.rawValue))
        insert.bind(4, request.users)
        if let code = request.code { insert.bind(5, code) } else { insert.bindNull(5) }
        if let status = request.httpStatus { insert.bind(6, status) } else { insert.bindNull(6) }
        insert.bind(7, request.message.map { String($0.prefix(500)) })
        insert.bind(8, request.requestID)
        guard try insert.step() else { throw connection.error(0, "recording a request returned nothing") }
        return insert.int(0)
    }

    /// Marks the trail rows of these changes (each row's generation is the file's that asked for
    /// it) as carried by `request`: for confirmed removals, once their rows went to the trail (or
    /// a newer file's wish moved the removal there).
    func markTrail(_ rows: [PendingRow], request: Int64) throws {
        guard !rows.isEmpty else { return }
        let update = try connection.prepare(
            "UPDATE member_trail SET request = ?5 WHERE generation = ?1 AND id_type = ?2 AND member = ?3 AND segment = ?4")
        for row in rows {
            update.bind(1, row.generation)
            update.bind(2, Int64(row.member.type.rawValue))
            update.bind(3, bytes: TrailKey.member(row.member.digest))
            update.bind(4, row.segmentRow)
            update.bind(5, request)
            try update.run()
        }
    }

    /// Forgets the trail of the files of these generations (their records are gone).
    func forgetTrail(generations: [Int64]) throws {
        guard !generations.isEmpty else { return }
        let delete = try connection.prepare("DELETE FROM member_trail WHERE generation = ?1")
        for generation in generations {
            delete.bind(1, generation)
            try delete.run()
        }
    }
}

/// How the trail names a member: the first 8 bytes of its identifier.
enum TrailKey {
    static func member(_ digest: Digest32) -> [UInt8] {
        withUnsafeBytes(of: digest.w0.bigEndian) { Array($0) }
    }
}

extension LedgerReader {
    /// The names of the files of these generations (a generation no file has is left out).
    public func fileNames(generations: [Int64]) throws -> [Int64: String] {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT name FROM file WHERE generation = ?1")
            var names: [Int64: String] = [:]
            for generation in Set(generations) {
                statement.bind(1, generation)
                if try statement.step() { names[generation] = statement.string(0) }
                statement.reset()
            }
            return names
        }
    }

    /// Everything the ledger knows of `member` in each segment (or only `segment`): the wish,
    /// what TikTok holds, the files that changed it and the last request that carried it.
    /// Segments where the ledger knows nothing of it are left out.
    public func trace(_ member: Member, segment: SegmentID? = nil) throws -> [MemberTrace] {
        try withConnection { ledger in
            var filter: Int64?
            if let segment {
                if ledger.knownSegmentRow(for: segment) == nil { try ledger.reloadSegments() }
                guard let row = ledger.knownSegmentRow(for: segment) else { return [] }  // never seen
                filter = row
            }
            var traces: [Int64: MemberTrace] = [:]
            func trace(_ row: Int64) -> MemberTrace? {
                if let known = traces[row] { return known }
                guard let audience = ledger.audienceID(forRow: row) else { return nil }
                return MemberTrace(type: member.type, segment: audience)
            }
            var requests: [Int64: Int64] = [:]
            // The last wish of each row, with its file (when the ledger remembers it).
            let rows = try ledger.connection.prepare(
                """
                SELECT m.segment, m.desired, m.acked, m.request, f.name, CAST(coalesce(f.arrived, f.planned_at) AS INTEGER),
                       f.planned_at, f.kind, m.generation
                FROM membership m LEFT JOIN file f ON f.generation = m.generation
                WHERE m.id_type = ?1 AND m.identifier = ?2
                """)
            rows.bind(1, Int64(member.type.rawValue))
            rows.bind(2, member.digest)
            while try rows.step() {
                let row = rows.int(0)
                if let filter, row != filter { continue }
                guard var entry = trace(row) else { continue }
                entry.desired = rows.int(1) == 1
                entry.held = rows.optionalInt(2).map { $0 == 1 ? .member : .notMember } ?? .unknown
                if let request = rows.optionalInt(3) { requests[row] = request }
                if let file = rows.optionalString(4) {
                    entry.changes.append(
                        MemberTrace.Change(
                            file: file, arrivedAt: rows.int(5), plannedAt: rows.int(6), kind: rows.optionalString(7).flatMap(FileKind.init(rawValue:)),
                            desired: rows.int(1) == 1, generation: rows.int(8)))
                }
                traces[row] = entry
            }
            rows.reset()
            // One seek per file remembered, newest first.
            let changes = try ledger.connection.prepare(
                """
                SELECT t.segment, t.desired, t.request, f.name, CAST(coalesce(f.arrived, f.planned_at) AS INTEGER), f.planned_at, f.kind,
                       t.generation
                FROM file f CROSS JOIN member_trail t
                WHERE f.generation IS NOT NULL AND t.generation = f.generation AND t.id_type = ?1 AND t.member = ?2
                ORDER BY f.generation DESC
                """)
            changes.bind(1, Int64(member.type.rawValue))
            changes.bind(2, bytes: TrailKey.member(member.digest))
            while try changes.step() {
                let row = changes.int(0)
                if let filter, row != filter { continue }
                guard var entry = trace(row) else { continue }
                entry.changes.append(
                    MemberTrace.Change(
                        file: changes.string(3), arrivedAt: changes.int(4), plannedAt: changes.int(5),
                        kind: changes.optionalString(6).flatMap(FileKind.init(rawValue:)), desired: changes.int(1) == 1,
                        generation: changes.int(7)))
                // A member whose row is gone: the request the trail kept for its newest change.
                if entry.desired == nil, requests[row] == nil, let request = changes.optionalInt(2) { requests[row] = request }
                traces[row] = entry
            }
            changes.reset()
            let parked = try ledger.connection.prepare("SELECT 1 FROM parked_segment WHERE segment = ?1")
            let request = try ledger.connection.prepare(
                "SELECT sent_at, action, id_type, users, code, http_status, message, request_id FROM request WHERE id = ?1")
            for (row, var entry) in traces {
                entry.changes.sort { $0.generation > $1.generation }
                parked.bind(1, row)
                entry.parked = try parked.step()
                parked.reset()
                if let id = requests[row] {
                    request.bind(1, id)
                    if try request.step() {
                        entry.lastRequest = SentRequest(
                            sentAt: request.int(0), action: request.string(1) == "add" ? .add : .remove,
                            type: IdentifierType(rawValue: UInt8(clamping: request.int(2))) ?? member.type,
                            users: Int(request.int(3)), code: request.optionalInt(4).map(Int.init),
                            httpStatus: request.optionalInt(5).map(Int.init), message: request.optionalString(6),
                            requestID: request.optionalString(7))
                    } else {
                        entry.lastRequestForgotten = true
                    }
                    request.reset()
                }
                // A member whose row went after TikTok confirmed its removal.
                if entry.desired == nil, entry.changes.first?.desired == false, entry.lastRequest?.code == 0 {
                    entry.held = .notMember
                }
                traces[row] = entry
            }
            return traces.values.sorted { ($0.segment, $0.type) < ($1.segment, $1.type) }
        }
    }
}
