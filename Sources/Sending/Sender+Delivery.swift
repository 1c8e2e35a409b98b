import Logging
import AudienceLedger
import AudienceModel
import AudienceSupport
import AudienceTikTok

// The send of one batch: recorded as possibly at TikTok first, tried until TikTok confirms it or
// there is no point in going on, then settled in the ledger.
extension Sender {
    /// Where the send of one recorded batch (and the parts it may be split into) has got to.
    struct Delivery {
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
        var report = SendReport()
    }

    /// One request and what came of it.
    private struct Try {
        let answer: TikTokAnswer?
        let handling: AnswerHandling
        /// Why no answer came (a timeout, a refused connection); nil when one did.
        let transportError: String?
    }

    /// How many times a batch was tried, for its back-off and for giving up.
    private struct Attempts {
        var failed = 0
        /// Tries refused because the segment's audience is new.
        var young = 0
    }

    /// What to do after a try.
    private enum Next {
        case done
        case tryAgain(after: Duration)
    }

    /// Records the batch as possibly at TikTok, sends it, then settles the record: members
    /// without a confirmation become unknown, and a batch with a try that got no sure answer
    /// is rechecked after ``SenderOptions/resendUnansweredAfter``.
    func deliverRecorded(_ read: MappingBatch, body built: TikTokClient.MappingBody, pause: PauseSignal) async -> SendReport {
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
        await deliver(batch, body: body, pause: pause, delivery: &delivery)
        if !delivery.closed { await settle(batch, delivery) }
        return delivery.report
    }

    /// After the last try of a batch not confirmed whole in one answer: its unconfirmed members
    /// become unknown, rechecked later if a try may still land.
    private func settle(_ batch: MappingBatch, _ delivery: Delivery) async {
        let unconfirmed = batch.rows.filter { !delivery.confirmed.contains($0.seq) }
        // Whole seconds, rounded up: the resend never comes sooner than the grace after the send.
        let recheckAt = delivery.mayLandLate
            ? Int64(clockSeconds().rounded(.up)) + options.resendUnansweredAfter.components.seconds : nil
        do {
            try await ledger.endInFlight(
                delivery.ticket, unconfirmed: unconfirmed, type: batch.type, recheckAt: recheckAt, request: delivery.lastRequest)
        } catch {
            logger.error("could not record how a send ended; its members count as unknown from the next pass on",
                         metadata: batchMetadata(batch).merging(["error": "\(error)"]) { $1 })
        }
    }

    /// Sends one batch (its rows, and the body built from them for every try) until it is
    /// confirmed or there is no point in going on. A stop does not wait for a back-off: the batch
    /// is left as it is (its members are unknown until a later answer, as after any try without one).
    private func deliver(_ batch: MappingBatch, body: TikTokClient.MappingBody, pause: PauseSignal, delivery: inout Delivery) async {
        var attempts = Attempts()
        while !pause.stopsSending && !Task.isCancelled {
            guard await pause.sleep(await limiter.reserve() - ContinuousClock.now) else { return }
            guard let tried = await send(batch, body: body, pause: pause, delivery: &delivery) else { return }
            let next: Next
            switch tried.handling {
            case .success, .successWithNote:
                await confirm(batch, tried, delivery: &delivery)
                next = .done
            case .retry(let pace):
                next = await retry(batch, tried, pace: pace, attempts: &attempts, pause: pause, delivery: &delivery)
            case .split:
                next = await split(batch, tried, pause: pause, delivery: &delivery)
            case .tokenRefused, .configurationRefused, .serviceRefused, .bodyRejected:
                let stop = pauseFor(tried.handling, tried.answer)
                pauseAll(stop, batch, tried.answer, pause: pause, delivery: &delivery)
                next = .done
            case .permanentForBatch:
                next = await refuse(batch, tried, attempts: &attempts, pause: pause, delivery: &delivery)
            }
            guard case .tryAgain(let delay) = next, await pause.sleep(delay) else { return }
        }
    }

    /// Sends a part of a batch (half of it, or some of its segments) with a body of its own.
    private func deliver(part: MappingBatch, pause: PauseSignal, delivery: inout Delivery) async {
        let body = client.mappingBody(action: part.action, type: part.type, users: part.users)
        await deliver(part.withoutUsers(), body: body, pause: pause, delivery: &delivery)
    }

