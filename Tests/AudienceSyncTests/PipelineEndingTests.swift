import Testing
@testable import AudienceDaemon
@testable import AudienceInbox
@testable import AudienceLedger
@testable import AudienceModel
@testable import AudienceSupport
import AudienceDaemon
import AudienceInbox
import AudienceLedger
import AudienceModel
import AudienceSupport

/// How `once` and `run` end, as a table: what the pipeline did and what is left, to the ending
/// the exit code is made from (nil: 0, input rejected 65, retry later 75, configuration 78,
/// a defect 70).
@Suite("pipeline endings: what once and run did, to their exit code")
struct PipelineEndingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var record = PipelineOutcome.Record()
        var left = PipelineLeft(pending: PendingCounts(), parked: [], rechecks: PendingRechecks())
        var stoppedBySignal = false
        var expected: FailureEnding?
        /// What the message must say (nil: no message).
        var says: String?
        var testDescription: String { name }
    }

    static func record(_ change: (inout PipelineOutcome.Record) -> Void) -> PipelineOutcome.Record {
        var record = PipelineOutcome.Record()
        change(&record)
        return record
    }

    static func left(pending: Int = 0, parked: [String] = [], rechecks: Int = 0) -> PipelineLeft {
        var counts = PendingCounts()
        counts.adds = pending
        return PipelineLeft(
            pending: counts,
            parked: parked.map { ParkedSegment(segment: $0, code: 40002, message: "refused", requestID: nil, parkedAt: 0) },
            rechecks: PendingRechecks(members: rechecks, next: rechecks > 0 ? 1_800_000_000 : nil))
    }

    static let cases: [Case] = [
        Case(name: "everything taken and confirmed: done", expected: nil),
        Case(name: "a row rejected: 65, the summary says which", record: record { $0.receipts = [rejectedRow] }, expected: .inputRejected),
        Case(
            name: "a file still waiting (looks cut short): 65", record: record { $0.waiting = [("a.csv", .looksIncomplete("no newline"))] },
            expected: .inputRejected),
        Case(
            name: "a file waiting for free space: 75, free some",
            record: record { $0.waiting = [("a.csv", .needsFreeSpace(bytes: 300))] }, expected: .retryLater, says: "free space"),
        Case(name: "changes still pending: 75", left: left(pending: 3), expected: .retryLater, says: "3 changes are still pending"),
        Case(name: "a segment parked: 75, retry after fixing", left: left(parked: ["123456"]), expected: .retryLater, says: "retry"),
        Case(
            name: "members waiting for the resend after an unsure answer: 75", left: left(rechecks: 2), expected: .retryLater,
            says: "got no sure answer"),
        Case(name: "no token: 78", record: record { $0.senderStop = .noToken }, expected: .configuration, says: "no TikTok access token"),
        Case(
            name: "sending paused (TikTok unreachable): 75", record: record { $0.senderStop = .paused("TikTok did not answer") },
            expected: .retryLater, says: "TikTok did not answer"),
        Case(
            name: "a file that cannot be taken for a permission: 78",
            record: record { $0.failures = [("a.csv", "Permission denied", .configuration)] }, expected: .configuration,
            says: "fix the set-up"),
        Case(
            name: "a file that cannot be taken for a full disk: 75",
            record: record { $0.failures = [("a.csv", "No space left", .retryLater)] }, expected: .retryLater,
            says: "tried again by the next run"),
        Case(
            name: "stopped by a signal with work left: 75", record: record { $0.stopped = true }, left: left(pending: 1),
            expected: .retryLater, says: "stopped by a signal"),
        Case(name: "stopped by a signal before the end: 75", stoppedBySignal: true, expected: .retryLater, says: "stopped by a signal"),
        Case(
            name: "the inbox cannot be listed for a permission: 78",
            record: record { $0.intakeError = InboxError(path: "/srv/inbox", "Permission denied", ending: .configuration) },
            expected: .configuration, says: "cannot take files from the inbox"),
    ]

    static let rejectedRow: Receipt = {
        var receipt = Receipt(file: InboxFile(path: "/i/a.csv", relativePath: "a.csv", partner: nil, size: 1, modified: 0, kind: .regular), outcome: .applied)
        receipt.rowsRejected = 1
        return receipt
    }()

    @Test("once: what it did and what is left, to its ending", arguments: cases)
    func once(_ example: Case) {
        let ending = PipelineEnding.once(example.record, left: example.left, stoppedBySignal: example.stoppedBySignal)
        #expect(ending.ending == example.expected)
        if let says = example.says {
            #expect(ending.message?.contains(says) == true, "\(String(describing: ending.message))")
        } else {
            #expect(ending.message == nil)
        }
    }

    @Test("run: stopped is done; a failed service ends as its error says, a permission is the set-up and not a defect")
    func run() {
        #expect(PipelineEnding.run(groupError: nil) == .done)
        #expect(PipelineEnding.run(groupError: InboxError(path: "/srv/inbox", "Permission denied", ending: .configuration)).ending == .configuration)
        #expect(PipelineEnding.run(groupError: InboxError(path: "/srv/inbox", "No space left")).ending == .retryLater)
        struct Unexpected: Error {}
        #expect(PipelineEnding.run(groupError: Unexpected()).ending == .software)
    }
}
