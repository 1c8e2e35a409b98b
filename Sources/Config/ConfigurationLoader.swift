import Configuration
import Foundation
import Yams
import AudienceModel
import AudienceSupport

/// Reads the YAML configuration file with every key overridable from the environment
/// (`tiktok.base_url` ← `TIKTOK_AUDIENCE_SYNC_TIKTOK_BASE_URL`). Every value is read as text and
/// parsed here, so a malformed value is an error naming its key instead of a silent default.
public enum ConfigurationLoader {
    public static let defaultPath = "/etc/tiktok-audience-sync/config.yaml"
    static let environmentPrefix = "tiktok_audience_sync"

    public static func load(path: String, environment: [String: String]) async throws -> Configuration {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigurationError(
                file: path, key: nil,
                "cannot read the file; create it from etc/config.yaml or pass --config FILE")
        }
        let text: String
        let tree: Node?
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
            tree = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: path, key: nil, "is not valid YAML: \(error)")
        }
        if tree?.mapping?["tiktok"]?.mapping?["access_token"] != nil || tree?.mapping?["access_token"] != nil {
            throw ConfigurationError(
                file: path, key: "tiktok.access_token",
                "the token must not be in the configuration file; use TIKTOK_ACCESS_TOKEN, the systemd credential tiktok-access-token, or tiktok.access_token_file")
        }
        if let tree, let unknown = ConfigurationKeys.unknown(in: tree) {
            throw ConfigurationError(
                file: path, key: nil,
                "\(unknown.key) is not a configuration key"
                    + (unknown.nearest.map { "; did you mean \($0)?" } ?? "; see etc/config.yaml for the keys there are"))
        }
        for section in ConfigurationKeys.sections.keys.sorted() + ["partners"] {
            if let node = tree?.mapping?[section], node.mapping == nil, node.scalar?.string.isEmpty == false || node.sequence != nil {
                throw ConfigurationError(file: path, key: section, "must be a section of keys (see etc/config.yaml), not a single value")
            }
        }
        // The YAML is parsed once: the tree above, its values handed to the reader as they are.
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let tree { try flatten(tree, at: [], into: &values, file: path) }
        let reader = ConfigReader(providers: [
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ConfigKey(environmentPrefix)),
            InMemoryProvider(name: path, values: values),
        ])
        let partnerNames = (tree?.mapping?["partners"]?.mapping?.keys.compactMap(\.string) ?? []).sorted()
        return try Keys(reader: reader, file: path).configuration(partnerNames: partnerNames)
    }

    /// Every value of the YAML tree under its dotted key (`tiktok.base_url`), as text; a list of
    /// values (a partner's segments) as a list of text.
    /// Keys are joined with dots and split again as the reader splits the keys it is asked for,
    /// so that a dotted name (a partner folder `acme.eu`, a flat `tiktok.base_url:`) is found.
    static func flatten(
        _ node: Node, at path: [String], into values: inout [AbsoluteConfigKey: ConfigValue], file: String
    ) throws {
        let key = AbsoluteConfigKey(ConfigKey(path.joined(separator: ".")))
        switch node {
        case .mapping(let mapping):
            for (name, value) in mapping {
                guard let name = name.string else { continue }
                try flatten(value, at: path + [name], into: &values, file: file)
            }
        case .sequence(let sequence):
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let scalar) = item else {
                    throw ConfigurationError(file: file, key: path.joined(separator: "."), "must be a list of plain values")
                }
                items.append(scalar.string)
            }
            values[key] = ConfigValue(.stringArray(items), isSecret: false)
        case .scalar(let scalar):
            values[key] = ConfigValue(.string(scalar.string), isSecret: false)
        case .alias:
            break
        }
    }
}

/// Typed, validated reads of each key.
private struct Keys {
    let reader: ConfigReader
    let file: String

