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
    /// when the inbox changed since the last scan.
    public func arrivals(_ files: [(key: ArrivalKey, observed: Double)]) throws -> [ArrivalKey: Double] {
        try withConnection { ledger in
            var known = try ledger.rememberedArrivals()
            let present = Set(files.map(\.key))
            let new = files.filter { known[$0.key] == nil }
            let gone = known.keys.filter { !present.contains($0) }
            guard !new.isEmpty || !gone.isEmpty else { return known }
            try ledger.connection.transaction {
                let insert = try ledger.connection.prepare(
                    "INSERT INTO inbox_arrival (device, inode, arrived) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")
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