    /// One request: TikTok's answer and how to take it, or nil when the request was cut short
    /// (a stop): it may have reached TikTok all the same, and its members are unknown until a
    /// later answer says otherwise. Feeds the window of requests in flight and the metrics.
    private func send(_ batch: MappingBatch, body: TikTokClient.MappingBody, pause: PauseSignal, delivery: inout Delivery) async -> Try? {
        let started = ContinuousClock.now
        let sentAt = Int64(clockSeconds())
        let tried: Try
        do {
            let answer = try await client.mapping(body)
            KillPoint.afterAnswer.pass()
            tried = Try(answer: answer, handling: answer.handling, transportError: nil)
            SendingMetrics.answered(answer, after: ContinuousClock.now - started)
            if answer.mayHaveBeenApplied { delivery.mayLandLate = true }
            await adjustWindow(to: tried, after: ContinuousClock.now - started)
            delivery.report.requests += 1
            pause.noteAnswer()
        } catch let error as TikTokTransportError {
            tried = Try(answer: nil, handling: .retry(.normal), transportError: error.detail)
            delivery.mayLandLate = true
            window.overloaded()
            SendingMetrics.answered(nil, after: ContinuousClock.now - started)
            delivery.report.unanswered += 1
            logger.warning("no answer from TikTok", metadata: batchMetadata(batch).merging(
                ["error": "\(error.detail)", "reason": "\(error.kind.rawValue)"]) { $1 })
        } catch {
            delivery.mayLandLate = true
            logger.notice("a request was cut short; its changes are sent again",
                          metadata: batchMetadata(batch).merging(["error": "\(error)"]) { $1 })
            return nil
        }
        let answer = tried.answer
        delivery.lastRequest = SentRequest(
            sentAt: sentAt, action: batch.action, type: batch.type, users: batch.userCount,
            code: answer?.envelope?.code, httpStatus: answer?.httpStatus,
            message: answer.map { $0.envelope?.message ?? $0.bodySnippet } ?? tried.transportError, requestID: answer?.envelope?.requestID)
        return tried
    }

    /// What an answer teaches the window of requests in flight: a quick success widens it, a
    /// rate limit or an overloaded TikTok narrows it.
    private func adjustWindow(to tried: Try, after elapsed: Duration) async {
        switch tried.handling {
        case .success, .successWithNote:
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            window.confirmed(after: seconds, pace: await limiter.pace)
        case .retry(.rateLimited), .retry(.long):
            window.overloaded()
        case .retry(.normal) where tried.answer?.mayHaveBeenApplied == true:
            window.overloaded()  // a gateway page or a TikTok system error
        default:
            break
        }
    }

    /// TikTok confirmed the batch: counted per segment and per partner, and recorded.
    private func confirm(_ batch: MappingBatch, _ tried: Try, delivery: inout Delivery) async {
        if case .successWithNote(let note) = tried.handling {
            logger.notice("\(note)", metadata: batchMetadata(batch, tried.answer))
        }
        await limiter.succeeded()
        // A batch is one action: its rows counted per segment and partner, and per segment.
        var perSegment: [String: Int] = [:]
        for (source, rows) in await sources.count(batch.rows) {
            delivery.report.confirmedBySource[source, default: ActionCounts()].count(batch.action, rows)
            perSegment[source.segment, default: 0] += rows
        }
        for (segment, rows) in perSegment {
            delivery.report.confirmed[segment, default: ActionCounts()].count(batch.action, rows)
            SendingMetrics.confirmed(segment: segment, action: batch.action == .add ? "add" : "remove", count: rows)
        }
        // The whole batch in one sure answer: its in-flight record goes in the same transaction.
        let closing = !delivery.mayLandLate && delivery.confirmed.isEmpty && batch.rows.count == delivery.ticket.rows.count
            ? delivery.ticket : nil
        do {
            delivery.report.acknowledged += try await ledger.markAcknowledged(batch.rows, closing: closing, request: delivery.lastRequest)
            KillPoint.afterConfirmation.pass()
            delivery.closed = closing != nil
            // Only a send that goes on (parts of a split batch) asks which rows are confirmed.
            if !delivery.closed { delivery.confirmed.formUnion(batch.rows.map(\.seq)) }
        } catch {
            logger.error("could not record TikTok's confirmation; the rows will be sent again", metadata: ["error": "\(error)"])
        }
    }

