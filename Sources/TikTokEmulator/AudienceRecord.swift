/// One emulated Partner audience ("segment") and its members.
struct AudienceRecord: Sendable {
    /// TikTok cuts audience names longer than this.
    static let maximumNameLength = 70
    /// TikTok reports `cover_num` as 0 until an audience has matched this many members.
    static let minimumReportedSize = 1_000

    let id: String
    let name: String
    /// `yyyy-MM-dd HH:mm:ss` in UTC, as TikTok writes it.
    let createTime: String
    var members: Set<EmulatorMember> = []

    init(id: String, name: String, createdAt secondsSince1970: Int = WallClock.secondsSince1970()) {
        self.id = id
        self.name = String(name.prefix(Self.maximumNameLength))
        self.createTime = Self.timestamp(secondsSince1970: secondsSince1970)
    }

    /// The emulator "matches" every member, then hides small audiences like TikTok does.
    var coverNumber: Int {
        self.members.count >= Self.minimumReportedSize ? self.members.count : 0
    }

    var details: JSONValue {
        .object([
            "audience_id": .string(self.id),
            "name": .string(self.name),
            "type": "Partner",
            "cover_num": .int(self.coverNumber),
            "is_valid": true,
            "create_time": .string(self.createTime),
        ])
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
