import Logging
import ServiceLifecycle
import Synchronization
import AudienceLedger
import AudienceModel
import AudienceSupport
import AudienceTikTok

public struct SenderOptions: Sendable {
    /// TikTok's rate for an app of the Basic tier, where every app starts (Airbyte's connector
    /// quotes TikTok's docs: Basic 10, Advanced 20, Premium 30): `tiktok.requests_per_second`.
    public var requestsPerSecond: Double = 10
    /// The most requests in flight at once; below it the number adapts to TikTok's answer times
    /// (``InFlightWindow``).
    public var maxInFlight = 12
    public var maxUsersPerRequest = 10_000
    /// Tries per batch for answers that may succeed later (rate limits, TikTok or gateway errors).
    public var maxAttempts = 6
    public var initialBackoff: Duration = .milliseconds(500)
    public var maxBackoff: Duration = .seconds(30)
    /// Pending rows read from the ledger at a time.
    public var readAhead = 20_000
    /// After a send that got no sure answer (its request may still land at TikTok), how long
    /// before its members are sent their current wish again, so that a late landing cannot stick.
    public var resendUnansweredAfter: Duration = .seconds(120)
    /// How long after its creation an audience's refusals are tried again (with back-off) before
    /// its segment is parked: TikTok may need a minute or two before a new audience takes writes.
    public var newAudienceGrace: Duration = .seconds(300)

    public init() {}
}

/// Sends the pending work (desired ≠ acked) to TikTok and records each confirmation.
/// Rows are marked acknowledged only after TikTok answers code 0 for them.
public struct Sender: Sendable {
    let ledger: Ledger
    let client: TikTokClient
    let options: SenderOptions
    let logger: Logger
    let limiter: RateLimiter
    let window: InFlightWindow
    let ages = AudienceAges()
    let sources: ChangeSources

    /// `limiter` and `window`: shared by every pass of a process, so that what TikTok's rate
    /// limits and answer times taught one pass holds for the next.
    public init(
        ledger: Ledger, client: TikTokClient, options: SenderOptions, limiter: RateLimiter? = nil, window: InFlightWindow? = nil,
        logger: Logger
    ) {
        self.ledger = ledger
        self.client = client
        self.options = options
        self.logger = logger
        self.limiter = limiter ?? RateLimiter(requestsPerSecond: options.requestsPerSecond)
        self.window = window ?? InFlightWindow(ceiling: options.maxInFlight)
        sources = ChangeSources(ledger: ledger.reader)
    }

    /// One pass over everything pending. Returns when every batch was confirmed, given up on, or
    /// sending was paused; what is not confirmed stays pending for the next pass.
    /// Run ``reclaimInFlight(_:options:logger:)`` first.
    /// A graceful shutdown of the service that runs the pass (swift-service-lifecycle's) stops it
    /// the moment it comes: requests in flight finish and record their answers, batches waiting
    /// for a back-off are left as they are, and nothing new is sent.
    public func sendPending() async throws -> SendReport {
        let pause = PauseSignal()
        return try await withGracefulShutdownHandler {
            try await sendPending(pause)
        } onGracefulShutdown: {
            pause.shutDown()
        }
    }

    private func sendPending(_ pause: PauseSignal) async throws -> SendReport {
        try await withThrowingTaskGroup(of: SendReport.self) { group in
            var report = SendReport()
            var running = 0
            var packer = BatchPacker(maxUsers: options.maxUsersPerRequest)
            var cursor: PendingCursor?
            // Each row at most once per pass: what is planned meanwhile waits for the next pass.
            let end = try await ledger.reader.outboxEnd()
            func launch(_ batch: MappingBatch) async throws {
                while running >= window.limit, let done = try await group.next() {
                    report.merge(done)
                    running -= 1
                }
                // The body is built now, and the batch keeps only its rows from here on: what a
                // request in flight holds is its bytes, not the identifiers they were built from.
                let body = client.mappingBody(action: batch.action, type: batch.type, users: batch.users)
                let rows = batch.withoutUsers()
                group.addTask { await deliverRecorded(rows, body: body, pause: pause) }
                running += 1
            }
            reading: while !pause.stopsSending {
                let page = try await ledger.reader.pendingRows(after: cursor, through: end, limit: options.readAhead)
                if !page.dead.isEmpty {
                    // Only tidying: a failure here (a full disk) must not end the pass.
                    do { try await ledger.dropDeadOutboxRows(page.dead) } catch {
                        logger.warning("could not drop settled outbox rows; they are dropped later", metadata: ["error": "\(error)"])
                    }
                }
                for row in page.rows {
                    for batch in packer.add(row, readIn: page.readIn) {
                        try await launch(batch)
                        if pause.stopsSending { break reading }
                    }
                }
                cursor = page.next
                if page.rows.count < options.readAhead { break }
            }
            if !pause.stopsSending {
                for batch in packer.finish() { try await launch(batch) }
            }
            for try await done in group { report.merge(done) }
            report.pause = report.pause ?? pause.pause
            audit(report)
            if report.requests > 0 || report.unanswered > 0 {
                do {
                    try await ledger.recordSendPass(report, now: Int64(clockSeconds()))
                } catch {
                    logger.warning("could not record TikTok's health in the ledger", metadata: ["error": "\(error)"])
                }
            }
            return report
        }
    }

