import AudienceLedger
import AudienceModel
import AudienceTikTok

/// One `/segment/mapping/` request's worth of pending rows: one action, one identifier type,
/// at most `maxUsers` identifiers, each carrying every segment it is being added to (or removed from).
public struct MappingBatch: Sendable {
    public var action: MembershipAction
    public var type: IdentifierType
    public var users: [TikTokClient.User] = []
    public var rows: [PendingRow] = []

    public var segments: [String] { Array(Set(rows.map(\.audienceID))).sorted() }

    /// The same batch with only `kept` of its rows (those the ledger still wishes as read):
    /// each identifier carries the segments of its kept rows only, in the same order.
    func keeping(_ kept: [PendingRow]) -> MappingBatch {
        guard kept.count != rows.count else { return self }
        var part = MappingBatch(action: action, type: type)
        part.rows = kept
        var segmentsOf: [Digest32: [String]] = [:]
        for row in kept { segmentsOf[row.member.digest, default: []].append(row.audienceID) }
        part.users = users.compactMap { user in
            segmentsOf[user.digest].map { TikTokClient.User(digest: user.digest, audienceIDs: $0) }
        }
        return part
    }

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
        var first = MappingBatch(action: action, type: type)
        var second = first
        first.users = Array(users[..<middle])
        second.users = Array(users[middle...])
        let inFirst = Set(first.users.map(\.digest))
        for row in rows {
            if inFirst.contains(row.member.digest) { first.rows.append(row) } else { second.rows.append(row) }
        }
        return (first, second)
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
            batch.users.append(user)
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

    /// Adds one row; returns the batch it filled, if any (ready to send).
    public mutating func add(_ row: PendingRow) -> [MappingBatch] {
        let kind = Kind(action: row.action, type: row.member.type)
        var ready: [MappingBatch] = []
        var current = open.removeValue(forKey: kind) ?? Open(batch: MappingBatch(action: row.action, type: row.member.type), slots: nil)
        if let slot = current.slot(of: row.member.digest) {
            current.batch.users[slot].audienceIDs.append(row.audienceID)
        } else {
            if current.batch.users.count == maxUsers {
                ready.append(current.batch)
                current = Open(batch: MappingBatch(action: row.action, type: row.member.type), slots: nil)
            }
            if current.batch.users.isEmpty { current.batch.users.reserveCapacity(maxUsers) }
            current.appendUser(TikTokClient.User(digest: row.member.digest, audienceIDs: [row.audienceID]))
        }
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
