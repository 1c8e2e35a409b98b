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
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory()
            let lock = try context.lockStateDirectory()
            defer { withExtendedLifetime(lock) {} }
            let ledger = try await context.openLedger(holdingLock: true)
            let progress = ProgressReporter(logger: context.logger)
            let outcome = PipelineOutcome(.whenDrained)
            let pipeline = Pipeline(
                configuration: context.configuration, ledger: ledger, logger: context.logger,
                environment: context.environment, redactor: context.redactor)
            let services = pipeline.services(finish: .whenDrained, outcome: outcome, watcher: nil) { progress.report($0) }
            var group = ServiceGroupConfiguration(services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .ignore)
            }, logger: context.logger)
            group.maximumGracefulShutdownDuration = .seconds(60)
            var groupError: (any Error)?
            do {
                try await relay.run(ServiceGroup(configuration: group))
            } catch {
                groupError = error
            }
            progress.finish()
            let record = outcome.record
            let left: OnceLeft
            do {
                left = OnceLeft(
                    pending: try await ledger.reader.pendingCounts(), parked: try await ledger.reader.parkedSegments(),
                    rechecks: try await ledger.reader.pendingRechecks())
            } catch {
                throw fail(error, redactor: context.redactor)
            }
            printSummary(record, left: left)
            var (code, message) = Self.ending(record, left: left)
            // A stop explains a service group that ended early; anything else is a defect.
            if relay.isStopped, code == Exit.done || code == Exit.inputRejected {
                (code, message) = (Exit.workPending, "stopped by a signal; what is left is picked up by the next run")
            } else if let groupError, code == Exit.done || code == Exit.inputRejected {
                (code, message) = (Exit.code(for: FailureEnding(of: groupError)), "stopped: \(groupError)")
            }
            if let message { throw fail(message, code, redactor: context.redactor) }
            if code != Exit.done { throw code }
        }

        /// The one place where what `once` did becomes its exit code, with what to tell the operator.
        static func ending(_ record: PipelineOutcome.Record, left: OnceLeft) -> (ExitCode, String?) {
            if let error = record.intakeError {
                return (Exit.code(for: FailureEnding(of: error)), "cannot take files from the inbox: \(error)")
            }
            if let error = record.senderError {
                return (Exit.code(for: FailureEnding(of: error)), "sending failed: \(error)")
            }
            switch record.senderStop {
            case .noToken:
                return (Exit.badConfiguration,
                        "no TikTok access token: set TIKTOK_ACCESS_TOKEN, the systemd credential tiktok-access-token, or tiktok.access_token_file; the files are planned and their changes wait in the ledger")
            case .tokenUnreadable(let reason):
                return (Exit.badConfiguration, reason)
            case .paused(let reason):
                return (Exit.workPending, reason)
            case .refusedBatches, nil:
                break
            }
            if record.stopped, left.pending.total > 0 || !record.waiting.isEmpty {
                return (Exit.workPending, "stopped by a signal with work left; it is picked up by the next run")
            }
            if !left.parked.isEmpty {
                return (Exit.workPending,
                        "TikTok refused segment(s) \(left.parked.map(\.segment).joined(separator: ", ")); their changes are parked. Fix the cause, then run `tiktok-audience-sync retry`")
            }
            if left.pending.total > 0 {
                return (Exit.workPending, "\(left.pending.total) changes are still pending; run again, or see `tiktok-audience-sync status`")
            }
            if left.rechecks.members > 0 {
                let when = left.rechecks.next.map(StatusDocument.time) ?? "the next run"
                return (Exit.workPending,
                        "\(left.rechecks.members) change(s) got no sure answer from TikTok and are sent again from \(when) (tiktok.resend_unanswered_after_seconds), in case the old request lands late; run once again after that")
            }
            if let setUp = record.failures.first(where: { $0.ending == .configuration }) {
                return (Exit.badConfiguration,
                        "\(record.failures.count) file(s) could not be taken and stay in the inbox (\(setUp.error)); fix the set-up (permissions of the state directory), then run again")
            }
            if !record.failures.isEmpty {
                return (Exit.workPending,
                        "\(record.failures.count) file(s) could not be taken and stay in the inbox (\(record.failures[0].error)); they are tried again by the next run")
            }
            if record.waiting.contains(where: { $0.reason.hasPrefix(IntakeDecision.freeSpaceReason) }) {
                return (Exit.workPending, "a file waits for free space in the state directory; free some and run again")
            }
            if record.rejectedFiles > 0 || record.rejectedRows > 0 || !record.waiting.isEmpty {
                return (Exit.inputRejected, nil)
            }
            return (Exit.done, nil)
        }

        private func printSummary(_ record: PipelineOutcome.Record, left: OnceLeft) {
            for receipt in record.receipts { say(receipt.logLine) }
            for (file, reason) in record.waiting {
                say("\(file.escapingControlCharacters): left in the inbox: \(reason.escapingControlCharacters)")
            }
            let send = record.sent
            if record.senderStop != .noToken {
                say("sent \(send.requests) request(s); TikTok confirmed \(send.acknowledged) change(s)"
                    + (send.unanswered > 0 ? "; \(send.unanswered) tries got no answer" : ""))
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

/// What the ledger still holds when `once` ends.
struct OnceLeft {
    var pending: PendingCounts
    var parked: [ParkedSegment]
    var rechecks: PendingRechecks
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