    /// The audit trail: what the pass sent and what TikTok confirmed, in all and per segment, with
    /// fields the journal can filter on (`journalctl SEGMENT=123456`, `PARTNER=acme`).
    private func audit(_ report: SendReport) {
        guard report.requests > 0 || report.unanswered > 0 else { return }
        logger.notice(
            "sent \(report.requests) request(s); TikTok confirmed \(report.confirmed.values.reduce(0) { $0 + $1.adds + $1.removes }) change(s)",
            metadata: [
                "requests": "\(report.requests)", "unanswered": "\(report.unanswered)", "failures": "\(report.failures.count)",
                "segments": "\(report.confirmed.count)",
            ])
        // One line per segment and partner: the partner whose files asked for the changes, so
        // that `journalctl PARTNER=acme` finds exactly acme's.
        for source in report.confirmedBySource.keys.sorted() {
            guard let counts = report.confirmedBySource[source] else { continue }
            var metadata: Logger.Metadata = [
                "segment": "\(source.segment)", "adds": "\(counts.adds)", "removes": "\(counts.removes)",
            ]
            if let partner = source.partner { metadata["partner"] = "\(partner)" }
            logger.info("TikTok confirmed +\(counts.adds) -\(counts.removes) for segment \(source.segment)", metadata: metadata)
        }
    }

    /// Turns sends that did not finish (this process's earlier passes, or a process that died)
    /// into unknown members, and makes due rechecks; see ``Ledger/reclaimInFlight(now:grace:)``.
    /// Callers run it once before each ``sendPending()``, while no send of this
    /// process runs, and before asking whether anything is pending (a due recheck is).
    public static func reclaimInFlight(_ ledger: Ledger, options: SenderOptions, logger: Logger) async throws {
        let grace = options.resendUnansweredAfter.components.seconds
        let reclaim = try await ledger.reclaimInFlight(now: clockSeconds(), grace: grace)
        if reclaim.interrupted > 0 {
            logger.notice(
                "\(reclaim.interrupted) change(s) were being sent when the last run stopped; TikTok may or may not have applied them, so they are sent again, and once more after \(grace) s in case the old request lands late")
        }
        if reclaim.rechecked > 0 {
            logger.notice("\(reclaim.rechecked) change(s) whose request got no sure answer are sent again, so that a late landing cannot stick")
        }
    }

    /// How long to wait before trying a refused batch again because its segment's audience is new
    /// (created less than ``SenderOptions/newAudienceGrace`` ago), and its age; nil when it is not
    /// new (or TikTok does not say when it was created): then the segment is parked.
    func newAudienceWait(_ segment: String, tries: inout Int) async -> (delay: Duration, age: Int)? {
        guard let created = await ages.createdAt(segment, client: client) else { return nil }
        let now = clockSeconds()
        let age = now - Double(created)
        let left = Double(options.newAudienceGrace.components.seconds) - age
        guard age >= -60, left > 0 else { return nil }
        tries += 1
        let delay = min(backoff(attempt: tries, pace: .normal), .milliseconds(Int64(left * 1000) + 1))
        return (delay, Int(age.rounded()))
    }

    func backoff(attempt: Int, pace: AnswerHandling.RetryPace) -> Duration {
        let base = pace == .long ? options.initialBackoff * 8 : options.initialBackoff
        let cap = pace == .long ? options.maxBackoff * 4 : options.maxBackoff
        let exponential = base * (1 << min(attempt - 1, 16))
        let ceiling = min(exponential, cap)
        // Full jitter: concurrent senders do not retry in step.
        return ceiling * Double.random(in: 0.5...1.0)
    }
}
