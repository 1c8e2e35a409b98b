import ArgumentParser
import AudienceSync
import Foundation

extension AudienceSyncCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show pending work, recent files and what TikTok has confirmed.",
            discussion: "Example: tiktok-audience-sync status --json. Exits 0 when nothing is pending, 75 otherwise.")

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() async throws {
            let context = try await CommandContext.load(options)
            let ledger = try context.openLedger()
            let pending = try ledger.pendingCounts()
            let confirmed = try ledger.confirmedCounts()
            let files = try ledger.recentFiles(limit: 20)
            if json {
                let document = StatusDocument(
                    pending: .init(adds: pending.adds, removes: pending.removes, bySegment: pending.bySegment),
                    confirmed: confirmed, files: files)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                say(String(decoding: try encoder.encode(document), as: UTF8.self))
            } else {
                say("pending: \(pending.adds) adds, \(pending.removes) removes")
                for segment in Set(pending.bySegment.keys).union(confirmed.keys).sorted() {
                    let waiting = pending.bySegment[segment] ?? SegmentChange()
                    say("  segment \(segment): \(confirmed[segment] ?? 0) confirmed, +\(waiting.adds) -\(waiting.removes) pending")
                }
                say("recent files:")
                for file in files {
                    say("  \(file.name): \(file.outcome.rawValue), \(file.rowsRead) rows, +\(file.adds) -\(file.removes)\(file.confirmedAt == nil ? "" : ", confirmed")\(file.reason.map { ": \($0)" } ?? "")")
                }
            }
            if pending.total > 0 { throw Exit.workPending }
        }
    }
}

struct StatusDocument: Encodable {
    struct Pending: Encodable {
        var adds: Int
        var removes: Int
        var bySegment: [String: SegmentChange]
        enum CodingKeys: String, CodingKey {
            case adds, removes
            case bySegment = "by_segment"
        }
    }
    var pending: Pending
    var confirmed: [String: Int]
    var files: [FileRecord]
}
