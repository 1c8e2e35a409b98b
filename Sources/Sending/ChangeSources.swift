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
        // By segment row and generation first: a batch holds few of each, and integers hash
        // cheaply, where a key of two strings was hashed for every row.
        var byFileAndSegment: [FileAndSegment: (audienceID: String, rows: Int)] = [:]
        for row in rows {
            byFileAndSegment[FileAndSegment(generation: row.generation, segmentRow: row.segmentRow), default: (row.audienceID, 0)].rows += 1
        }
        let unknown = Set(byFileAndSegment.keys.map(\.generation)).filter { generation in partners.withLock { $0[generation] == nil } }
        if !unknown.isEmpty {
            let names = (try? await ledger.fileNames(generations: Array(unknown))) ?? [:]
            partners.withLock { known in
                for generation in unknown { known[generation] = .some(names[generation].flatMap(Self.partner(ofFile:))) }
            }
        }
        let known = partners.withLock { $0 }
        var counts: [ChangeSource: Int] = [:]
        for (key, entry) in byFileAndSegment {
            counts[ChangeSource(segment: entry.audienceID, partner: known[key.generation] ?? nil), default: 0] += entry.rows
        }
        return counts
    }

    private struct FileAndSegment: Hashable {
        var generation: Int64
        var segmentRow: Int64
    }

    /// `acme/2026-11-21.csv` → acme; a file at the inbox's top level has none.
    static func partner(ofFile name: String) -> String? {
        let parts = name.split(separator: "/", maxSplits: 1)
        return parts.count == 2 ? String(parts[0]) : nil
    }
}
