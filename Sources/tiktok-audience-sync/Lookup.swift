import ArgumentParser
import Foundation
import AudienceConfig
import AudienceLedger
import AudienceModel
import AudienceReading
import AudienceSupport
import AudienceTikTok

extension AudienceSyncCommand {
    struct Lookup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trace one member: per segment the wish, what TikTok confirmed, the files that changed it, the last request that carried it.",
            discussion: """
                Answers "was this person sent, and when?". The value is hashed here as files are hashed (the
                configuration's identifier rules) and only its hash is looked up: nothing plain is stored, logged
                or printed (the hash shows by its first 12 digits). --email and --phone also take a SHA-256 of
                64 hex digits. A MAID without --maid-type is looked up as an IDFA and as an AAID. Files are
                listed newest first, as far back as the ledger remembers them (retention.file_history_days).
                Reads the ledger only: it works beside the running daemon and needs no token. Exits 0 (also
                when the ledger knows nothing of the member), 65 for a value that is not an identifier.
                Example: tiktok-audience-sync lookup --config /etc/tiktok-audience-sync/config.yaml --email jane@example.com
                """)

        @OptionGroup var options: ConfigOptions

        @Option(help: "A plain email address, or its SHA-256 (64 hex digits).")
        var email: String?

        @Option(help: "A plain phone number with its country code, or its SHA-256 (64 hex digits).")
        var phone: String?

        @Option(help: "A MAID: a UUID, or its SHA-256 or MD5 in hex.")
        var maid: String?

        @Option(help: "The MAID's type, idfa or aaid (default: both are looked up).")
        var maidType: String?

        @Option(name: .customLong("maid-32-hex"), help: "What a maid of 32 hex digits is: md5, uuid or reject (default: the configuration's).")
        var maid32Hex: String?

        @Option(help: "Only this segment (a TikTok audience id).")
        var segment: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            let given = [email, phone, maid].compactMap { $0 }
            guard given.count == 1 else { throw ValidationError("Give exactly one of --email, --phone or --maid.") }
            if let maidType, MAIDType(partnerValue: maidType) == nil { throw ValidationError("--maid-type must be idfa or aaid") }
            if maidType != nil && maid == nil { throw ValidationError("--maid-type goes with --maid") }
            if let maid32Hex, IdentifierRules.MAID32Hex(rawValue: maid32Hex) == nil {
                throw ValidationError("--maid-32-hex must be md5, uuid or reject")
            }
            if let segment, SegmentID(segment) == nil { throw ValidationError("--segment must be a TikTok audience id: 1 to 19 digits") }
        }

        func run() async throws {
            var context = try await CommandContext.load(options, resolveToken: false)
            var rules = context.configuration.identifiers
            if let maid32Hex, let hex32 = IdentifierRules.MAID32Hex(rawValue: maid32Hex) { rules.maid32Hex = hex32 }
            let kind: String
            let candidates: Result<[Member], RejectReason>
            if let email {
                kind = "email"
                candidates = PlainIdentifier.hashed(email, as: .emailSHA256).map { .success([$0]) }
                    ?? PlainIdentifier.member(email, as: .email, rules: rules).map { [$0] }
            } else if let phone {
                kind = "phone"
                candidates = PlainIdentifier.hashed(phone, as: .phoneSHA256).map { .success([$0]) }
                    ?? PlainIdentifier.member(phone, as: .phone, rules: rules).map { [$0] }
            } else {
                kind = "maid"
                let types: [MAIDType] = maidType.flatMap(MAIDType.init(partnerValue:)).map { [$0] } ?? [.idfa, .aaid]
                var members: [Member] = []
                var refusal: RejectReason?
                for type in types {
                    switch PlainIdentifier.member(maid ?? "", as: .maid(type), rules: rules) {
                    case .success(let member): members.append(member)
                    case .failure(let reason): refusal = reason
                    }
                }
                candidates = members.isEmpty ? .failure(refusal ?? .badMAID) : .success(members)
            }
            let members: [Member]
            switch candidates {
            case .success(let found): members = found
            case .failure(let reason):
                // The value is someone's identifier: never repeated.
                throw fail("--\(kind) is not an identifier TikTok takes: \(reason.advice)", Exit.inputRejected, redactor: context.redactor)
            }
            try context.useStateDirectory(readOnly: true)
            let reader = try await context.openLedgerForReading()
            var traces: [MemberTrace] = []
            do {
                for member in members { traces += try await reader.trace(member, segment: segment.flatMap(SegmentID.init)) }
            } catch {
                throw fail(error, redactor: context.redactor)
            }
            let report = LookupReport(
                kind: kind, members: members, rules: rules.summary, traces: traces,
                partnersBySegment: context.configuration.partnersBySegment)
            say(json ? try PrettyJSON.encode(report) : report.text)
        }
    }
}

/// What `lookup` prints: per identifier type and segment, what the ledger knows.
struct LookupReport: Encodable {
    var kind: String
    var members: [Member]
    var rules: String
    var traces: [MemberTrace]
    var partnersBySegment: [String: [String]]

    static func time(_ seconds: Int64) -> String { ISO8601Time.string(Int(seconds)) }

    static func wish(_ desired: Bool?) -> String? { desired.map { $0 ? "in" : "out" } }

