import AudienceModel
import AudienceReading

/// A file's changes, read and sorted by the ``Planner``: each (segment, member) once, ready to be
/// written in ledger key order. Made on the intake's thread, written on the ledger's.
public final class SortedChanges: Sendable {
    enum Source {
        case inMemory([MemberChange])
        case spilled(SpillFile)
    }

    /// What reading the file found.
    public let summary: ReadSummary
    /// The segments the changes name, by their `segment` number.
    public let segments: [SegmentID]
    private let source: Source
    private let mergeMemoryRecords: Int

    init(summary: ReadSummary, segments: [SegmentID], source: Source, mergeMemoryRecords: Int) {
        self.summary = summary
        self.segments = segments
        self.source = source
        self.mergeMemoryRecords = mergeMemoryRecords
    }

    public var isDelta: Bool { summary.isDelta }

    /// Hands every change to `sink` in ledger key order, a block at a time; ends with
    /// ``PlanningStopped`` between blocks once the task that writes is cancelled.
    public func write<Sink: ChangeSink>(into sink: inout Sink) throws {
        switch source {
        case .inMemory(let changes):
            try PlanningStopped.checkCancellation()
            try changes.withUnsafeBufferPointer { try sink.apply($0, segments: segments, isDelta: isDelta) }
        case .spilled(let spill):
            let merger = try RunMerger(spill, memoryRecords: mergeMemoryRecords)
            try merger.merge { block in
                try PlanningStopped.checkCancellation()
                try sink.apply(block, segments: segments, isDelta: isDelta)
            }
        }
    }
}

/// Planning gave up because the process is stopping; the file stays in the inbox.
public struct PlanningStopped: OperatorError {
    /// Throws when the task that plans is cancelled (a shutdown: it must not wait for a large
    /// file). Giving up is safe: nothing is committed, and the file stays in the inbox.
    public static func checkCancellation() throws(PlanningStopped) {
        if Task.isCancelled { throw PlanningStopped() }
    }

    public var ending: FailureEnding { .retryLater }
    public var description: String { "planning stopped for a shutdown; the file stays in the inbox and is planned again by the next run" }
}
