import ArgumentParser
import Foundation
import AudienceDaemon
import AudienceInbox
import AudienceLedger
import AudienceSupport

extension AudienceSyncCommand {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether the sync is healthy, and if not why: the daemon, the inbox, TikTok, pending work.",
            discussion: """
                Reads the ledger, the inbox and what the daemon last saw, so it works while the daemon runs and
                when it is stopped, and needs no token. Lists each file waiting in the inbox with why, held
                snapshots, parked segments and why sending is paused, and recent files with their rejected
                rows (a warning in health for a week: the partner's to fix). Exits 0 when all is done
                (warnings included), 75 when work is pending that will go on by itself, 78 when an operator
                must act (a refused token or access, a parked segment, a held snapshot, a file that cannot
                be taken).
                Example: tiktok-audience-sync status --json --config /etc/tiktok-audience-sync/config.yaml
                """)

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Option(help: "How many recent files to list.")
        var files: Int = 10

        @Flag(help: "Also count the members TikTok confirmed per segment (reads the whole ledger: seconds at 100M members).")
        var count = false

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            try context.useStateDirectory(readOnly: true)
            let configuration = context.configuration
            let reader = try await context.openLedgerForReading()
            let holder = StateLock.holder(stateDirectory: configuration.stateDirectory)
            let intake = DaemonStatusFile.read(stateDirectory: configuration.stateDirectory)
            let document = StatusDocument(
                daemon: DaemonState(pid: holder, intake: intake.flatMap { $0.pid == holder ? $0 : nil }, lastSeen: intake),
                inbox: try InboxLook.look(configuration, arrivals: try await reader.rememberedArrivals()),
                pending: try await reader.pendingCounts(), parked: try await reader.parkedSegments(),
                confirmed: count ? try await reader.confirmedCounts() : nil, files: try await reader.recentFiles(limit: files),
                tiktok: try await reader.tiktokHealth(), rechecks: try await reader.pendingRechecks(), ledgerBytes: await reader.sizeOnDisk())
            if json {
                say(try PrettyJSON.encode(document))
            } else {
                say(document.text)
            }
            switch document.health {
            case .ok, .warning: return
            case .pending: throw Exit.workPending
            case .actionNeeded: throw Exit.badConfiguration
            }
        }
    }
}

/// The process working on the state directory, if any, and what its intake last saw.
struct DaemonState {
    var pid: Int32?
    /// The last look of the running process (nil when none runs, or it has not looked yet).
    var intake: DaemonStatusFile?
    /// The last look of any process, for "last seen" when none runs.
    var lastSeen: DaemonStatusFile?
}

struct StatusDocument: Encodable {
    var daemon: DaemonState
    var inbox: InboxLook
    var pending: PendingCounts
    var parked: [ParkedSegment]
    /// Per segment; nil unless asked for (`--count`): counting reads the whole ledger.
    var confirmed: [String: Int]?
    var files: [FileRecord]
    var tiktok: TikTokHealth
    /// Members of sends that got no sure answer (or are being sent now), to be sent again.
    var rechecks: PendingRechecks
    var ledgerBytes: Int64

    enum Health: String, Encodable {
        case ok
        /// All is done, but something is worth a look: recent files had rows rejected.
        case warning
        case pending
        case actionNeeded = "action_needed"
    }

    /// How long a file's rejected rows keep a warning in `health` (if it is still among the files listed).
    static let rejectedRowsWarningSeconds: Int64 = 7 * 86_400

    /// What is worth a look although it needs no operator here: recent files with rejected rows
    /// (the partner's to fix; the rest of each file applied).
    var warnings: [String] {
        let since = Int64(Date().timeIntervalSince1970) - Self.rejectedRowsWarningSeconds
        return files.filter { $0.rowsRejected > 0 && $0.plannedAt >= since }.map {
            "\($0.name): \($0.rowsRejected) of \($0.rowsRead) rows rejected (the rest applied; its receipt lists them by line and reason)"
        }
    }

    /// What an operator must do something about, in words.
    var problems: [String] {
        var problems: [String] = []
        if let paused = tiktok.pausedReason, tiktok.pausedKind != "unreachable" { problems.append("sending is paused: \(paused)") }
        if !parked.isEmpty { problems.append("\(parked.count) segment(s) parked: TikTok refused them") }
        if !inbox.held.isEmpty { problems.append("\(inbox.held.count) snapshot(s) held for approval") }
        if let error = daemon.intake?.inboxError { problems.append("inbox error: \(error)") }
        for file in inbox.waiting where file.needsAction { problems.append("\(file.file): \(file.reason)") }
        return problems
    }

    var health: Health {
        if !problems.isEmpty { return .actionNeeded }
        if pending.total > 0 || tiktok.pausedReason != nil || rechecks.members > 0 || !inbox.waiting.isEmpty { return .pending }
        if !warnings.isEmpty { return .warning }
        return .ok
    }

    func encode(to encoder: any Encoder) throws {
        try StatusJSON(self).encode(to: encoder)
    }

    var text: String {
        var lines: [String] = []
        switch health {
        case .ok: lines.append("health: ok")
        case .warning: lines.append("health: ok, with warnings (nothing to do here; tell the partner)")
        case .pending: lines.append("health: working (pending work goes on by itself)")
        case .actionNeeded: lines.append("health: ACTION NEEDED")
        }
        for problem in problems { lines.append("  - \(problem.escapingControlCharacters)") }
        for warning in warnings { lines.append("  ! \(warning.escapingControlCharacters)") }
        if let pid = daemon.pid {
            var line = "daemon: running (pid \(pid))"
            if let intake = daemon.intake {
                line += ", last scan \(intake.lastScanAt)" + (intake.status.isEmpty ? "" : ": \(intake.status.escapingControlCharacters)")
            }
            lines.append(line)
        } else {
            lines.append("daemon: not running" + (daemon.lastSeen.map { " (last scan \($0.lastScanAt))" } ?? ""))
        }
        lines.append("inbox: \(inbox.waiting.count) file(s) waiting, \(inbox.held.count) held")
        for file in inbox.waiting {
            lines.append("  \(file.file.escapingControlCharacters): \(file.reason.escapingControlCharacters) (since \(ISO8601Time.string(Int(file.since))))")
        }
        for file in inbox.held { lines.append("  held/\(file.escapingControlCharacters): approve with `tiktok-audience-sync approve`") }
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
        for segment in Set(pending.bySegment.keys).union((confirmed ?? [:]).keys).sorted() {
            let waiting = pending.bySegment[segment] ?? SegmentChange()
            let members = confirmed.map { "\($0[segment] ?? 0) confirmed at TikTok, " } ?? ""
            lines.append("  segment \(segment): \(members)+\(waiting.adds) -\(waiting.removes) pending")
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
            let rejected = file.rowsRejected > 0 ? ", \(file.rowsRejected) rejected" : ""
            lines.append("  \(file.name.escapingControlCharacters): \(state), \(file.rowsRead) rows\(rejected), +\(file.adds) -\(file.removes)\(file.reason.map { ": \($0)" } ?? "")")
        }
        if files.isEmpty { lines.append("  (none yet)") }
        lines.append("ledger: \(ledgerBytes / 1024) KiB")
        return lines.joined(separator: "\n")
    }

    static func time(_ seconds: Int64) -> String { ISO8601Time.string(Int(seconds)) }
}
