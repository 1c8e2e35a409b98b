import ArgumentParser
import AsyncHTTPClient
import AudienceSync
import Foundation
import UnixSignals

extension AudienceSyncCommand {
    struct Once: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Process every ready file in the inbox, send everything pending to TikTok, then exit.",
            discussion: """
                Example: tiktok-audience-sync once --config /etc/tiktok-audience-sync/config.yaml
                Exits 0 when TikTok holds what the files say, 65 when a file or row was rejected,
                75 when work is left pending (TikTok unreachable or refusing, a full disk, a stop by
                SIGTERM or SIGINT): run it again later, 78 on bad configuration or a ledger that
                needs an operator.
                """)

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            // SIGTERM and SIGINT stop it gracefully: the file being planned is finished, nothing
            // new is sent, the answers in flight are recorded; exit 75 if work is left.
            let stopping = StopFlag()
            let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in signals {
                        stopping.set()
                    }
                }
                defer { group.cancelAll() }
                try await work(stopping: stopping)
            }
        }

        private func work(stopping: StopFlag) async throws {
            let context = try await CommandContext.load(options)
            let lock = try context.lockStateDirectory()
            defer { withExtendedLifetime(lock) {} }
            let ledger = try await context.openLedger()
            let progress = ProgressReporter(logger: context.logger)
            let engine = SyncEngine(
                configuration: context.configuration, ledger: ledger, logger: context.logger,
                progress: { progress.report($0) })
            defer { progress.finish() }
            let intake: IntakeReport
            do {
                intake = try await engine.processInbox(waitForSettling: true, shouldStop: { stopping.isSet })
                progress.finish()
            } catch {
                throw fail(error, redactor: context.redactor)
            }
            guard let token = context.token else {
                await printSummary(ledger: ledger, intake: intake, send: nil)
                throw fail(
                    "no TikTok access token: set TIKTOK_ACCESS_TOKEN, the systemd credential tiktok-access-token, or tiktok.access_token_file; the files are planned and their changes wait in the ledger",
                    Exit.badConfiguration, redactor: context.redactor)
            }
            let client = TikTokClient(
                baseURL: context.configuration.tiktok.baseURL, advertiserID: context.configuration.tiktok.advertiserID,
                token: token, http: TikTokClient.sharedHTTPClient, timeout: context.configuration.tiktok.requestTimeout)
            let sender = Sender(
                ledger: ledger, client: client, options: context.configuration.senderOptions, logger: context.logger)
            var report = SendReport()
            if !stopping.isSet {
                try await Sender.reclaimInFlight(ledger, options: context.configuration.senderOptions, logger: context.logger)
                report = try await sender.sendPending(shouldStop: { stopping.isSet })
            }
            try await engine.confirmFiles()
            await printSummary(ledger: ledger, intake: intake, send: report)
            let pending = try await ledger.reader.pendingCounts()
            if let reason = report.pausedReason {
                throw fail(reason, Exit.workPending, redactor: context.redactor)
            }
            if stopping.isSet, pending.total > 0 || !intake.waiting.isEmpty {
                throw fail("stopped by a signal with work left; it is picked up by the next run", Exit.workPending, redactor: context.redactor)
            }
            let parked = try await ledger.reader.parkedSegments()
            if !parked.isEmpty {
                throw fail(
                    "TikTok refused segment(s) \(parked.map(\.segment).joined(separator: ", ")); their changes are parked. Fix the cause, then run `tiktok-audience-sync retry`",
                    Exit.workPending, redactor: context.redactor)
            }
            if pending.total > 0 {
                throw fail("\(pending.total) changes are still pending; run again, or see `tiktok-audience-sync status`",
                           Exit.workPending, redactor: context.redactor)
            }
            let rechecks = try await ledger.reader.pendingRechecks()
            if rechecks.members > 0 {
                let when = rechecks.next.map(StatusDocument.time) ?? "the next run"
                throw fail(
                    "\(rechecks.members) change(s) got no sure answer from TikTok and are sent again from \(when) (tiktok.resend_unanswered_after_seconds), in case the old request lands late; run once again after that",
                    Exit.workPending, redactor: context.redactor)
            }
            if !intake.failures.isEmpty {
                throw fail(
                    "\(intake.failures.count) file(s) could not be taken and stay in the inbox (\(intake.failures[0].error)); they are tried again by the next run",
                    Exit.workPending, redactor: context.redactor)
            }
            if intake.rejectedFiles > 0 || intake.rejectedRows > 0 || !intake.waiting.isEmpty {
                throw Exit.inputRejected
            }
        }

        private func printSummary(ledger: Ledger, intake: IntakeReport, send: SendReport?) async {
            for receipt in intake.receipts { say(receipt.logLine) }
            for (file, reason) in intake.waiting { say("\(file.escapingControlCharacters): left in the inbox: \(reason.escapingControlCharacters)") }
            if let send {
                say("sent \(send.requests) request(s); TikTok confirmed \(send.acknowledged) change(s)"
                    + (send.unanswered > 0 ? "; \(send.unanswered) tries got no answer" : ""))
                for failure in send.failures {
                    say("  refused: \(failure.action) \(failure.rows) \(failure.identifierType) row(s) for segment(s) \(failure.segments.joined(separator: ",")): \(failure.code.map { "code \($0) " } ?? "")\(failure.message) request_id=\(failure.requestID ?? "-")")
                }
            }
            // Only what is left: a count of every confirmed member would read the whole ledger
            // (`status` shows it).
            guard let pending = try? await ledger.reader.pendingCounts(), pending.total > 0 else { return }
            say("segment              pending adds   pending removes")
            for segment in pending.bySegment.keys.sorted() {
                let waiting = pending.bySegment[segment] ?? SegmentChange()
                say(segment.padding(20) + " " + "\(waiting.adds)".padding(14) + " " + "\(waiting.removes)")
            }
        }
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
