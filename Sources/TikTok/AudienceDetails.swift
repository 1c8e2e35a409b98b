import Foundation

/// An audience as `/dmp/custom_audience/get/` and `/list/` describe it (TIKTOK_API.md, "Read
/// segments"). Every field but the id may be missing, and one of an unexpected JSON type counts
/// as missing: a lookup must not fail because TikTok added or changed a field.
public struct AudienceDetails: Sendable, Equatable, Decodable {
    public var id: String
    public var name: String?
    /// "Partner", "Customer File Audience", "Lookalike Audience", ...
    public var audienceType: String?
    /// Members TikTok matched; 0 until at least 1,000 are.
    public var coverNumber: Int?
    /// False while TikTok computes the audience, and once it has expired.
    public var isValid: Bool?
    /// True within 60 days of `expiredTime`.
    public var isExpiring: Bool?
    /// When TikTok expires the audience (it expires audiences left unused), in seconds since 1970.
    public var expiresAt: Int?
    public var createdAt: Int?
    public var shared: Bool?
    public var isCreator: Bool?

    /// Only Partner audiences take member changes through the API; nil when TikTok did not say.
    public var isPartner: Bool? { audienceType.map { $0.lowercased().hasPrefix("partner") } }

    public init(id: String, name: String? = nil, audienceType: String? = nil) {
        self.id = id
        self.name = name
        self.audienceType = audienceType
    }

    enum CodingKeys: String, CodingKey {
        case id = "audience_id"
        case name
        case audienceType = "audience_type"
        case coverNumber = "cover_num"
        case isValid = "is_valid"
        case isExpiring = "is_expiring"
        case expiredTime = "expired_time"
        case createTime = "create_time"
        case shared
        case isCreator = "is_creator"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        name = try? container.decodeIfPresent(String.self, forKey: .name)
        audienceType = try? container.decodeIfPresent(String.self, forKey: .audienceType)
        coverNumber = try? container.decodeIfPresent(Int.self, forKey: .coverNumber)
        isValid = try? container.decodeIfPresent(Bool.self, forKey: .isValid)
        isExpiring = try? container.decodeIfPresent(Bool.self, forKey: .isExpiring)
        expiresAt = (try? container.decodeIfPresent(String.self, forKey: .expiredTime)).flatMap { $0.flatMap(Self.seconds) }
        createdAt = (try? container.decodeIfPresent(String.self, forKey: .createTime)).flatMap { $0.flatMap(Self.seconds) }
        shared = try? container.decodeIfPresent(Bool.self, forKey: .shared)
        isCreator = try? container.decodeIfPresent(Bool.self, forKey: .isCreator)
    }

    /// TikTok's `yyyy-MM-dd HH:mm:ss` (GMT) as seconds since 1970.
    static func seconds(_ text: String) -> Int? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text.trimmingCharacters(in: .whitespaces)).map { Int($0.timeIntervalSince1970) }
    }
}

/// One page of `/dmp/custom_audience/list/`.
public struct AudiencePage: Sendable, Equatable {
    public var audiences: [AudienceDetails]
    public var page: Int
    public var totalPages: Int
    public var total: Int
}

/// TikTok's answer to a call that reads or changes audiences: what it gave, or its refusal.
public enum AudienceAnswer<Value: Sendable & Equatable>: Sendable, Equatable {

    case answered(Value)
    /// TikTok's code and message, and what to do where a code calls for it.
    case refused(summary: String, code: Int?)
}
