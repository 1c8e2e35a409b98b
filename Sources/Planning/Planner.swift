#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import AudienceReading

/// Plans one audience file into the ledger: reads it as a stream and hands the ledger's writer
/// every (segment, member) change once, in ledger key order (identifier type, identifier, segment).
///
/// Why sorted: SQLite writes the membership table sequentially when keys arrive in order,
/// several times faster than in file order (Benchmarks/README.md). A file larger than one chunk is
/// sorted in chunks that are spilled to a temporary file and merged back (an external merge sort),
/// so memory stays flat whatever the file size and the ledger still sees one ordered stream.
public struct Planner: Sendable {
    public var chunkSize: Int
    /// Where chunks are spilled when a file does not fit in one; the state directory in production.
    public var spillDirectory: String
    /// Changes held in memory while merging spilled chunks, shared by all of them (~7 MiB).
    var mergeMemoryRecords = 131_072

    public init(chunkSize: Int = 131_072, spillDirectory: String = Planner.defaultSpillDirectory) {
        self.chunkSize = max(chunkSize, 1)
        self.spillDirectory = spillDirectory
    }

    public static var defaultSpillDirectory: String {
        guard let directory = getenv("TMPDIR"), directory.pointee != 0 else { return "/tmp" }
        return String(cString: directory)
    }

    /// Reads `reader` and sorts its changes into ledger key order, spilling chunks to disk when
    /// the file is larger than one. Nothing is written to the ledger here: the sorted changes are
    /// then written in one transaction (``SortedChanges/write(into:)``), so the ledger's writer is
    /// busy only for the writing. A cancelled task ends the reading with ``PlanningStopped``
    /// (asked every `chunkSize` rows).
    public func sort(_ reader: AudienceFileReader) throws -> SortedChanges {
        var chunk: [MemberChange] = []
        chunk.reserveCapacity(chunkSize)
        var spill: SpillFile?
        let summary = try reader.read { change in
            chunk.append(change)
            if chunk.count == chunkSize {
                try PlanningStopped.checkCancellation()
                Self.sortKeepingLast(&chunk)
                if spill == nil { spill = try SpillFile(directory: spillDirectory) }
                try chunk.withUnsafeBufferPointer { try spill?.append($0) }
                chunk.removeAll(keepingCapacity: true)
            }
        }
        try PlanningStopped.checkCancellation()
        Self.sortKeepingLast(&chunk)
        if let spill, !chunk.isEmpty {
            try chunk.withUnsafeBufferPointer { try spill.append($0) }
            chunk = []
        }
        return SortedChanges(
            summary: summary, segments: reader.segments, source: spill.map { .spilled($0) } ?? .inMemory(chunk),
            mergeMemoryRecords: mergeMemoryRecords)
    }

    /// The ledger's order; for one key, file order.
    @inline(__always)
    static func precedes(_ a: MemberChange, _ b: MemberChange) -> Bool {
        if a.member.type != b.member.type { return a.member.type.rawValue < b.member.type.rawValue }
        if a.member.digest != b.member.digest { return a.member.digest < b.member.digest }
        if a.segment != b.segment { return a.segment < b.segment }
        return a.line < b.line
    }

    @inline(__always)
    static func sameKey(_ a: MemberChange, _ b: MemberChange) -> Bool {
        a.segment == b.segment && a.member == b.member
    }

    /// Sorts by ledger key and keeps, for each (segment, member), only the change from the latest
    /// line: within a file the last row wins. A remove that follows an add of the same member in
    /// the same file only removes what was there before the file (`removesOnlyIfPresent`).
    static func sortKeepingLast(_ chunk: inout [MemberChange]) {
        chunk.sort(by: precedes)
        var write = 0
        var runStart = 0
        for read in chunk.indices {
            let isLastOfRun = read == chunk.count - 1 || !sameKey(chunk[read + 1], chunk[read])
            guard isLastOfRun else { continue }
            chunk[write] = combined(chunk[read], earlier: chunk[runStart..<read])
            write += 1
            runStart = read + 1
        }
        chunk.removeLast(chunk.count - write)
    }

    /// The last change for a key, flagged when an earlier one added the member.
    static func combined(_ last: MemberChange, earlier: some Collection<MemberChange>) -> MemberChange {
        var kept = last
        if kept.action == .remove && earlier.contains(where: { $0.action == .add || $0.removesOnlyIfPresent }) {
            kept.removesOnlyIfPresent = true
        }
        return kept
    }
}
