import Logging
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
    private let limiter: RateLimiter
    private let window: InFlightWindow
    private let ages = AudienceAges()
    private let sources: ChangeSources

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
    /// `shouldStop` is asked before each new request: once it says yes, requests in flight finish
    /// and record their answers, and nothing new is sent.
    public func sendPending(shouldStop: @escaping @Sendable () -> Bool = { false }) async throws -> SendReport {
        let pause = PauseSignal(shouldStop: shouldStop)
        return try await withThrowingTaskGroup(of: SendReport.self) { group in
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
    /// Callers run it once before each ``sendPending(shouldStop:)``, while no send of this
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

    /// Where the send of one recorded batch (and the parts it may be split into) has got to.
    private struct Delivery {
        let ticket: InFlightTicket
        /// Outbox numbers of the rows whose confirmation is recorded.
        var confirmed: Set<Int64> = []
        /// Some try got no sure answer: its request may still be applied later.
        var mayLandLate = false
        /// The record went with the confirmation of the whole batch.
        var closed = false
        /// The last try and TikTok's answer to it: what `lookup` shows as the last request that
        /// carried the batch's unconfirmed members.
        var lastRequest: SentRequest?
    }

    /// Records the batch as possibly at TikTok, sends it, then settles the record: members
    /// without a confirmation become unknown, and a batch with a try that got no sure answer
    /// is rechecked after ``SenderOptions/resendUnansweredAfter``.
    private func deliverRecorded(_ read: MappingBatch, body built: TikTokClient.MappingBody, pause: PauseSignal) async -> SendReport {
        if pause.stopsSending || Task.isCancelled { return SendReport() }
        let ticket: InFlightTicket
        var batch = read
        var body = built
        do {
            // Only rows still wished as they were read leave; a newer wish waits for the next pass.
            guard let recorded = try await ledger.recordInFlight(read.rows, readIn: read.readIn, type: read.type, now: Int64(clockSeconds())) else {
                return SendReport()
            }
            ticket = recorded
            if recorded.rows.count != read.rows.count {
                let kept = read.keeping(recorded.rows)
                body = client.mappingBody(action: kept.action, type: kept.type, users: kept.users)
                batch = kept.withoutUsers()
            }
            KillPoint.afterInFlightRecorded.pass()
        } catch {
            logger.error("could not record a batch before sending it; it is not sent and stays pending",
                         metadata: batchMetadata(read).merging(["error": "\(error)"]) { $1 })
            var report = SendReport()
            report.failures.append(failure(read, nil, reason: "the ledger could not record the batch before sending: \(error)"))
            return report
        }
        var delivery = Delivery(ticket: ticket)
        let report = await deliver(batch, body: body, pause: pause, delivery: &delivery)
        if delivery.closed { return report }
        let unconfirmed = batch.rows.filter { !delivery.confirmed.contains($0.seq) }
        // Whole seconds, rounded up: the resend never comes sooner than the grace after the send.
        let recheckAt = delivery.mayLandLate
            ? Int64(clockSeconds().rounded(.up)) + options.resendUnansweredAfter.components.seconds : nil
        do {
            try await ledger.endInFlight(
                ticket, unconfirmed: unconfirmed, type: batch.type, recheckAt: recheckAt, request: delivery.lastRequest)
        } catch {
            logger.error("could not record how a send ended; its members count as unknown from the next pass on",
                         metadata: batchMetadata(batch).merging(["error": "\(error)"]) { $1 })
        }
        return report
    }

    /// Sends one batch (its rows, and the body built from them for every try) until it is
    /// confirmed or there is no point in going on.
    private func deliver(
        _ batch: MappingBatch, body: TikTokClient.MappingBody, pause: PauseSignal, delivery: inout Delivery
    ) async -> SendReport {
        var report = SendReport()
        var attempt = 0
        var youngTries = 0
        var transportError: String?
        while true {
            if pause.stopsSending || Task.isCancelled { return report }
            let slot = await limiter.reserve()
            guard await sleep(slot - ContinuousClock.now, unless: pause) else { return report }
            let handling: AnswerHandling
            let answer: TikTokAnswer?
            let started = ContinuousClock.now
            let sentAt = Int64(clockSeconds())
            do {
                answer = try await client.mapping(body)
                KillPoint.afterAnswer.pass()
                handling = answer?.handling ?? .retry(.normal)
                SendingMetrics.answered(answer, after: ContinuousClock.now - started)
                if answer?.mayHaveBeenApplied == true { delivery.mayLandLate = true }
                switch handling {
                case .success, .successWithNote:
                    let elapsed = ContinuousClock.now - started
                    window.confirmed(
                        after: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                        pace: await limiter.pace)
                case .retry(.rateLimited), .retry(.long):
                    window.overloaded()
                case .retry(.normal) where answer?.mayHaveBeenApplied == true:
                    window.overloaded()  // a gateway page or a TikTok system error
                default:
                    break
                }
            } catch let error as TikTokTransportError {
                answer = nil
                handling = .retry(.normal)
                delivery.mayLandLate = true
                window.overloaded()
                SendingMetrics.answered(nil, after: ContinuousClock.now - started)
                transportError = error.detail
                logger.warning("no answer from TikTok", metadata: batchMetadata(batch).merging(
                    ["error": "\(error.detail)", "reason": "\(error.kind.rawValue)"]) { $1 })
            } catch {
                // Cancelled mid-request (a stop): it may have reached TikTok all the same, and its
                // members are unknown until a later answer says otherwise.
                delivery.mayLandLate = true
                logger.notice("a request was cut short; its changes are sent again",
                              metadata: batchMetadata(batch).merging(["error": "\(error)"]) { $1 })
                return report
            }
            if answer != nil {
                report.requests += 1
                pause.noteAnswer()
            } else {
                report.unanswered += 1
            }
            delivery.lastRequest = SentRequest(
                sentAt: sentAt, action: batch.action, type: batch.type, users: batch.userCount,
                code: answer?.envelope?.code, httpStatus: answer?.httpStatus,
                message: answer.map { $0.envelope?.message ?? $0.bodySnippet } ?? transportError, requestID: answer?.envelope?.requestID)
            switch handling {
            case .success, .successWithNote:
                if case .successWithNote(let note) = handling {
                    logger.notice("\(note)", metadata: batchMetadata(batch, answer))
                }
                await limiter.succeeded()
                // A batch is one action: its rows counted per segment.
                let rowsBySegment = Dictionary(grouping: batch.rows, by: \.audienceID).mapValues(\.count)
                for (segment, rows) in rowsBySegment {
                    report.confirmed[segment, default: ActionCounts()].count(batch.action, rows)
                    SendingMetrics.confirmed(segment: segment, action: batch.action == .add ? "add" : "remove", count: rows)
                }
                for (source, rows) in await sources.count(batch.rows) {
                    report.confirmedBySource[source, default: ActionCounts()].count(batch.action, rows)
                }
                // The whole batch in one sure answer: its in-flight record goes in the same transaction.
                let closing = !delivery.mayLandLate && delivery.confirmed.isEmpty && batch.rows.count == delivery.ticket.rows.count
                    ? delivery.ticket : nil
                do {
                    report.acknowledged += try await ledger.markAcknowledged(
                        batch.rows, closing: closing, request: delivery.lastRequest)
                    KillPoint.afterConfirmation.pass()
                    delivery.confirmed.formUnion(batch.rows.map(\.seq))
                    delivery.closed = closing != nil
                } catch {
                    logger.error("could not record TikTok's confirmation; the rows will be sent again",
                                 metadata: ["error": "\(error)"])
                }
                return report
            case .retry(let pace):
                attempt += 1
                let delay = backoff(attempt: attempt, pace: pace)
                if pace == .rateLimited { await limiter.rateLimited(pause: delay) }
                if attempt >= options.maxAttempts, !pause.anyAnswer, let transportError {
                    // Nothing has answered in this whole pass: every other batch would wait through
                    // the same tries. Stop the pass; the rows stay pending for the next one. (One
                    // batch that never gets through while others do is an ordinary failure.)
                    let stop = SendPause(
                        kind: .unreachable,
                        message: "TikTok did not answer after \(attempt) tries (\(transportError)); sending paused with everything pending. Check network access and tiktok.base_url")
                    pause.set(stop)
                    report.failures.append(failure(batch, nil, reason: stop.message))
                    logger.critical("sending paused: \(stop.message)", metadata: batchMetadata(batch))
                    return report
                }
                if attempt >= options.maxAttempts {
                    report.failures.append(failure(batch, answer, reason: "still failing after \(attempt) tries"))
                    logger.error("TikTok kept failing; rows stay pending for the next pass",
                                 metadata: batchMetadata(batch, answer).merging(["tries": "\(attempt)"]) { $1 })
                    return report
                }
                logger.info("retrying", metadata: batchMetadata(batch, answer).merging(
                    ["try": "\(attempt)", "wait_ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"]) { $1 })
                // A stop does not wait for the backoff: the batch is left as it is (its members
                // are unknown until a later answer, as after any try without one).
                guard await sleep(delay, unless: pause) else { return report }
            case .split:
                guard batch.userCount > 1 else {
                    report.failures.append(failure(batch, answer, reason: "TikTok refused even a single identifier as too large"))
                    return report
                }
                logger.notice("TikTok found the batch too large; splitting it", metadata: batchMetadata(batch, answer))
                let (first, second) = batch.halves()
                report.merge(await deliver(part: first, pause: pause, delivery: &delivery))
                report.merge(await deliver(part: second, pause: pause, delivery: &delivery))
                return report
            case .tokenRefused, .configurationRefused, .serviceRefused, .bodyRejected:
                let stop = pauseFor(handling, answer)
                pause.set(stop)
                report.failures.append(failure(batch, answer, reason: stop.message))
                logger.critical("sending paused: \(stop.message)", metadata: batchMetadata(batch, answer))
                return report
            case .permanentForBatch:
                let segments = batch.segments
                if segments.count > 1 {
                    // Find the segment TikTok refuses, so that every other segment goes on.
                    logger.notice("TikTok refused a batch spanning \(segments.count) segments; narrowing it down",
                                  metadata: batchMetadata(batch, answer))
                    let (first, second) = batch.splitBySegments()
                    report.merge(await deliver(part: first, pause: pause, delivery: &delivery))
                    report.merge(await deliver(part: second, pause: pause, delivery: &delivery))
                    return report
                }
                let segment = segments.first ?? ""
                if let wait = await newAudienceWait(segment, tries: &youngTries) {
                    logger.notice(
                        "TikTok refused segment \(segment), an audience created \(wait.age) s ago; a new audience may take a minute or two to take members, so the batch is tried again before the segment is parked",
                        metadata: batchMetadata(batch, answer).merging(["wait_ms": "\(wait.delay.components.seconds * 1000 + wait.delay.components.attoseconds / 1_000_000_000_000_000)"]) { $1 })
                    guard await sleep(wait.delay, unless: pause) else { return report }
                    continue
                }
                let refused = failure(batch, answer, reason: "TikTok refused the segment")
                do {
                    try await ledger.park(
                        segment: segments.first ?? "", code: refused.code, message: refused.message,
                        requestID: refused.requestID, now: Int64(clockSeconds()))
                } catch {
                    logger.error("could not park the refused segment", metadata: ["error": "\(error)"])
                }
                report.failures.append(refused)
                logger.error(
                    "TikTok refused segment \(segments.first ?? "?"); its changes are parked until `tiktok-audience-sync retry`",
                    metadata: batchMetadata(batch, answer))
                return report
            }
        }
    }

    /// Sends a part of a batch (half of it, or some of its segments) with a body of its own.
    private func deliver(part: MappingBatch, pause: PauseSignal, delivery: inout Delivery) async -> SendReport {
        let body = client.mappingBody(action: part.action, type: part.type, users: part.users)
        return await deliver(part.withoutUsers(), body: body, pause: pause, delivery: &delivery)
    }

    /// How long to wait before trying a refused batch again because its segment's audience is new
    /// (created less than ``SenderOptions/newAudienceGrace`` ago), and its age; nil when it is not
    /// new (or TikTok does not say when it was created): then the segment is parked.
    private func newAudienceWait(_ segment: String, tries: inout Int) async -> (delay: Duration, age: Int)? {
        guard let created = await ages.createdAt(segment, client: client) else { return nil }
        let now = clockSeconds()
        let age = now - Double(created)
        let left = Double(options.newAudienceGrace.components.seconds) - age
        guard age >= -60, left > 0 else { return nil }
        tries += 1
        let delay = min(backoff(attempt: tries, pace: .normal), .milliseconds(Int64(left * 1000) + 1))
        return (delay, Int(age.rounded()))
    }

    private func backoff(attempt: Int, pace: AnswerHandling.RetryPace) -> Duration {
        let base = pace == .long ? options.initialBackoff * 8 : options.initialBackoff
        let cap = pace == .long ? options.maxBackoff * 4 : options.maxBackoff
        let exponential = base * (1 << min(attempt - 1, 16))
        let ceiling = min(exponential, cap)
        // Full jitter: concurrent senders do not retry in step.
        return ceiling * Double.random(in: 0.5...1.0)
    }

    /// Sleeps for `delay`, or less if sending is stopped meanwhile; false when it was.
    private func sleep(_ delay: Duration, unless pause: PauseSignal) async -> Bool {
        let clock = ContinuousClock()
        let end = clock.now + delay
        while clock.now < end {
            if pause.stopsSending { return false }
            do { try await Task.sleep(for: min(.milliseconds(100), end - clock.now)) } catch { return false }
        }
        return !pause.stopsSending
    }
}
