import AudienceModel

/// Per segment a file names (by its number in the reader's list): the segment's ledger row and
/// what the file does to it. Kept by the writer and by the read-only preview alike.
struct SegmentTally {
    struct Entry {
        var segment: SegmentID
        /// Nil in a preview for a segment the ledger does not know yet.
        var row: Int64?
        var change = SegmentChange()
        /// Snapshot rows naming a member the segment already had.
        var keptMembers = 0
        /// Whether the segment has had a snapshot, once the writer has asked the ledger.
        var swept: Bool?
    }

    var entries: [Entry?] = []

    /// The ledger row of segment number `index`, asked of `row` on first sight.
    mutating func row(_ index: Int, _ segments: [SegmentID], lookUp row: (SegmentID) throws -> Int64?) rethrows -> Int64? {
        if index < entries.count, let entry = entries[index] { return entry.row }
        if index >= entries.count { entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count)) }
        let found = try row(segments[index])
        entries[index] = Entry(segment: segments[index], row: found)
        return found
    }

    /// The named segments' ledger rows as an SQL list (integers the ledger chose, safe to inline).
    var rowList: String { entries.compactMap { $0?.row }.map(String.init).joined(separator: ",") }

    /// Per segment, what changed, with `extraRemoves` (a snapshot's left-out members) added.
    func changes(extraRemoves: (Entry) -> Int) -> [String: SegmentChange] {
        var result: [String: SegmentChange] = [:]
        for case let entry? in entries {
            var change = entry.change
            change.removes += extraRemoves(entry)
            if change.adds + change.removes > 0 { result[entry.segment.rawValue] = change }
        }
        return result
    }
}

extension LedgerConnection {
    /// Steps `statement` to its end and counts its rows by `key`: cheaper than SQL's GROUP BY over
    /// a column without an index, which sorts every row first.
    func count<Key: Hashable>(_ statement: Statement, by key: (Statement) -> Key) throws -> [Key: Int] {
        defer { statement.reset() }
        var counts: [Key: Int] = [:]
        while try statement.step() { counts[key(statement), default: 0] += 1 }
        return counts
    }
}
