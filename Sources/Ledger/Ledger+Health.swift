import Foundation
import AudienceModel

/// What the operator needs to know about TikTok's side: when it last took a change, the last
/// error with its code and request_id, and why sending is paused, if it is.
public struct TikTokHealth: Sendable, Codable, Equatable {
    public struct LastError: Sendable, Codable, Equatable {
        public var at: Int64
        public var code: Int?
        public var httpStatus: Int?
        public var message: String
        public var requestID: String?
        public var segments: [String]

        enum CodingKeys: String, CodingKey {
            case at, code, message, segments
            case httpStatus = "http_status"
            case requestID = "request_id"
        }
    }

    public var lastSuccessAt: Int64?
    public var lastError: LastError?
    public var pausedReason: String?
    /// What kind of pause, as a metric label: `token_refused`, `unreachable`, ...
    public var pausedKind: String?
    public var pausedAt: Int64?

    enum CodingKeys: String, CodingKey {
        case lastSuccessAt = "last_success_at"
        case lastError = "last_error"
        case pausedReason = "paused_reason"
        case pausedKind = "paused_kind"
        case pausedAt = "paused_at"
    }

    public init() {}
}

extension LedgerConnection {
    func tiktokHealth() throws -> TikTokHealth {
        let statement = try connection.prepare("SELECT value FROM setting WHERE key = 'tiktok_health'")
        defer { statement.reset() }
        guard try statement.step() else { return TikTokHealth() }
        return (try? JSONDecoder().decode(TikTokHealth.self, from: Data(statement.string(0).utf8))) ?? TikTokHealth()
    }
}

extension Ledger {
    /// Folds one sending pass into the recorded health.
    public func recordSendPass(_ report: SendReport, now: Int64) throws {
        var health = try connection.tiktokHealth()
        if report.acknowledged > 0 { health.lastSuccessAt = now }
        if let failure = report.failures.last {
            health.lastError = .init(
                at: now, code: failure.code, httpStatus: failure.httpStatus, message: failure.message,
                requestID: failure.requestID, segments: failure.segments)
        }
        if let reason = report.pausedReason {
            if health.pausedReason == nil { health.pausedAt = now }
            health.pausedReason = reason
            health.pausedKind = report.pause?.kind.label
        } else if report.requests > 0 {
            health.pausedReason = nil
            health.pausedKind = nil
            health.pausedAt = nil
        }
        let text = String(decoding: try JSONEncoder().encode(health), as: UTF8.self)
        try withConnection { ledger in
            let statement = try ledger.connection.prepare(
                "INSERT INTO setting (key, value) VALUES ('tiktok_health', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            statement.bind(1, text)
            try statement.run()
        }
    }

}

extension LedgerReader {
    public func tiktokHealth() throws -> TikTokHealth {
        try withConnection { try $0.tiktokHealth() }
    }

    /// The ledger file's size in bytes, with its write-ahead log.
    public func sizeOnDisk() -> Int64 {
        [path, path + "-wal"].reduce(Int64(0)) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }
}
