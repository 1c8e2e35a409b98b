import Yams

/// The keys the configuration file may hold. Any other key is refused, naming the nearest known
/// one: a misspelt key (`setle_seconds`, `partner:`) must not be ignored in silence.
enum ConfigurationKeys {
    static let topLevel: Set<String> = [
        "inbox", "state_directory", "settle_seconds", "rescan_seconds", "incomplete_upload_seconds",
        "max_snapshot_removal_percent", "max_decompressed_bytes", "tiktok", "identifiers", "partners", "metrics",
        "retention",
    ]
    /// The sections of keys (`tiktok:`, ...) and the keys each may hold; `partners:` is apart
    /// (a folder name, then ``partner``'s keys).
    static let sections: [String: Set<String>] = [
        "tiktok": [
            "base_url", "advertiser_id", "access_token_file", "requests_per_second", "max_in_flight", "max_users_per_request", "maid_type",
            "max_attempts", "initial_backoff_ms", "request_timeout_seconds", "resend_unanswered_after_seconds",
            // Refused with its own message (the token never goes in the file).
            "access_token",
        ],
        "identifiers": ["email_remove_plus_tag", "email_remove_dots", "phone_format", "maid_type", "maid_32_hex"],
        "metrics": ["listen"],
        "retention": ["archive_days", "rejected_days", "held_days", "receipts_days", "file_history_days"],
    ]
    static let partner: Set<String> = ["segments", "maid_type"]

    /// The first key of `tree` that is not a known one, dotted, with the nearest known key.
    static func unknown(in tree: Node) -> (key: String, nearest: String?)? {
        guard let root = tree.mapping else { return nil }
        for (key, value) in root {
            guard let name = key.string else { continue }
            guard topLevel.contains(name) else { return (name, nearest(name, in: topLevel)) }
            if let known = sections[name], let mapping = value.mapping {
                for case let key? in mapping.keys.map(\.string) where !known.contains(key) {
                    return ("\(name).\(key)", nearest(key, in: known).map { "\(name).\($0)" })
                }
            }
            if name == "partners", let partners = value.mapping {
                for (partnerKey, settings) in partners {
                    guard let partner = partnerKey.string, let mapping = settings.mapping else { continue }
                    for case let key? in mapping.keys.map(\.string) where !self.partner.contains(key) {
                        return ("partners.\(partner).\(key)", "partners.\(partner)." + (nearest(key, in: self.partner) ?? "segments"))
                    }
                }
            }
        }
        return nil
    }

    /// The known key closest to `key` by edit distance, when it is close enough to be a typo.
    static func nearest(_ key: String, in known: Set<String>) -> String? {
        let best = known.map { ($0, distance(key, $0)) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        guard let best, best.1 <= max(2, key.count / 3) else { return nil }
        return best.0
    }

    /// Levenshtein distance over characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(1, b.count) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
