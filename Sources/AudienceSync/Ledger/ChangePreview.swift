/// Works out what a file would change, reading the ledger only: `plan` writes nothing, not even to
/// the write-ahead log. It answers what ``ChangeWriter`` would count, row for row.
public struct ChangePreview: ChangeSink {
    private let ledger: LedgerConnection
    private let lookup: Statement
    private struct Slot {
        var segment: SegmentID
        var row: Int64?
        var change = SegmentChange()
        var keptMembers = 0
    }
    private var slots: [Slot?] = []

    init(ledger: LedgerConnection) throws {
        self.ledger = ledger
        lookup = try ledger.connection.prepare(
            "SELECT desired FROM membership WHERE id_type = ?1 AND identifier = ?2 AND segment = ?3")
    }

    /// The member's desired state before the file: nil when the ledger has no row for it.
    private func desired(_ change: MemberChange, segmentRow: Int64?) throws -> Int64? {
        guard let segmentRow else { return nil }
        defer { lookup.reset() }
        lookup.bind(1, Int64(change.member.type.rawValue))
        lookup.bind(2, change.member.digest)
        lookup.bind(3, segmentRow)
        return try lookup.step() ? lookup.int(0) : nil
    }

    public mutating func apply(_ batch: UnsafeBufferPointer<MemberChange>, segments: [SegmentID], isDelta: Bool) throws {
        for change in batch {
            let index = Int(change.segment)
            if index >= slots.count { slots.append(contentsOf: repeatElement(nil, count: index + 1 - slots.count)) }
            if slots[index] == nil {
                slots[index] = Slot(segment: segments[index], row: ledger.knownSegmentRow(for: segments[index]))
            }
            let before = try desired(change, segmentRow: slots[index]?.row)
            switch (isDelta, change.action) {
            case (false, _):
                if before == 1 { slots[index]?.keptMembers += 1 } else { slots[index]?.change.adds += 1 }
            case (true, .add):
                if before != 1 { slots[index]?.change.adds += 1 }
            case (true, .remove):
                // A remove of a member never seen is still sent; one that only undoes an add of the
                // same file removes nothing that was not there.
                if before == 1 || (before == nil && !change.removesOnlyIfPresent) { slots[index]?.change.removes += 1 }
            }
        }
    }

    /// Per segment, what the file would change; a snapshot also removes the members it left out.
    func changes(isDelta: Bool) throws -> [String: SegmentChange] {
        var members: [Int64: Int] = [:]
        let rows = slots.compactMap { $0?.row }
        if !isDelta && !rows.isEmpty {
            let census = try ledger.connection.prepare(
                "SELECT segment FROM membership WHERE desired = 1 AND segment IN (\(rows.map(String.init).joined(separator: ",")))")
            defer { census.reset() }
            while try census.step() { members[census.int(0), default: 0] += 1 }
        }
        var result: [String: SegmentChange] = [:]
        for case let slot? in slots {
            var change = slot.change
            if !isDelta, let row = slot.row { change.removes += (members[row] ?? 0) - slot.keptMembers }
            if change.adds + change.removes > 0 { result[slot.segment.rawValue] = change }
        }
        return result
    }
}