    func configuration(partnerNames: [String]) throws -> Configuration {
        var tiktok = Configuration.TikTok(advertiserID: try digits("tiktok.advertiser_id"))
        tiktok.baseURL = try url("tiktok.base_url") ?? tiktok.baseURL
        tiktok.accessTokenFile = text("tiktok.access_token_file")
        tiktok.requestsPerSecond = try number("tiktok.requests_per_second", in: 0.1...1000) ?? tiktok.requestsPerSecond
        tiktok.maxInFlight = try integer("tiktok.max_in_flight", in: 1...64) ?? tiktok.maxInFlight
        tiktok.maxUsersPerRequest = try integer("tiktok.max_users_per_request", in: 1...10_000) ?? tiktok.maxUsersPerRequest
        tiktok.maxAttempts = try integer("tiktok.max_attempts", in: 1...100) ?? tiktok.maxAttempts
        tiktok.initialBackoffMilliseconds =
            try integer("tiktok.initial_backoff_ms", in: 1...600_000) ?? tiktok.initialBackoffMilliseconds
        tiktok.requestTimeoutSeconds =
            try integer("tiktok.request_timeout_seconds", in: 1...600) ?? tiktok.requestTimeoutSeconds
        tiktok.resendUnansweredAfterSeconds = try integer("tiktok.resend_unanswered_after_seconds", in: 1...86_400)
        if let resend = tiktok.resendUnansweredAfterSeconds, resend < tiktok.requestTimeoutSeconds {
            throw ConfigurationError(
                file: file, key: "tiktok.resend_unanswered_after_seconds",
                "must be at least tiktok.request_timeout_seconds (\(tiktok.requestTimeoutSeconds)), better twice it: a request without an answer may land that late")
        }
        var configuration = Configuration(
            inbox: try required("inbox"), stateDirectory: try required("state_directory"), tiktok: tiktok, source: file)
        configuration.identifiers = try identifierRules()
        configuration.metricsListen = try listenAddress("metrics.listen")
        configuration.settleSeconds = try number("settle_seconds", in: 0...86_400) ?? configuration.settleSeconds
        configuration.rescanSeconds = try number("rescan_seconds", in: 0.1...86_400) ?? configuration.rescanSeconds
        configuration.incompleteUploadSeconds =
            try number("incomplete_upload_seconds", in: 1...(30 * 86_400)) ?? configuration.incompleteUploadSeconds
        if let percent = try number("max_snapshot_removal_percent", in: 0...100) {
            configuration.maxSnapshotRemovalPercent = percent >= 100 ? nil : percent
        }
        if let bytes = try integer("max_decompressed_bytes", in: 1...Int(Int64.max)) {
            configuration.maxDecompressedBytes = Int64(bytes)
        }
        configuration.retention = try retention()
        if !partnerNames.isEmpty {
            var partners: [String: Configuration.Partner] = [:]
            for name in partnerNames {
                guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
                    throw ConfigurationError(file: file, key: "partners", "partner name \(name) must be a plain folder name")
                }
                let key = "partners.\(name).segments"
                let segments = reader.stringArray(forKey: ConfigKey(key)) ?? []
                for segment in segments where SegmentID(segment) == nil {
                    throw ConfigurationError(file: file, key: key, "\(segment) is not a TikTok audience id (1 to 19 digits)")
                }
                partners[name] = Configuration.Partner(
                    name: name, segments: Set(segments), maidType: try maidType("partners.\(name).maid_type"))
            }
            configuration.partners = partners
        }
        return configuration
    }

    /// The `identifiers:` section; `tiktok.maid_type` is the older spelling of `identifiers.maid_type`.
    func identifierRules() throws -> IdentifierRules {
        var rules = IdentifierRules()
        rules.emailRemovesPlusTag = try boolean("identifiers.email_remove_plus_tag") ?? rules.emailRemovesPlusTag
        rules.emailRemovesDots = try boolean("identifiers.email_remove_dots") ?? rules.emailRemovesDots
        if let form = text("identifiers.phone_format") {
            guard let parsed = IdentifierRules.PhoneForm(rawValue: form.lowercased()) else {
                throw ConfigurationError(
                    file: file, key: "identifiers.phone_format",
                    "must be digits (TikTok's help page: country code and number, no +) or e164 (with +), not \(form)")
            }
            rules.phoneForm = parsed
        }
        if let hex32 = text("identifiers.maid_32_hex") {
            guard let parsed = IdentifierRules.MAID32Hex(rawValue: hex32.lowercased()) else {
                throw ConfigurationError(
                    file: file, key: "identifiers.maid_32_hex",
                    "must be md5 (a maid of 32 hex digits is the MAID's MD5), uuid (a UUID without its hyphens) or reject, not \(hex32)")
            }
            rules.maid32Hex = parsed
        }
        let older = try maidType("tiktok.maid_type")
        let newer = try maidType("identifiers.maid_type")
        if let older, let newer, older != newer {
            throw ConfigurationError(
                file: file, key: "identifiers.maid_type",
                "says \(newer.rawValue) but tiktok.maid_type (its older spelling) says \(older.rawValue); keep one")
        }
        rules.maidType = newer ?? older
        return rules
    }

    /// The `retention:` section: days, 0 for ever.
    func retention() throws -> Configuration.Retention {
        var retention = Configuration.Retention()
        for folder in StateFolder.allCases {
            if let days = try integer("retention.\(folder.rawValue)_days", in: 0...36_500) { retention.days[folder] = days }
        }
        retention.fileHistoryDays = try integer("retention.file_history_days", in: 0...36_500) ?? retention.fileHistoryDays
        return retention
    }

    /// `host:port` (`127.0.0.1:9464`, `[::1]:9464`).
    func listenAddress(_ key: String) throws -> Configuration.ListenAddress? {
        guard let value = text(key) else { return nil }
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]), (1...65_535).contains(port)
        else {
            throw ConfigurationError(file: file, key: key, "must be host:port, like 127.0.0.1:9464, not \(value)")
        }
        var host = String(value[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigurationError(file: file, key: key, "needs a host, like 127.0.0.1:\(port)") }
        return Configuration.ListenAddress(host: host, port: port)
    }

    func maidType(_ key: String) throws -> MAIDType? {
        guard let value = text(key) else { return nil }
        guard let type = MAIDType(partnerValue: value) else {
            throw ConfigurationError(file: file, key: key, "must be idfa (iOS) or aaid (Android; gaid also works), not \(value)")
        }
        return type
    }

    func boolean(_ key: String) throws -> Bool? {
        guard let value = text(key) else { return nil }
        switch value.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigurationError(file: file, key: key, "must be true or false, not \(value)")
        }
    }

    func text(_ key: String) -> String? {
        guard let value = reader.string(forKey: ConfigKey(key))?.trimmingCharacters(in: " \t"), !value.isEmpty else {
            return nil
        }
        return value
    }

    func required(_ key: String) throws -> String {
        guard let value = text(key) else { throw ConfigurationError(file: file, key: key, "is missing") }
        return value
    }

    func digits(_ key: String) throws -> String {
        let value = try required(key)
        guard SegmentID(value) != nil else {
            throw ConfigurationError(file: file, key: key, "must be a string of up to 19 digits, not \(value)")
        }
        return value
    }

    func url(_ key: String) throws -> String? {
        guard let value = text(key) else { return nil }
        guard value.hasPrefix("https://") || value.hasPrefix("http://") else {
            throw ConfigurationError(file: file, key: key, "must be an http:// or https:// URL, not \(value)")
        }
        return value
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = text(key) else { return nil }
        guard let number = Double(value), range.contains(number) else {
            throw ConfigurationError(file: file, key: key, "must be a number from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
        return number
    }

    func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = text(key) else { return nil }
        guard let number = Int(value), range.contains(number) else {
            throw ConfigurationError(file: file, key: key, "must be a whole number from \(range.lowerBound) to \(range.upperBound), not \(value)")
        }
        return number
    }
}
