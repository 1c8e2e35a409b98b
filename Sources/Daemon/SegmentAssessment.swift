import AudienceSupport
import AudienceTikTok

/// What `check` says of one configured segment, from what TikTok says of the audience: it must
/// exist, be a Partner audience (the only kind `/segment/mapping/` writes to) and not be expired;
/// expiring soon, not valid yet or of a type TikTok did not say is a warning.
enum SegmentAssessment {
    static let createAdvice =
        "create a Partner audience with `tiktok-audience-sync segments create NAME` and put its id under partners:"

    static func item(segment: String, details: AudienceDetails?, advertiser: String, now: Int) -> PreflightItem {
        let check = "segment \(segment)"
        guard let details else {
            return PreflightItem(
                check: check, passed: false, detail: "not found for advertiser \(advertiser)",
                advice: "fix the id under partners:, or " + createAdvice)
        }
        let detail = describe(details, now: now)
        switch details.isPartner {
        case false?:
            return PreflightItem(
                check: check, passed: false, detail: detail,
                advice: "TikTok takes member changes only for Partner audiences, not \(details.audienceType ?? "this type"); " + createAdvice)
        case nil:
            return PreflightItem(
                check: check, passed: true, warning: true, detail: detail,
                advice: "TikTok did not say the audience's type; member changes are refused unless it is a Partner audience")
        case true?:
            break
        }
        if let expiresAt = details.expiresAt, expiresAt <= now {
            return PreflightItem(
                check: check, passed: false, detail: detail,
                advice: "TikTok expired the audience on \(day(expiresAt)); " + createAdvice)
        }
        var advice: [String] = []
        if details.isExpiring == true || details.expiresAt.map({ $0 - now <= 60 * 86_400 }) == true {
            let when = details.expiresAt.map { " on \(day($0))" } ?? " soon"
            advice.append("TikTok expires this audience\(when) (audiences left unused expire); use it in an ad group, or plan a new one")
        }
        if details.isValid == false {
            advice.append("TikTok says the audience is not valid now (it may still be computing); look again in an hour")
        }
        return PreflightItem(
            check: check, passed: true, warning: !advice.isEmpty, detail: detail,
            advice: advice.isEmpty ? nil : advice.joined(separator: "; "))
    }

    /// "Spring buyers, Partner, 12,345 matched, expires 2027-03-01".
    static func describe(_ details: AudienceDetails, now: Int) -> String {
        var parts = [details.name ?? "unnamed", details.audienceType ?? "type not given"]
        switch details.coverNumber {
        case 0?: parts.append("under 1,000 matched")
        case let count?: parts.append("\(count.groupedDigits) matched")
        case nil: break
        }
        if details.isValid == false { parts.append("not valid") }
        if let expiresAt = details.expiresAt { parts.append((expiresAt <= now ? "expired " : "expires ") + day(expiresAt)) }
        return parts.joined(separator: ", ")
    }

    /// A Unix time as its UTC day, `yyyy-MM-dd`.
    static func day(_ seconds: Int) -> String {
        String(ISO8601Time.string(seconds).prefix(10))
    }
}