    /// What is left to do for the member, in words; nil when TikTok holds the wish.
    static func pending(_ trace: MemberTrace) -> String? {
        guard let desired = trace.desired, let held = trace.held else { return nil }
        if held != .unknown && (held == .member) == desired { return nil }
        let change = desired ? "an add" : "a removal"
        if trace.parked { return "\(change) is parked: TikTok refused the segment; `tiktok-audience-sync retry` once the cause is fixed" }
        if held == .unknown { return "a request got no sure answer (or is being sent): \(change) is sent again" }
        return "\(change) waits to be sent"
    }

    static func request(_ request: SentRequest) -> String {
        let answer: String
        if let code = request.code {
            answer = "code \(ReturnCode.described(code))"
        } else if let status = request.httpStatus {
            answer = "HTTP \(status) without TikTok's answer"
        } else {
            answer = "no answer"
        }
        let action = request.action == .add ? "add" : "delete"
        return "\(time(request.sentAt)) \(action) of \(request.users) user(s), \(answer), request_id=\(request.requestID ?? "-")"
    }

    var text: String {
        var lines: [String] = []
        let hashes = Set(members.map { String($0.sentHex.prefix(12)) + "…" }).sorted().joined(separator: ", ")
        lines.append("\(kind), hashed here as TikTok receives it: \(members.map(\.type.schemaName).joined(separator: " or ")) \(hashes)")
        lines.append("rules: \(rules)")
        if traces.isEmpty {
            lines.append("the ledger knows nothing of this member: no file remembered named it (retention.file_history_days), or not with these rules")
            return lines.joined(separator: "\n")
        }
        for trace in traces {
            let partners = partnersBySegment[trace.segment].map { " (partners: \($0.joined(separator: ", ")))" } ?? ""
            let typed = members.count > 1 ? " as \(trace.type.schemaName)" : ""
            lines.append("segment \(trace.segment)\(typed)\(partners)")
            lines.append("  wish:         \(Self.wish(trace.desired) ?? "out (TikTok confirmed its removal; the ledger keeps no row)")")
            var held: String
            switch trace.held {
            case .member?: held = "in (confirmed)"
            case .notMember?: held = trace.desired == nil ? "out (confirmed)" : "out"
            case .unknown?: held = "unknown"
            case nil: held = "out, as far as the ledger knows"
            }
            if let pending = Self.pending(trace) { held += "; \(pending)" }
            lines.append("  TikTok:       \(held)")
            if let request = trace.lastRequest {
                lines.append("  last request: \(Self.request(request))")
            } else if trace.lastRequestForgotten {
                lines.append("  last request: older than the file history (retention.file_history_days)")
            } else {
                lines.append("  last request: none yet")
            }
            if trace.changes.isEmpty {
                lines.append("  files:        none remembered (older than retention.file_history_days)")
            } else {
                lines.append("  files that changed it, newest first:")
                for change in trace.changes {
                    lines.append("    \(Self.time(change.arrivedAt))  \(change.file.escapingControlCharacters)  \(Self.action(change))")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    static func action(_ change: MemberTrace.Change) -> String {
        switch (change.desired, change.kind) {
        case (true, .snapshot?): "add (in the snapshot)"
        case (false, .snapshot?): "remove (left out of the snapshot)"
        case (true, _): "add"
        case (false, _): "remove"
        }
    }

    // JSON: snake_case and ISO 8601 times, as `status --json`.
    private struct Segment: Encodable {
        var segment: String
        var id_type: String
        var partners: [String]
        var wish: String?
        var tiktok: String?
        var pending: String?
        var parked: Bool
        var last_request: Request?
        var last_request_forgotten: Bool
        var changes: [Change]
    }

    private struct Request: Encodable {
        var sent_at: String
        var action: String
        var users: Int
        var code: Int?
        var code_name: String?
        var http_status: Int?
        var message: String?
        var request_id: String?
    }

    private struct Change: Encodable {
        var file: String
        var arrived_at: String
        var planned_at: String
        var kind: String?
        var action: String
    }

    private enum Keys: String, CodingKey { case identifier, id_types, hash_prefix, rules, segments }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(kind, forKey: .identifier)
        try container.encode(members.map(\.type.schemaName), forKey: .id_types)
        try container.encode(members.first.map { String($0.sentHex.prefix(12)) } ?? "", forKey: .hash_prefix)
        try container.encode(rules, forKey: .rules)
        try container.encode(
            traces.map { trace in
                Segment(
                    segment: trace.segment, id_type: trace.type.schemaName, partners: partnersBySegment[trace.segment] ?? [],
                    wish: Self.wish(trace.desired) ?? "out", tiktok: trace.held?.rawValue, pending: Self.pending(trace),
                    parked: trace.parked,
                    last_request: trace.lastRequest.map {
                        Request(
                            sent_at: Self.time($0.sentAt), action: $0.action == .add ? "add" : "delete", users: $0.users, code: $0.code,
                            code_name: $0.code.flatMap(ReturnCode.name), http_status: $0.httpStatus, message: $0.message,
                            request_id: $0.requestID)
                    },
                    last_request_forgotten: trace.lastRequestForgotten,
                    changes: trace.changes.map {
                        Change(
                            file: $0.file, arrived_at: Self.time($0.arrivedAt), planned_at: Self.time($0.plannedAt), kind: $0.kind?.rawValue,
                            action: $0.desired ? "add" : "remove")
                    })
            }, forKey: .segments)
    }
}
