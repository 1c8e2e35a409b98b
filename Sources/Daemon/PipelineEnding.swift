import AudienceLedger
import AudienceModel
import AudienceSupport

/// What the ledger still holds when the pipeline ends.
public struct PipelineLeft: Sendable {
    public var pending: PendingCounts
    public var parked: [ParkedSegment]
    public var rechecks: PendingRechecks

    public init(pending: PendingCounts, parked: [ParkedSegment], rechecks: PendingRechecks) {
        self.pending = pending
        self.parked = parked
        self.rechecks = rechecks
    }
}

/// How the pipeline ended, for the exit code and what to tell the operator: the one place where
/// what `once` did, or why `run` stopped, becomes an ending. The executable turns ``ending`` into
/// the exit code (sysexits: nil 0, input rejected 65, retry later 75, configuration 78, a defect 70).
public struct PipelineEnding: Sendable, Equatable {
    /// Nil: all done.
    public var ending: FailureEnding?
    /// What to say on stderr; nil when the summary says it all.
    public var message: String?

    public init(_ ending: FailureEnding?, _ message: String? = nil) {
        self.ending = ending
        self.message = message
    }

    public static let done = PipelineEnding(nil)

    /// `once`: from what it did and what is left. A stop by a signal explains a pipeline that
    /// ended early; a service that failed, as its error says.
    public static func once(
        _ record: PipelineOutcome.Record, left: PipelineLeft, stoppedBySignal: Bool = false, groupError: (any Error)? = nil
    ) -> PipelineEnding {
        let ending = of(record, left: left)
        guard ending.ending == nil || ending.ending == .inputRejected else { return ending }
        if stoppedBySignal { return PipelineEnding(.retryLater, "stopped by a signal; what is left is picked up by the next run") }
        if let groupError { return PipelineEnding(FailureEnding(of: groupError), "stopped: \(groupError)") }
        return ending
    }

    /// `run`: a daemon ends by being stopped (all done), or because a service failed, as its
    /// error says (a permission is the set-up, 78, not a defect).
    public static func run(groupError: (any Error)?) -> PipelineEnding {
        guard let groupError else { return .done }
        return PipelineEnding(FailureEnding(of: groupError), "stopped: \(groupError)")
    }

    static func of(_ record: PipelineOutcome.Record, left: PipelineLeft) -> PipelineEnding {
        if let error = record.intakeError {
            return PipelineEnding(FailureEnding(of: error), "cannot take files from the inbox: \(error)")
        }
        if let error = record.senderError {
            return PipelineEnding(FailureEnding(of: error), "sending failed: \(error)")
        }
        switch record.senderStop {
        case .noToken:
            return PipelineEnding(
                .configuration,
                "no TikTok access token: set TIKTOK_ACCESS_TOKEN, the systemd credential tiktok-access-token, or tiktok.access_token_file; the files are planned and their changes wait in the ledger")
        case .tokenUnreadable(let reason):
            return PipelineEnding(.configuration, reason)
        case .paused(let reason):
            return PipelineEnding(.retryLater, reason)
        case .refusedBatches, nil:
            break
        }
        if record.stopped, left.pending.total > 0 || !record.waiting.isEmpty {
            return PipelineEnding(.retryLater, "stopped by a signal with work left; it is picked up by the next run")
        }
        if !left.parked.isEmpty {
            return PipelineEnding(
                .retryLater,
                "TikTok refused segment(s) \(left.parked.map(\.segment).joined(separator: ", ")); their changes are parked. Fix the cause, then run `tiktok-audience-sync retry`")
        }
        if left.pending.total > 0 {
            return PipelineEnding(.retryLater, "\(left.pending.total) changes are still pending; run again, or see `tiktok-audience-sync status`")
        }
        if left.rechecks.members > 0 {
            let when = left.rechecks.next.map { ISO8601Time.string(Int($0)) } ?? "the next run"
            return PipelineEnding(
                .retryLater,
                "\(left.rechecks.members) change(s) got no sure answer from TikTok and are sent again from \(when) (tiktok.resend_unanswered_after_seconds), in case the old request lands late; run once again after that")
        }
        if let setUp = record.failures.first(where: { $0.ending == .configuration }) {
            return PipelineEnding(
                .configuration,
                "\(record.failures.count) file(s) could not be taken and stay in the inbox (\(setUp.error)); fix the set-up (permissions of the state directory), then run again")
        }
        if !record.failures.isEmpty {
            return PipelineEnding(
                .retryLater,
                "\(record.failures.count) file(s) could not be taken and stay in the inbox (\(record.failures[0].error)); they are tried again by the next run")
        }
        if record.waiting.contains(where: { if case .needsFreeSpace = $0.reason { true } else { false } }) {
            return PipelineEnding(.retryLater, "a file waits for free space in the state directory; free some and run again")
        }
        if record.rejectedFiles > 0 || record.rejectedRows > 0 || !record.waiting.isEmpty {
            return PipelineEnding(.inputRejected)
        }
        return .done
    }

    public static func == (lhs: PipelineEnding, rhs: PipelineEnding) -> Bool {
        lhs.ending == rhs.ending && lhs.message == rhs.message
    }
}
