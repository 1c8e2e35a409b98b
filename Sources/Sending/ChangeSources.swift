import Synchronization
import AudienceLedger
import AudienceModel

/// Which partner's file asked for each confirmed change: a pending row carries the generation of
/// the file that last changed its wish, and the file's name starts with its partner's folder.
/// Looked up once per generation and pass, so an audit line names the partner whose file caused
/// the change, not every partner configured for the segment.
final class ChangeSources: Sendable {
    private let ledger: LedgerReader
    /// Generation → partner folder (nil inside: the inbox's top level, or a file not remembered).
    private let partners = Mutex<[Int64: String?]>([:])

    init(ledger: LedgerReader) {
        self.ledger = ledger
    }

    /// `rows` counted by segment and partner.
    func count(_ rows: [PendingRow]) async -> [ChangeSource: Int] {
        let unknown = Set(rows.map(\.generation)).filter { generation in partners.withLock { $0[generation] == nil } }
        if !unknown.isEmpty {
            let names = (try? await ledger.fileNames(generations: Array(unknown))) ?? [:]
            partners.withLock { known in
                for generation in unknown { known[generation] = .some(names[generation].flatMap(Self.partner(ofFile:))) }
            }
        }
        let known = partners.withLock { $0 }
        var counts: [ChangeSource: Int] = [:]
        for row in rows {
            counts[ChangeSource(segment: row.audienceID, partner: known[row.generation] ?? nil), default: 0] += 1
        }
        return counts
    }

    /// `acme/2026-11-21.csv` → acme; a file at the inbox's top level has none.
    static func partner(ofFile name: String) -> String? {
        let parts = name.split(separator: "/", maxSplits: 1)
        return parts.count == 2 ? String(parts[0]) : nil
    }
}
