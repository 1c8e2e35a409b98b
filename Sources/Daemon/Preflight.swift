import Foundation
import Glibc
import AudienceConfig
import AudienceModel
import AudienceSupport
import AudienceTikTok

/// One line of `check`: what was checked, whether it passed, and what to do if not. A warning
/// passes (exit 0) but says what will go wrong later if nobody acts.
public struct PreflightItem: Sendable, Codable, Equatable {
    public var check: String
    public var passed: Bool
    public var warning: Bool
    public var detail: String
    public var advice: String?

    public init(check: String, passed: Bool, warning: Bool = false, detail: String, advice: String?) {
        self.check = check
        self.passed = passed
        self.warning = warning
        self.detail = detail
        self.advice = advice
    }
}

/// The checks an operator runs after configuring: token, advertiser, segments, folders.
public struct Preflight: Sendable {
    let configuration: Configuration
    let client: TikTokClient?
    let tokenOrigin: String?
    let segments: [String]
    /// The rules the ledger's members were hashed with (``IdentifierRules/hashingKey``).
    let recordedHashingRules: String?
    /// The ledger's type for untyped MAIDs from earlier versions (see ``Ledger``'s setting).
    let legacyMAIDType: MAIDType?

    public init(
        configuration: Configuration, client: TikTokClient?, tokenOrigin: String?, knownSegments: [String],
        recordedHashingRules: String? = nil, legacyMAIDType: MAIDType? = nil
    ) {
        self.legacyMAIDType = legacyMAIDType
        self.configuration = configuration
        self.recordedHashingRules = recordedHashingRules
        self.client = client
        self.tokenOrigin = tokenOrigin
        let partnerSegments = configuration.partners?.values.flatMap(\.segments) ?? []
        segments = Array(Set(partnerSegments).union(knownSegments)).sorted()
    }

    public func run() async -> [PreflightItem] {
        var items = [
            PreflightItem(check: "configuration", passed: true, detail: configuration.source, advice: nil),
            folder("inbox", configuration.inbox),
            folder("state directory", configuration.stateDirectory, createdByRun: true),
        ]
        items += identifierRules()
        guard let client, let tokenOrigin else {
            items.append(
                PreflightItem(
                    check: "access token", passed: false, detail: "none configured",
                    advice: "set the systemd credential tiktok-access-token, TIKTOK_ACCESS_TOKEN or tiktok.access_token_file (tiktok-audience-sync auth writes it)"))
            return items
        }
        items.append(await token(client, origin: tokenOrigin))
        guard items.last?.passed == true else { return items }
        items += await audiences(client)
        return items
    }

    /// The normalisation in effect, and a warning where an untyped MAID would be rejected.
    private func identifierRules() -> [PreflightItem] {
        let changes = recordedHashingRules.map { configuration.identifiers.changes(since: $0) } ?? []
        var items = [
            PreflightItem(
                check: "identifier rules", passed: true, warning: !changes.isEmpty, detail: configuration.identifiers.summary,
                advice: changes.isEmpty ? nil : HashingRulesChange.message(changes))
        ]
        guard configuration.identifiers.maidType == nil else { return items }
        if let legacyMAIDType {
            items.append(
                PreflightItem(
                    check: "MAID type", passed: true, warning: true,
                    detail: "a maid without maid_type is taken as \(legacyMAIDType.rawValue), as earlier versions did (this ledger holds MAIDs sent then)",
                    advice: "IDFA and AAID look alike; set identifiers.maid_type (or partners.NAME.maid_type) to say which your partners send"))
            return items
        }
        let untyped = configuration.partners.map { $0.values.filter { $0.maidType == nil }.map(\.name).sorted() } ?? []
        if configuration.partners == nil || !untyped.isEmpty {
            let whose = configuration.partners == nil ? "any file" : "files of " + untyped.joined(separator: ", ")
            items.append(
                PreflightItem(
                    check: "MAID type", passed: true, warning: true,
                    detail: "no default: a maid without maid_type in \(whose) is rejected",
                    advice: "IDFA and AAID look alike; if partners send untyped MAIDs, set identifiers.maid_type or partners.NAME.maid_type"))
        }
        return items
    }

