import AudienceModel

/// A segment whose rows wait because TikTok refused it, with what TikTok said.
public struct ParkedSegment: Sendable, Codable, Equatable {
    public var segment: String
    public var code: Int?
    public var message: String
    public var requestID: String?
    public var parkedAt: Int64
    public var adds = 0
    public var removes = 0

    enum CodingKeys: String, CodingKey {
        case segment, code, message, adds, removes
        case requestID = "request_id"
        case parkedAt = "parked_at"
    }
}

extension Ledger {
    /// Holds a segment's pending rows back from sending, recording TikTok's answer.
    public func park(segment: String, code: Int?, message: String, requestID: String?, now: Int64) throws {
        try withConnection { ledger in
            guard let row = try SegmentID(segment).map({ try ledger.segmentRow(for: $0, bySnapshot: false) }) else { return }
            let statement = try ledger.connection.prepare(
                """
                INSERT INTO parked_segment (segment, code, message, request_id, parked_at) VALUES (?1, ?2, ?3, ?4, ?5)
                ON CONFLICT (segment) DO UPDATE SET code = excluded.code, message = excluded.message,
                    request_id = excluded.request_id, parked_at = excluded.parked_at
                """)
            statement.bind(1, row)
            if let code { statement.bind(2, code) } else { statement.bindNull(2) }
            statement.bind(3, message)
            statement.bind(4, requestID)
            statement.bind(5, now)
            try ledger.connection.transaction {
                try statement.run()
                try ledger.countParkingChange()
            }
        }
    }

    /// Puts parked rows back in line (all segments, or one). Returns how many rows that frees.
    @discardableResult
    public func unpark(segment: String? = nil) throws -> Int {
        let parked = try connection.parkedSegments().filter { segment == nil || $0.segment == segment }
        try withConnection { ledger in
            try ledger.connection.transaction {
                let statement = try ledger.connection.prepare(
                    "DELETE FROM parked_segment WHERE segment = (SELECT id FROM segment WHERE audience_id = ?1)")
                for entry in parked {
                    statement.bind(1, entry.segment)
                    try statement.run()
                }
                if !parked.isEmpty { try ledger.countParkingChange() }
            }
        }
        return parked.reduce(0) { $0 + $1.adds + $1.removes }
    }

    /// Remembers that an operator approved a held file, so it applies on its next intake.
    public func approve(fingerprint: Digest32, now: Int64) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "INSERT INTO approved_file (fingerprint, approved_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
            statement.bind(1, fingerprint)
            statement.bind(2, now)
            try statement.run()
            let forget = try ledger.connection.prepare("DELETE FROM file WHERE fingerprint = ?1 AND outcome = 'held'")
            forget.bind(1, fingerprint)
            try forget.run()
        }
    }

    /// Undoes ``approve(fingerprint:now:)`` when the file could not be put back into the inbox:
    /// it is held again, as it was.
    public func withdrawApproval(fingerprint: Digest32, held record: FileRecord, arrived: Double?) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("DELETE FROM approved_file WHERE fingerprint = ?1")
            statement.bind(1, fingerprint)
            try statement.run()
        }
        try recordRejectedFile(
            fingerprint: fingerprint, name: record.name, size: record.size, reason: record.reason ?? "held",
            outcome: .held, arrived: arrived)
    }

}

extension LedgerReader {
    /// Parked segments with their pending row counts.
    public func parkedSegments() throws -> [ParkedSegment] {
        try withConnection { try $0.parkedSegments() }
    }

    public func isApproved(fingerprint: Digest32) throws -> Bool {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT 1 FROM approved_file WHERE fingerprint = ?1")
            defer { statement.reset() }
            statement.bind(1, fingerprint)
            return try statement.step()
        }
    }
}

extension LedgerConnection {
    func parkedSegments() throws -> [ParkedSegment] {
        let ledger = self
        do {
            let statement = try ledger.connection.prepare(
                """
                SELECT s.audience_id, p.code, p.message, p.request_id, p.parked_at, p.segment
                FROM parked_segment p JOIN segment s ON s.id = p.segment ORDER BY s.audience_id
                """)
            var result: [ParkedSegment] = []
            var rows: [Int64] = []
            while try statement.step() {
                result.append(
                    ParkedSegment(
                        segment: statement.string(0), code: statement.optionalInt(1).map { Int($0) },
                        message: statement.string(2), requestID: statement.optionalString(3), parkedAt: statement.int(4)))
                rows.append(statement.int(5))
            }
            statement.reset()
            guard !rows.isEmpty else { return result }
            // One walk over the outbox for every parked segment's waiting rows.
            let waiting = try ledger.count(
                ledger.liveOutboxRows("segment, wish & 1", whereSegment: "IN (SELECT segment FROM parked_segment)")) { [$0.int(0), $0.int(1)] }
            for (index, row) in rows.enumerated() {
                result[index].adds = waiting[[row, 1]] ?? 0
                result[index].removes = waiting[[row, 0]] ?? 0
            }
            return result
        }
    }
}
