import AudienceModel
import AudienceReading

/// Where the planner delivers a file's changes: the ledger's writer, or a read-only preview.
public protocol ChangeSink {
    /// `batch` holds each (segment, member) of the file at most once, in ledger key order;
    /// `segment` in a change indexes `segments`.
    mutating func apply(_ batch: UnsafeBufferPointer<MemberChange>, segments: [SegmentID], isDelta: Bool) throws
}