    /// An answer worth trying again (a rate limit, TikTok busy, no answer): after a back-off, up
    /// to ``SenderOptions/maxAttempts`` tries.
    private func retry(
        _ batch: MappingBatch, _ tried: Try, pace: AnswerHandling.RetryPace, attempts: inout Attempts, pause: PauseSignal,
        delivery: inout Delivery
    ) async -> Next {
        attempts.failed += 1
        let delay = backoff(attempt: attempts.failed, pace: pace)
        if pace == .rateLimited { await limiter.rateLimited(pause: delay) }
        guard attempts.failed >= options.maxAttempts else {
            logger.info("retrying", metadata: batchMetadata(batch, tried.answer).merging(
                ["try": "\(attempts.failed)", "wait_ms": "\(delay.milliseconds)"]) { $1 })
            return .tryAgain(after: delay)
        }
        if !pause.anyAnswer, let transportError = tried.transportError {
            // Nothing has answered in this whole pass: every other batch would wait through the
            // same tries. Stop the pass; the rows stay pending for the next one. (One batch that
            // never gets through while others do is an ordinary failure.)
            let stop = SendPause(
                kind: .unreachable,
                message: "TikTok did not answer after \(attempts.failed) tries (\(transportError)); sending paused with everything pending. Check network access and tiktok.base_url")
            pauseAll(stop, batch, nil, pause: pause, delivery: &delivery)
            return .done
        }
        delivery.report.failures.append(failure(batch, tried.answer, reason: "still failing after \(attempts.failed) tries"))
        logger.error("TikTok kept failing; rows stay pending for the next pass",
                     metadata: batchMetadata(batch, tried.answer).merging(["tries": "\(attempts.failed)"]) { $1 })
        return .done
    }

    /// TikTok found the batch too large: its halves are sent one after the other.
    private func split(_ batch: MappingBatch, _ tried: Try, pause: PauseSignal, delivery: inout Delivery) async -> Next {
        guard batch.userCount > 1 else {
            delivery.report.failures.append(failure(batch, tried.answer, reason: "TikTok refused even a single identifier as too large"))
            return .done
        }
        logger.notice("TikTok found the batch too large; splitting it", metadata: batchMetadata(batch, tried.answer))
        let (first, second) = batch.halves()
        await deliver(part: first, pause: pause, delivery: &delivery)
        await deliver(part: second, pause: pause, delivery: &delivery)
        return .done
    }

    /// An answer that stops sending for every batch until an operator acts (or TikTok comes back).
    private func pauseAll(_ stop: SendPause, _ batch: MappingBatch, _ answer: TikTokAnswer?, pause: PauseSignal, delivery: inout Delivery) {
        pause.set(stop)
        delivery.report.failures.append(failure(batch, answer, reason: stop.message))
        logger.critical("sending paused: \(stop.message)", metadata: batchMetadata(batch, answer))
    }

    /// TikTok refused the batch for good. Across segments, the refused segment is found by
    /// halving; a new audience gets tries with back-off first; otherwise the segment is parked.
    private func refuse(
        _ batch: MappingBatch, _ tried: Try, attempts: inout Attempts, pause: PauseSignal, delivery: inout Delivery
    ) async -> Next {
        let segments = batch.segments
        if segments.count > 1 {
            // Find the segment TikTok refuses, so that every other segment goes on.
            logger.notice("TikTok refused a batch spanning \(segments.count) segments; narrowing it down",
                          metadata: batchMetadata(batch, tried.answer))
            let (first, second) = batch.splitBySegments()
            await deliver(part: first, pause: pause, delivery: &delivery)
            await deliver(part: second, pause: pause, delivery: &delivery)
            return .done
        }
        let segment = segments.first ?? ""
        if let wait = await newAudienceWait(segment, tries: &attempts.young) {
            logger.notice(
                "TikTok refused segment \(segment), an audience created \(wait.age) s ago; a new audience may take a minute or two to take members, so the batch is tried again before the segment is parked",
                metadata: batchMetadata(batch, tried.answer).merging(["wait_ms": "\(wait.delay.milliseconds)"]) { $1 })
            return .tryAgain(after: wait.delay)
        }
        let refused = failure(batch, tried.answer, reason: "TikTok refused the segment")
        do {
            try await ledger.park(
                segment: segment, code: refused.code, message: refused.message, requestID: refused.requestID, now: Int64(clockSeconds()))
        } catch {
            logger.error("could not park the refused segment", metadata: ["error": "\(error)"])
        }
        delivery.report.failures.append(refused)
        logger.error(
            "TikTok refused segment \(segments.first ?? "?"); its changes are parked until `tiktok-audience-sync retry`",
            metadata: batchMetadata(batch, tried.answer))
        return .done
    }
}

extension Duration {
    /// Whole milliseconds, for log fields.
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
