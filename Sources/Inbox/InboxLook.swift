import AudienceConfig
import AudienceModel
import AudienceSupport

/// The inbox as `status` explains it: each file not taken yet and why, without taking anything.
/// The reasons are the intake's own (``IntakeDecision/arrival(_:readiness:now:rules:)``).
public struct InboxLook: Sendable {
    public struct Waiting: Sendable, Equatable {
        public var file: String
        public var reason: String
        /// When it arrived (seconds since 1970).
        public var since: Double
        /// Whether it needs an operator or a partner (it will be set aside, or cannot be read),
        /// rather than time or the daemon.
        public var needsAction: Bool
    }

    public var waiting: [Waiting] = []
    /// Files in held/ (snapshots that would remove too much), relative to it.
    public var held: [String] = []

    public static func look(_ configuration: Configuration, now: Double? = nil) throws -> InboxLook {
        let now = now ?? clockSeconds()
        let rules = IntakeDecision.Rules(configuration)
        var look = InboxLook()
        var scanner = InboxScanner(
            root: configuration.inbox, excluded: [configuration.stateDirectory], settleSeconds: configuration.settleSeconds)
        scanner.renamesInvalidNames = false  // a look changes nothing
        let listing = try scanner.list()
        for file in listing.files.sorted(by: { ($0.arrived, $0.relativePath) < ($1.arrived, $1.relativePath) }) {
            let readiness = FileReadiness.check(file, settleSeconds: configuration.settleSeconds, now: now)
            let since = min(file.arrived, now)
            let freeBytes = FreeSpace.available(at: configuration.stateDirectory)
            switch IntakeDecision.arrival(file, readiness: readiness, now: now, rules: rules, freeBytes: freeBytes) {
            case .wait(let reason, _, let settling):
                look.waiting.append(Waiting(file: file.relativePath, reason: reason, since: since, needsAction: !settling))
            case .reject(let reason, _):
                look.waiting.append(Waiting(file: file.relativePath, reason: "will be set aside: \(reason)", since: since, needsAction: true))
            case .read:
                look.waiting.append(Waiting(file: file.relativePath, reason: "ready to be taken", since: since, needsAction: false))
            }
        }
        look.held = heldFiles(stateDirectory: configuration.stateDirectory)
        return look
    }

    /// The snapshots in held/, relative to it (their `.reason.txt` notes left out).
    public static func heldFiles(stateDirectory: String) -> [String] {
        var held = InboxScanner(root: StateFolder.held.path(in: stateDirectory))
        held.renamesInvalidNames = false
        let listing = try? held.list()
        return (listing?.files ?? []).map(\.relativePath).filter { !$0.hasSuffix(".reason.txt") }.sorted()
    }
}
