import Foundation

/// Times as operators read them: ISO 8601 in UTC, `2026-12-01T20:06:05Z`.
public enum ISO8601Time {
    public static func string(_ secondsSince1970: Int) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(secondsSince1970)))
    }
}

extension Int {
    /// The number with a comma every three digits: `12,345`.
    public var groupedDigits: String {
        let digits = String(magnitude)
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        return (self < 0 ? "-" : "") + grouped
    }
}
