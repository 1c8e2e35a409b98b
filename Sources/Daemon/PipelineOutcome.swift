import Synchronization
import AudienceInbox
import AudienceModel

/// How the pipeline ends: `run` keeps going until it is stopped; `once` ends when every ready
/// file is taken and nothing more can be sent now. Both run the same intake and sender.
public enum PipelineFinish: Sendable, Equatable {
    case whenStopped
    case whenDrained
}

/// Why the sender ended a `once` without sending everything.
public enum SenderStop: Sendable, Equatable {
    /// No access token is configured: the changes wait in the ledger.
    case noToken
    /// The token source is configured but cannot be read.
    case tokenUnreadable(String)
    /// Sending stopped for everything (token refused, TikTok unreachable…), with the reason.
    case paused(String)
    /// TikTok refused some batches; the rest was sent.
    case refusedBatches(Int)
}

/// What the intake and the sender did, written by both as they go and read when the pipeline
/// ends: `once` turns it into its summary and exit code. The daemon, which runs for months and
/// never reads it, keeps none of what piles up (receipts, refused batches): only the last look.
public final class PipelineOutcome: Sendable {
    public struct Record: Sendable {
        /// Every file taken (applied, duplicate, rejected, held), in order (`once` only).
        public var receipts: [Receipt] = []
        /// Files left in the inbox by the intake's last look, with the reason.
        public var waiting: [(file: String, reason: WaitReason)] = []
        /// Files that could not be taken for a reason of this machine, by the last look.
        public var failures: [(file: String, error: String, ending: FailureEnding)] = []
        /// A look at the inbox that failed as a whole (the inbox cannot be listed, the ledger…).
        public var intakeError: (any Error)?
        public var intakeDone = false
        /// Every sending pass, added up (`once` only).
        public var sent = SendReport()
        public var senderStop: SenderStop?
        /// A sending pass that failed as a whole (the ledger…).
        public var senderError: (any Error)?
        /// The pipeline was asked to stop (SIGTERM, SIGINT).
        public var stopped = false

        public var rejectedFiles: Int { receipts.filter { $0.outcome != .applied && $0.outcome != .duplicate }.count }
        public var rejectedRows: Int { receipts.reduce(0) { $0 + $1.rowsRejected } }
    }

    private let state = Mutex(Record())
    /// Whether receipts and sending reports are added up: for a pipeline that ends.
    private let addsUp: Bool

    /// For a pipeline that ends as `finish` says: only one that ends when drained adds up what it did.
    public init(_ finish: PipelineFinish) {
        addsUp = finish == .whenDrained
    }

    public var record: Record { state.withLock { $0 } }

    var intakeDone: Bool { state.withLock { $0.intakeDone } }

    func intake(_ pass: IntakePass) {
        state.withLock { record in
            if addsUp { record.receipts += pass.receipts }
            record.waiting = pass.waiting
            record.failures = pass.failures
            record.intakeError = nil
        }
    }

    func intakeFailed(_ error: any Error) { state.withLock { $0.intakeError = error } }
    func intakeFinished() { state.withLock { $0.intakeDone = true } }
    func sent(_ report: SendReport) {
        guard addsUp else { return }
        state.withLock { $0.sent.merge(report) }
    }
    func senderEnded(_ stop: SenderStop?, error: (any Error)? = nil) {
        state.withLock { record in
            record.senderStop = stop
            record.senderError = error
        }
    }
    func stop() { state.withLock { $0.stopped = true } }
}
