import ArgumentParser
import Foundation
import ServiceLifecycle
import AudienceDaemon
import AudienceInbox
import AudienceLedger
import AudienceModel
import AudienceSupport

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

        /// The daemon's intake and sender, run until the inbox is drained and nothing more can be
        /// sent now. SIGTERM and SIGINT stop it as they stop the daemon: planning gives up (the
        /// file stays in the inbox), nothing new is sent, the answers in flight are recorded.
        func run() async throws {
            try await StopSignals.trapping { relay in try await work(relay) }
        }

        private func work(_ relay: StopSignals.Relay) async throws {
            var context = try await CommandContext.load(options, resolveToken: false, summarisesOnTerminal: true)
            try context.useStateDirectory()
            let lock = try context.lockStateDirectory()
            defer { withExtendedLifetime(lock) {} }
            let ledger = try await context.openLedger(holdingLock: true)
            let progress = ProgressReporter(logger: context.logger)
            let pipeline = Pipeline(
                configuration: context.configuration, ledger: ledger, finish: .whenDrained, logger: context.logger,
                environment: context.environment, redactor: context.redactor, progress: { progress.report($0) })
            var group = ServiceGroupConfiguration(services: [
                ServiceGroupConfiguration.ServiceConfiguration(service: pipeline, successTerminationBehavior: .ignore)
            ], logger: context.logger)
            group.maximumGracefulShutdownDuration = .seconds(60)
            var groupError: (any Error)?
            do {
                try await relay.run(ServiceGroup(configuration: group))
            } catch {
                groupError = error
            }
            progress.finish()
            let record = pipeline.outcome.record
            let left: PipelineLeft
            do {
                left = PipelineLeft(
                    pending: try await ledger.reader.pendingCounts(), parked: try await ledger.reader.parkedSegments(),
                    rechecks: try await ledger.reader.pendingRechecks())
            } catch {
                throw fail(error, redactor: context.redactor)
            }
            printSummary(record, left: left)
            let ending = PipelineEnding.once(record, left: left, stoppedBySignal: relay.isStopped, groupError: groupError)
            let code = Exit.code(for: ending)
            if let message = ending.message { throw fail(message, code, redactor: context.redactor) }
            if code != Exit.done { throw code }
        }

        private func printSummary(_ record: PipelineOutcome.Record, left: PipelineLeft) {
            for receipt in record.receipts { say(receipt.logLine) }
            for (file, reason) in record.waiting {
                say("\(file.escapingControlCharacters): left in the inbox: \(reason.description.escapingControlCharacters)")
            }
            let send = record.sent
            if record.senderStop != .noToken {
                say("sent \(send.requests) request(s); TikTok confirmed \(send.acknowledged) change(s)"
                    + (send.unanswered > 0 ? "; \(send.unanswered) tries got no answer" : ""))
            }
            // What the audit lines say, for a terminal where they are not logged (see CommandContext).
            for source in send.confirmedBySource.keys.sorted() {
                guard let counts = send.confirmedBySource[source] else { continue }
                say("  segment \(source.segment): TikTok confirmed +\(counts.adds) -\(counts.removes)" + (source.partner.map { " (\($0))" } ?? ""))
            }
            for failure in send.failures {
                say("  refused: \(failure.action) \(failure.rows) \(failure.identifierType) row(s) for segment(s) \(failure.segments.joined(separator: ",")): \(failure.code.map { "code \($0) " } ?? "")\(failure.message) request_id=\(failure.requestID ?? "-")")
            }
            // Only what is left: a count of every confirmed member would read the whole ledger
            // (`status` shows it).
            guard left.pending.total > 0 else { return }
            say("segment              pending adds   pending removes")
            for segment in left.pending.bySegment.keys.sorted() {
                let waiting = left.pending.bySegment[segment] ?? SegmentChange()
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
