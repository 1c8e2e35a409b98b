import ArgumentParser
import AudienceInbox
import AudienceModel

extension AudienceSyncCommand {
    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put changes of segments TikTok refused back in line to be sent.",
            discussion: """
                When TikTok refuses a segment (say, code 40002 for an audience id it does not know), that segment's
                changes are parked so every other segment goes on. Fix the cause (the segment id, the advertiser's
                access to it), then run retry; a running daemon sends them on its next pass.
                Example: tiktok-audience-sync retry --segment 123456
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: "Only this segment (a TikTok audience id).")
        var segment: String?

        func validate() throws {
            if let segment, SegmentID(segment) == nil { throw ValidationError("--segment must be a TikTok audience id (digits)") }
        }

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory()
            let ledger = try await context.openLedger(holdingLock: false)
            let parked = try await ledger.reader.parkedSegments().filter { segment == nil || $0.segment == segment }
            if parked.isEmpty {
                say(segment.map { "segment \($0) is not parked; nothing to retry" } ?? "no segment is parked; nothing to retry")
                return
            }
            let rows = try await ledger.unpark(segment: segment)
            for entry in parked {
                say("segment \(entry.segment): \(entry.adds + entry.removes) change(s) back in line (TikTok had said: code \(entry.code.map(String.init) ?? "-") \(entry.message), request_id=\(entry.requestID ?? "-"))")
            }
            say("\(rows) change(s) put back in line; run `tiktok-audience-sync once` or let the daemon send them")
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Approve a held snapshot so that it is applied although it removes many members.",
            discussion: """
                A snapshot that would remove more than max_snapshot_removal_percent of a segment's members is moved
                to held/ instead of being applied: a truncated export must not empty a segment. If the removals are
                meant, approve the file: it goes back into the inbox and is applied in full.
                Example: tiktok-audience-sync approve /var/lib/tiktok-audience-sync/held/acme/full.csv
                """)

        @OptionGroup var options: ConfigOptions

        @Argument(help: "The held file (under held/ in the state directory).")
        var file: String

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory()
            let ledger = try await context.openLedger(holdingLock: false)
            let engine = Intake(configuration: context.configuration, ledger: ledger, logger: context.logger)
            do {
                let destination = try await engine.approveHeld(path: file)
                say("approved: \(file) is back in the inbox as \(destination) and will be applied in full")
            } catch {
                throw fail(error, redactor: context.redactor)
            }
        }
    }
}
