// When each file in the inbox arrived: its inode's change time when a scan first saw it. The
// change time moves when a waiting file is renamed or its mode changed; the first one does not.

/// An inbox file as the arrival record knows it.
public struct ArrivalKey: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// Whether the arrival remembered for an inode belongs to a file that is gone: the file that
    /// has the inode now was created after it (an inode is reused once free). The same file
    /// arrived no sooner than it was created.
    public static func isStale(_ remembered: Double?, born: Double?) -> Bool {
        guard let remembered, let born else { return false }
        return born > remembered + 0.001
    }
}

extension LedgerReader {
    /// The first-seen times the ledger remembers, for `status` to list the inbox in the order the
    /// intake takes it; nothing is recorded.
    public func rememberedArrivals() throws -> [ArrivalKey: Double] {
        try withConnection { try $0.rememberedArrivals() }
    }
}

extension LedgerConnection {
    func rememberedArrivals() throws -> [ArrivalKey: Double] {
        var known: [ArrivalKey: Double] = [:]
        let select = try connection.prepare("SELECT device, inode, arrived FROM inbox_arrival")
        defer { select.reset() }
        while try select.step() {
            known[ArrivalKey(device: UInt64(bitPattern: select.int(0)), inode: UInt64(bitPattern: select.int(1)))] = select.double(2)
        }
        return known
    }
}

extension Ledger {
    /// The arrival of each file of one scan: the one recorded when it was first seen, or else
    /// `observed` (recorded now). Records of files no longer in the inbox are dropped. Writes only
    /// when the inbox changed since the last scan. `born`: the file's creation time, where the file
    /// system keeps one; a file born after the arrival recorded for its inode has that inode anew
    /// (its file was removed, a new upload got it) and arrives now (``ArrivalKey/isStale(_:born:)``).
    public func arrivals(_ files: [(key: ArrivalKey, observed: Double, born: Double?)]) throws -> [ArrivalKey: Double] {
        try withConnection { ledger in
            var known = try ledger.rememberedArrivals()
            let present = Set(files.map(\.key))
            for file in files where ArrivalKey.isStale(known[file.key], born: file.born) { known[file.key] = nil }
            let new = files.filter { known[$0.key] == nil }
            let gone = known.keys.filter { !present.contains($0) }
            guard !new.isEmpty || !gone.isEmpty else { return known }
            try ledger.connection.transaction {
                let insert = try ledger.connection.prepare(
                    "INSERT INTO inbox_arrival (device, inode, arrived) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET arrived = excluded.arrived")
                for file in new {
                    ledger.bind(insert, file.key)
                    insert.bind(3, file.observed)
                    try insert.run()
                    known[file.key] = file.observed
                }
                let delete = try ledger.connection.prepare("DELETE FROM inbox_arrival WHERE device = ?1 AND inode = ?2")
                for key in gone {
                    ledger.bind(delete, key)
                    try delete.run()
                    known[key] = nil
                }
            }
            return known
        }
    }

    /// Forgets the arrival of a file the intake removes from the inbox (a duplicate): its inode is
    /// free, and a new upload that gets it must not inherit the arrival (where the file system
    /// keeps no creation time to tell them apart).
    public func forgetArrival(_ key: ArrivalKey) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("DELETE FROM inbox_arrival WHERE device = ?1 AND inode = ?2")
            ledger.bind(statement, key)
            try statement.run()
        }
    }

    /// Sets the arrival of a file put back into the inbox (an approved held snapshot): its place
    /// in line is the one it had when it first arrived.
    public func setArrival(_ key: ArrivalKey, to arrived: Double) throws {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "INSERT INTO inbox_arrival (device, inode, arrived) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET arrived = excluded.arrived")
            ledger.bind(statement, key)
            statement.bind(3, arrived)
            try statement.run()
        }
    }
}

extension LedgerConnection {
    func bind(_ statement: Statement, _ key: ArrivalKey) {
        statement.bind(1, Int64(bitPattern: key.device))
        statement.bind(2, Int64(bitPattern: key.inode))
    }
}
