import AudienceLedger
import AudienceModel
import AudienceTikTok

/// One `/segment/mapping/` request's worth of pending rows: one action, one identifier type,
/// at most `maxUsers` identifiers, each carrying every segment it is being added to (or removed
/// from). The users are what the request's body is built from; once it is, only the rows are
/// kept while it is in flight (``withoutUsers()``), and a part of it builds its users anew.
public struct MappingBatch: Sendable {
    public var action: MembershipAction
    public var type: IdentifierType
    public var users: [TikTokClient.User] = []
    public var rows: [PendingRow] = []
    /// The sending epoch all its rows were read in (nil: not one epoch, or unknown; each row is
    /// then looked up before it is recorded in flight).
    public var readIn: SendingEpoch?
    /// How many identifiers the request carries (also once ``users`` is let go).
    public private(set) var userCount = 0

    public init(action: MembershipAction, type: IdentifierType) {
        self.action = action
        self.type = type
    }

    /// A batch of these rows (one action, one identifier type): an identifier per member, in the
    /// order the rows first name it, carrying the segments of its rows.
    init(action: MembershipAction, type: IdentifierType, rows: [PendingRow]) {
        self.init(action: action, type: type)
        self.rows = rows
        var slot: [Digest32: Int] = [:]
        slot.reserveCapacity(rows.count)
        for row in rows {
            if let index = slot[row.member.digest] {
                users[index].add(audienceID: row.audienceID)
            } else {
                slot[row.member.digest] = users.count
                users.append(TikTokClient.User(digest: row.member.digest, audienceID: row.audienceID))
            }
        }
        userCount = users.count
    }

    public var segments: [String] { Array(Set(rows.map(\.audienceID))).sorted() }

    /// The batch as it stays while its request is in flight: its body holds the users.
    func withoutUsers() -> MappingBatch {
        var lighter = self
        lighter.users = []
        // A last, small batch would keep a full batch's room for the whole request.
        if rows.capacity > 2 * rows.count {
            var exact: [PendingRow] = []
            exact.reserveCapacity(rows.count)
            exact.append(contentsOf: rows)
            lighter.rows = exact
        }
        return lighter
    }

    mutating func appendUser(_ user: TikTokClient.User) {
        users.append(user)
        userCount = users.count
    }

    /// The same batch with only `kept` of its rows (those the ledger still wishes as read).
    func keeping(_ kept: [PendingRow]) -> MappingBatch {
        kept.count == rows.count ? self : MappingBatch(action: action, type: type, rows: kept)
    }

    /// Two batches, each for about half of the segments: to find which segment TikTok refuses.
    func splitBySegments() -> (MappingBatch, MappingBatch) {
        let all = segments
        let firstHalf = Set(all.prefix(all.count / 2))
        return (
            MappingBatch(action: action, type: type, rows: rows.filter { firstHalf.contains($0.audienceID) }),
            MappingBatch(action: action, type: type, rows: rows.filter { !firstHalf.contains($0.audienceID) })
        )
    }

    /// Two batches of about half the identifiers each; one identifier's rows stay together.
    func halves() -> (MappingBatch, MappingBatch) {
        // The first half of the identifiers, in the order the rows first name them.
        var firstHalf: Set<Digest32> = []
        for row in rows where firstHalf.count < userCount / 2 { firstHalf.insert(row.member.digest) }
        var first: [PendingRow] = []
        var second: [PendingRow] = []
        for row in rows {
            if firstHalf.contains(row.member.digest) { first.append(row) } else { second.append(row) }
        }
        return (MappingBatch(action: action, type: type, rows: first), MappingBatch(action: action, type: type, rows: second))
    }
}

/// Packs pending rows into as few requests as the 10,000-users limit allows: one identifier
/// carries every segment it is being added to (or removed from), also when its rows come from
/// different files. Pure: no I/O.
public struct BatchPacker {
    private struct Open {
        var batch: MappingBatch
        /// Where each identifier sits in `batch.users`; built only once rows stop arriving in key
        /// order (a second file's changes), as until then an identifier can only be the last one.
        var slots: [Digest32: Int]?

        mutating func slot(of digest: Digest32) -> Int? {
            guard let last = batch.users.last?.digest else { return nil }
            if slots == nil {
                if last == digest { return batch.users.count - 1 }
                if last < digest { return nil }
                slots = Dictionary(batch.users.enumerated().map { ($1.digest, $0) }, uniquingKeysWith: { first, _ in first })
            }
            return slots?[digest]
        }

        mutating func appendUser(_ user: TikTokClient.User) {
            slots?[user.digest] = batch.users.count
            batch.appendUser(user)
        }
    }

    private struct Kind: Hashable {
        var action: MembershipAction
        var type: IdentifierType
    }

    private let maxUsers: Int
    private var open: [Kind: Open] = [:]

    public init(maxUsers: Int = 10_000) {
        self.maxUsers = maxUsers
    }

    /// Adds one row, read in sending epoch `readIn`; returns the batch it filled, if any (ready to send).
    public mutating func add(_ row: PendingRow, readIn: SendingEpoch? = nil) -> [MappingBatch] {
        let kind = Kind(action: row.action, type: row.member.type)
        var ready: [MappingBatch] = []
        var current = open.removeValue(forKey: kind) ?? Open(batch: MappingBatch(action: row.action, type: row.member.type), slots: nil)
        if let slot = current.slot(of: row.member.digest) {
            current.batch.users[slot].add(audienceID: row.audienceID)
        } else {
            if current.batch.users.count == maxUsers {
                ready.append(current.batch)
                current = Open(batch: MappingBatch(action: row.action, type: row.member.type), slots: nil)
            }
            if current.batch.users.isEmpty {
                // Room for a full batch at once: an array grown by doubling would keep up to
                // 1.6 times that while the request is in flight.
                current.batch.users.reserveCapacity(maxUsers)
                current.batch.rows.reserveCapacity(maxUsers)
            }
            current.appendUser(TikTokClient.User(digest: row.member.digest, audienceID: row.audienceID))
        }
        // An epoch for the batch only while every row was read in it; otherwise each is looked up.
        if current.batch.rows.isEmpty { current.batch.readIn = readIn } else if current.batch.readIn != readIn { current.batch.readIn = nil }
        current.batch.rows.append(row)
        open[kind] = current
        return ready
    }

    /// The batches still open at the end of the pending rows.
    public mutating func finish() -> [MappingBatch] {
        defer { open.removeAll() }
        return open.values.map(\.batch).sorted { ($0.type.rawValue, $0.action.rawValue) < ($1.type.rawValue, $1.action.rawValue) }
    }
}
