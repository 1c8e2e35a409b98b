/// One `/segment/mapping/` request's worth of pending rows: one action, one identifier type,
/// at most `maxUsers` identifiers, each carrying every segment it is being added to (or removed from).
public struct MappingBatch: Sendable {
    public var action: MembershipAction
    public var type: IdentifierType
    public var users: [TikTokClient.User] = []
    public var rows: [PendingRow] = []

    public var segments: [String] { Array(Set(rows.map(\.audienceID))).sorted() }

    /// Two batches, each for about half of the segments: to find which segment TikTok refuses.
    func splitBySegments() -> (MappingBatch, MappingBatch) {
        let all = segments
        let firstHalf = Set(all.prefix(all.count / 2))
        func keeping(_ inFirst: Bool) -> MappingBatch {
            var part = MappingBatch(action: action, type: type)
            part.rows = rows.filter { firstHalf.contains($0.audienceID) == inFirst }
            part.users = users.compactMap { user in
                let kept = user.audienceIDs.filter { firstHalf.contains($0) == inFirst }
                return kept.isEmpty ? nil : TikTokClient.User(digest: user.digest, audienceIDs: kept)
            }
            return part
        }
        return (keeping(true), keeping(false))
    }

    /// Two batches of about half the users each; one identifier's rows stay together.
    func halves() -> (MappingBatch, MappingBatch) {
        let middle = users.count / 2
        let splitDigest = users[middle].digest
        let rowSplit = rows.firstIndex { $0.member.digest == splitDigest } ?? rows.count
        var first = MappingBatch(action: action, type: type)
        var second = first
        first.users = Array(users[..<middle])
        second.users = Array(users[middle...])
        first.rows = Array(rows[..<rowSplit])
        second.rows = Array(rows[rowSplit...])
        return (first, second)
    }
}

/// Packs pending rows, which arrive in (type, identifier, segment) order, into as few requests as
/// the 10,000-users limit allows. Pure: no I/O.
public struct BatchPacker {
    private let maxUsers: Int
    /// The open add and remove batches of the identifier type being read.
    private var adds: MappingBatch?
    private var removes: MappingBatch?

    public init(maxUsers: Int = 10_000) {
        self.maxUsers = maxUsers
    }

    /// Adds one row; returns the batches it filled (ready to send).
    public mutating func add(_ row: PendingRow) -> [MappingBatch] {
        var ready: [MappingBatch] = []
        // Rows come sorted by type: batches of an earlier type will get nothing more.
        if let open = adds ?? removes, open.type != row.member.type {
            ready = finish()
        }
        var batch = (row.action == .add ? adds.take() : removes.take())
            ?? MappingBatch(action: row.action, type: row.member.type)
        if let last = batch.users.last, last.digest == row.member.digest {
            batch.users[batch.users.count - 1].audienceIDs.append(row.audienceID)
        } else {
            if batch.users.count == maxUsers {
                ready.append(batch)
                batch = MappingBatch(action: row.action, type: row.member.type)
                batch.users.reserveCapacity(maxUsers)
            }
            batch.users.append(TikTokClient.User(digest: row.member.digest, audienceIDs: [row.audienceID]))
        }
        batch.rows.append(row)
        if row.action == .add { adds = batch } else { removes = batch }
        return ready
    }

    /// The batches still open at the end of the pending rows.
    public mutating func finish() -> [MappingBatch] {
        [adds.take(), removes.take()].compactMap { $0 }
    }
}
