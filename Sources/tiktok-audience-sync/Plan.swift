import ArgumentParser
import Foundation
import AudienceDaemon
import AudienceLedger
import AudiencePlanning
import AudienceReading

extension AudienceSyncCommand {
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show what a file would change per segment against the ledger, without changing anything.",
            discussion: "Example: tiktok-audience-sync plan --config config.yaml acme/2026-11-25.csv")

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The audience file to plan.")
        var file: String

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory(readOnly: true)
            if access(file, R_OK) != 0 && errno == EACCES {
                throw fail(
                    "cannot read \(file) as \(StateOwner.current.described), as which this command acts (the owner of the state directory): make it readable to that user, or copy it to a folder it can read",
                    Exit.inputRejected, redactor: context.redactor)
            }
            let ledger = try await context.openLedgerForReading()
            var reading = ReadingOptions()
            // As the daemon would read it from where it lies: the partner folder's rules and segments.
            let partner = context.configuration.partner(containing: file)
            reading.identifierRules = context.configuration.identifierRules(
                forPartner: partner, legacyMAIDType: try await ledger.legacyMAIDType())
            if let partner, let settings = context.configuration.partners?[partner] { reading.allowedSegments = settings.segments }
            reading.maximumDecompressedBytes = context.configuration.maxDecompressedBytes
            let progress = ProgressReporter(logger: context.logger)
            reading.progress = { progress.report($0) }
            defer { progress.finish() }
            do {
                let reader = try AudienceFileReader(path: file, options: reading)
                let fingerprint = try reader.fingerprint()
                if let known = try await ledger.fileRecord(fingerprint: fingerprint) {
                    say("\(file): same bytes as \(known.name), already \(known.outcome.rawValue): it would change nothing")
                    return
                }
                let sorted = try Planner(spillDirectory: context.configuration.stateDirectory).sort(reader)
                let result = try await ledger.previewFile(
                    sorted, maximumRemovalPercent: context.configuration.maxSnapshotRemovalPercent)
                progress.finish()
                let summary = result.summary
                say("\(file): \(summary.kind.rawValue), \(summary.rowsRead) rows, \(summary.rowsRejected) rejected")
                say("segment              would add   would remove")
                for segment in result.changes.keys.sorted() {
                    let change = result.changes[segment] ?? SegmentChange()
                    say(segment.padding(20) + " " + "\(change.adds)".padding(11) + " " + "\(change.removes)")
                }
                if result.changes.isEmpty { say("(no change)") }
                if let held = result.wouldHold {
                    say("it would be HELD, not applied: \(held.description.replacingOccurrences(of: "FILE", with: file))")
                }
                for reject in summary.rejections.prefix(20) {
                    say("  line \(reject.line): \(reject.reason.rawValue): \(reject.reason.advice) (\(reject.detail))")
                }
                if summary.rowsRejected > 0 { throw Exit.inputRejected }
            } catch let error as AudienceFileError {
                throw fail("\(file): rejected: \(error.description)", Exit.inputRejected)
            }
        }
    }
}
