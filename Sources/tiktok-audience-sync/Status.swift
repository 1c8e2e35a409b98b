import ArgumentParser
import Foundation
import AudienceLedger
import AudienceSupport

extension AudienceSyncCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show pending work, parked segments, recent files and TikTok's health.",
            discussion: """
                Reads the ledger directly, so it works while the daemon runs and when it is stopped.
                Exits 0 when nothing is pending or parked, 75 otherwise.
                Example: tiktok-audience-sync status --json --config /etc/tiktok-audience-sync/config.yaml
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Option(help: "How many recent files to list.")
        var files: Int = 10

        func run() async throws {
            let context = try await CommandContext.load(options)
            let ledger = try await context.openLedger()
            let reader = ledger.reader
            let document = StatusDocument(
                pending: try await reader.pendingCounts(), parked: try await reader.parkedSegments(),
                confirmed: try await reader.confirmedCounts(), files: try await reader.recentFiles(limit: files),
                tiktok: try await reader.tiktokHealth(), rechecks: try await reader.pendingRechecks(), ledgerBytes: await reader.sizeOnDisk())
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                say(String(decoding: try encoder.encode(document), as: UTF8.self))
            } else {
                say(document.text)
            }
            if document.pending.total > 0 || !document.parked.isEmpty || document.tiktok.pausedReason != nil
                || document.rechecks.members > 0
            {
                throw Exit.workPending
            }
        }
    }
}

struct StatusDocument: Encodable {
    var pending: PendingCounts
    var parked: [ParkedSegment]
    var confirmed: [String: Int]
    var files: [FileRecord]
    var tiktok: TikTokHealth
    /// Members of sends that got no sure answer (or are being sent now), to be sent again.
    var rechecks: PendingRechecks
    var ledgerBytes: Int64

    enum CodingKeys: String, CodingKey {
        case pending, parked, confirmed, files, tiktok
        case unanswered
        case ledgerBytes = "ledger_bytes"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(PendingJSON(adds: pending.adds, removes: pending.removes, bySegment: pending.bySegment), forKey: .pending)
        try container.encode(parked, forKey: .parked)
        try container.encode(confirmed, forKey: .confirmed)
        try container.encode(files, forKey: .files)
        try container.encode(tiktok, forKey: .tiktok)
        try container.encode(UnansweredJSON(members: rechecks.members, resendAt: rechecks.next.map(Self.time)), forKey: .unanswered)
        try container.encode(ledgerBytes, forKey: .ledgerBytes)
    }

    private struct UnansweredJSON: Encodable {
        var members: Int
        var resendAt: String?
        enum CodingKeys: String, CodingKey {
            case members
            case resendAt = "resend_at"
        }
    }

    private struct PendingJSON: Encodable {
        var adds: Int
        var removes: Int
        var bySegment: [String: SegmentChange]
        enum CodingKeys: String, CodingKey {
            case adds, removes
            case bySegment = "by_segment"
        }
    }

    var text: String {
        var lines: [String] = []
        let health: String
        if let paused = tiktok.pausedReason {
            health = "PAUSED: \(paused)"
        } else if let success = tiktok.lastSuccessAt {
            health = "ok, last change confirmed \(Self.time(success))"
        } else {
            health = "no change sent yet"
        }
        lines.append("TikTok: \(health)")
        if let error = tiktok.lastError {
            lines.append("  last error \(Self.time(error.at)): \(error.code.map { "code \($0) " } ?? "")\(error.message) request_id=\(error.requestID ?? "-") segments=\(error.segments.joined(separator: ","))")
        }
        lines.append("pending: \(pending.adds) adds, \(pending.removes) removes")
        if rechecks.members > 0 {
            lines.append(
                "unanswered: \(rechecks.members) change(s) sent without a sure answer (or being sent now); sent again "
                    + (rechecks.next.map { "from \(Self.time($0))" } ?? "when the send ends") + " in case the old request lands late")
        }
        for segment in Set(pending.bySegment.keys).union(confirmed.keys).sorted() {
            let waiting = pending.bySegment[segment] ?? SegmentChange()
            lines.append("  segment \(segment): \(confirmed[segment] ?? 0) confirmed at TikTok, +\(waiting.adds) -\(waiting.removes) pending")
        }
        if !parked.isEmpty {
            lines.append("parked (TikTok refused; fix, then `tiktok-audience-sync retry`):")
            for entry in parked {
                lines.append("  segment \(entry.segment): +\(entry.adds) -\(entry.removes), code \(entry.code.map(String.init) ?? "-") \(entry.message) request_id=\(entry.requestID ?? "-")")
            }
        }
        lines.append("recent files:")
        for file in files {
            let state = file.outcome == .applied ? (file.confirmedAt == nil ? "applied, waiting for TikTok" : "applied, confirmed") : file.outcome.rawValue
            lines.append("  \(file.name.escapingControlCharacters): \(state), \(file.rowsRead) rows, +\(file.adds) -\(file.removes)\(file.reason.map { ": \($0)" } ?? "")")
        }
        if files.isEmpty { lines.append("  (none yet)") }
        lines.append("ledger: \(ledgerBytes / 1024) KiB")
        return lines.joined(separator: "\n")
    }

    static func time(_ seconds: Int64) -> String { ISO8601Time.string(Int(seconds)) }
}