    /// `createdByRun`: `once` and `run` create the folder (and the folders above it) when it is
    /// missing, so a missing one passes when the nearest folder above it that exists is writable.
    private func folder(_ name: String, _ path: String, createdByRun: Bool = false) -> PreflightItem {
        // Checked as the user this runs as: a root run of `check` acts as the state directory's owner.
        let user = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            guard createdByRun, let parent = Self.nearestExistingFolder(above: path) else {
                return PreflightItem(check: name, passed: false, detail: "\(path) does not exist", advice: "create it (see docs/operations.md)")
            }
            guard access(parent, W_OK | X_OK) == 0 else {
                return PreflightItem(
                    check: name, passed: false, detail: "\(path) does not exist, and \(user) cannot create it in \(parent)",
                    advice: "create it for the daemon's user: install -d -m 0750 -o USER -g USER \(path)")
            }
            return PreflightItem(
                check: name, passed: true, detail: "\(path) does not exist yet; once and run create it (\(parent) is writable by \(user))",
                advice: nil)
        }
        guard access(path, W_OK | R_OK | X_OK) == 0 else {
            return PreflightItem(
                check: name, passed: false, detail: "\(path) is not writable by \(user): \(String(cString: strerror(errno)))",
                advice: "let the daemon's user read and write it")
        }
        return PreflightItem(check: name, passed: true, detail: "\(path) is writable by \(user)", advice: nil)
    }

    /// The closest folder above `path` that exists (nil: none, a relative path's `.` aside).
    static func nearestExistingFolder(above path: String) -> String? {
        var parts = path.split(separator: "/").map(String.init)
        while !parts.isEmpty {
            parts.removeLast()
            let candidate = (path.hasPrefix("/") ? "/" : "") + parts.joined(separator: "/")
            let folder = candidate.isEmpty ? "." : candidate
            var info = stat()
            if stat(folder, &info) == 0 { return (info.st_mode & S_IFMT) == S_IFDIR ? folder : nil }
        }
        return path.hasPrefix("/") ? "/" : "."
    }

    private func token(_ client: TikTokClient, origin: String) async -> PreflightItem {
        do {
            let check = try await client.checkToken()
            guard check.accepted else {
                return PreflightItem(
                    check: "access token", passed: false, detail: "refused: \(check.summary)",
                    advice: "renew it with tiktok-audience-sync auth")
            }
            let name = check.displayName.map { " for \($0)" } ?? ""
            let exposure = TokenSource.exposure(configuration: configuration)
            return PreflightItem(
                check: "access token", passed: true, warning: exposure != nil, detail: "accepted\(name) (from \(origin))",
                advice: exposure)
        } catch {
            return PreflightItem(check: "access token", passed: false, detail: "\(error)", advice: "check tiktok.base_url and outbound HTTPS")
        }
    }

    private func audiences(_ client: TikTokClient) async -> [PreflightItem] {
        let advertiser = "advertiser \(client.advertiserID)"
        let found: [String: AudienceDetails]
        do {
            switch try await client.audienceDetails(ids: segments) {
            case .answered(let details):
                found = details
            case .refused(let summary, let code):
                return [
                    PreflightItem(
                        check: advertiser, passed: false, detail: "refused: \(summary)",
                        advice: ReturnCodeAdvice.forCode(code)
                            ?? "check tiktok.advertiser_id and that the token has Audience Management for it")
                ]
            }
        } catch {
            return [PreflightItem(check: advertiser, passed: false, detail: "\(error)", advice: nil)]
        }
        var items = [PreflightItem(check: advertiser, passed: true, detail: "reachable", advice: nil)]
        let now = Int(clockSeconds())
        for segment in segments {
            items.append(SegmentAssessment.item(segment: segment, details: found[segment], advertiser: client.advertiserID, now: now))
        }
        return items
    }
}

/// What to say when the rules plain identifiers are hashed with differ from the ledger's.
enum HashingRulesChange {
    static func message(_ changes: [String]) -> String {
        "the rules plain emails and phones are hashed with differ from those the ledger's members were sent with ("
            + changes.joined(separator: ", ")
            + "): members sent before keep their old hashes at TikTok until a snapshot of their segment replaces them, and a delta removing one misses it. Send a snapshot of each segment fed plain emails or phones, or set the old rule under identifiers: to keep it"
    }
}
