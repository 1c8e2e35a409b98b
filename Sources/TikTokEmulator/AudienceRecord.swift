/// One emulated audience ("segment") and its members.
struct AudienceRecord: Sendable {
    /// TikTok cuts audience names longer than this to 67 characters and "...".
    static let maximumNameLength = 70
    /// TikTok reports `cover_num` as 0 until an audience has matched this many members.
    static let minimumReportedSize = 1_000

    let id: String
    let name: String
    /// `yyyy-MM-dd HH:mm:ss` in UTC, as TikTok writes it.
    let createTime: String
    /// TikTok's `audience_type`: "Partner" for audiences made through `/segment/audience/`, the
    /// only kind `/segment/mapping/` writes to; "Customer File" and others are made in TikTok's UI.
    var audienceType = "Partner"
    var isValid = true
    /// When set, the audience expires then (`is_expiring` within 60 days of it, as TikTok's docs
    /// say, and `is_valid` false after), as TikTok expires audiences left unused.
    var expiresAt: Int?
    var members: Set<EmulatorMember> = []
    /// Until then `/segment/mapping/` refuses it, as TikTok refuses writes to an audience made
    /// moments ago.
    var notReadyUntil: ContinuousClock.Instant?

    init(id: String, name: String, createdAt secondsSince1970: Int = WallClock.secondsSince1970()) {
        self.id = id
        self.name = name.count > Self.maximumNameLength ? String(name.prefix(Self.maximumNameLength - 3)) + "..." : name
        self.createTime = Self.timestamp(secondsSince1970: secondsSince1970)
    }

    var isPartner: Bool { audienceType == "Partner" }

    /// The emulator "matches" every member, then hides small audiences like TikTok does.
    var coverNumber: Int {
        self.members.count >= Self.minimumReportedSize ? self.members.count : 0
    }

    /// The fields of `audience_details` TIKTOK_API.md lists, as TikTok spells them.
    func details(now: Int = WallClock.secondsSince1970()) -> JSONValue {
        let expired = expiresAt.map { $0 <= now } ?? false
        var fields = [
            JSONMember("audience_id", .string(self.id)),
            JSONMember("name", .string(self.name)),
            JSONMember("audience_type", .string(self.audienceType)),
            JSONMember("cover_num", .int(self.coverNumber)),
            JSONMember("is_valid", .bool(self.isValid && !expired)),
            JSONMember("is_expiring", .bool(expiresAt.map { !expired && $0 - now <= 60 * 86_400 } ?? false)),
            JSONMember("shared", false),
            JSONMember("is_creator", true),
            JSONMember("create_time", .string(self.createTime)),
        ]
        if let expiresAt { fields.append(JSONMember("expired_time", .string(Self.timestamp(secondsSince1970: expiresAt)))) }
        return .object(fields)
    }

    /// Formats a Unix time as `yyyy-MM-dd HH:mm:ss` (UTC) without a calendar dependency.
    static func timestamp(secondsSince1970 seconds: Int) -> String {
        let days = seconds.floorDivided(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        // Civil-from-days (Howard Hinnant's algorithm).
        let shifted = days + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int, _ width: Int = 2) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month))-\(pad(day)) "
            + "\(pad(secondOfDay / 3_600)):\(pad(secondOfDay % 3_600 / 60)):\(pad(secondOfDay % 60))"
    }
}

extension Int {
    fileprivate func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
