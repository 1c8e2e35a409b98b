import AudienceLedger
import AudienceSupport

/// `status --json`: one naming style (snake_case) and ISO 8601 times throughout.
struct StatusJSON: Encodable {
    struct Daemon: Encodable {
        var running: Bool
        var pid: Int32?
        var last_scan_at: String?
        var status: String?
        var inbox_error: String?
    }

    struct Waiting: Encodable {
        var file: String
        var reason: String
        var since: String
        var needs_action: Bool
    }

    struct Inbox: Encodable {
        var waiting: [Waiting]
        var held: [String]
    }

    struct Pending: Encodable {
        var adds: Int
        var removes: Int
        var by_segment: [String: SegmentChange]
    }

    struct Parked: Encodable {
        var segment: String
        var adds: Int
        var removes: Int
        var code: Int?
        var message: String
        var request_id: String?
        var parked_at: String
    }

    struct File: Encodable {
        var name: String
        var outcome: String
        var kind: String?
        var rows_read: Int
        var rows_rejected: Int
        var members: Int
        var adds: Int
        var removes: Int
        var reason: String?
        var planned_at: String
        var confirmed_at: String?
        var archived_as: String?
        var duplicates_seen: Int
        var receipt: String?
    }

    struct LastError: Encodable {
        var at: String
        var code: Int?
        var http_status: Int?
        var message: String
        var request_id: String?
        var segments: [String]
    }

    struct TikTok: Encodable {
        var last_success_at: String?
        var last_error: LastError?
        var paused_reason: String?
        var paused_kind: String?
        var paused_at: String?
    }

    struct Unanswered: Encodable {
        var members: Int
        var resend_at: String?
    }

    var health: String
    var problems: [String]
    /// Worth a look, nothing to do here: recent files with rejected rows.
    var warnings: [String]
    var daemon: Daemon
    var inbox: Inbox
    var pending: Pending
    var unanswered: Unanswered
    var parked: [Parked]
    /// Only with `--count`.
    var confirmed: [String: Int]?
    var files: [File]
    var tiktok: TikTok
    var ledger_bytes: Int64

    init(_ document: StatusDocument) {
        let time = StatusDocument.time
        health = document.health.rawValue
        problems = document.problems
        warnings = document.warnings
        let intake = document.daemon.intake ?? document.daemon.lastSeen
        daemon = Daemon(
            running: document.daemon.pid != nil, pid: document.daemon.pid, last_scan_at: intake?.lastScanAt,
            status: document.daemon.intake?.status, inbox_error: document.daemon.intake?.inboxError)
        inbox = Inbox(
            waiting: document.inbox.waiting.map {
                Waiting(file: $0.file, reason: $0.reason, since: ISO8601Time.string(Int($0.since)), needs_action: $0.needsAction)
            },
            held: document.inbox.held)
        pending = Pending(adds: document.pending.adds, removes: document.pending.removes, by_segment: document.pending.bySegment)
        unanswered = Unanswered(members: document.rechecks.members, resend_at: document.rechecks.next.map(time))
        parked = document.parked.map {
            Parked(
                segment: $0.segment, adds: $0.adds, removes: $0.removes, code: $0.code, message: $0.message, request_id: $0.requestID,
                parked_at: time($0.parkedAt))
        }
        confirmed = document.confirmed
        files = document.files.map {
            File(
                name: $0.name, outcome: $0.outcome.rawValue, kind: $0.kind?.rawValue, rows_read: $0.rowsRead, rows_rejected: $0.rowsRejected,
                members: $0.members, adds: $0.adds, removes: $0.removes, reason: $0.reason, planned_at: time($0.plannedAt),
                confirmed_at: $0.confirmedAt.map(time), archived_as: $0.archivedAs, duplicates_seen: $0.duplicatesSeen,
                receipt: $0.receipt)
        }
        let health = document.tiktok
        tiktok = TikTok(
            last_success_at: health.lastSuccessAt.map(time),
            last_error: health.lastError.map {
                LastError(
                    at: time($0.at), code: $0.code, http_status: $0.httpStatus, message: $0.message, request_id: $0.requestID,
                    segments: $0.segments)
            },
            paused_reason: health.pausedReason, paused_kind: health.pausedKind, paused_at: health.pausedAt.map(time))
        ledger_bytes = document.ledgerBytes
    }
}
