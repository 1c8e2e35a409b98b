import AudienceConfig
import AudienceLedger
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

    /// `arrivals`: the first-seen times the ledger remembers, so that files are listed, and wait
    /// behind one another, exactly as the intake takes them (``IntakeDecision/Line``).
    public static func look(_ configuration: Configuration, arrivals: [ArrivalKey: Double] = [:], now: Double? = nil) throws -> InboxLook {
        let now = now ?? clockSeconds()
        let rules = IntakeDecision.Rules(configuration)
        var look = InboxLook()
        var scanner = InboxScanner(
            root: configuration.inbox, excluded: [configuration.stateDirectory], settleSeconds: configuration.settleSeconds)
        scanner.renamesInvalidNames = false  // a look changes nothing
        let listing = try scanner.list()
        var line = IntakeDecision.Line()
        for file in IntakeDecision.Line.ordered(listing.files, arrivals: arrivals) {
            let since = min(file.arrived, now)
            let readiness = FileReadiness.check(file, settleSeconds: configuration.settleSeconds, now: now)
            let freeBytes = FreeSpace.available(at: configuration.stateDirectory)
            let decision = IntakeDecision.arrival(file, readiness: readiness, now: now, rules: rules, freeBytes: freeBytes)
            // Taken by the daemon since the listing: not waiting, and nothing to act on.
            if decision == .gone { continue }
            if let behind = line.waitsBehind(file) {
                // Its turn has not come; what will be wrong with it then is said already.
                var reason = behind.description
                var needsAction = false
                switch decision {
                case .wait(let own, _) where own.needsAction:
                    reason += "; then: \(own.description)"
                    needsAction = true
                case .reject(let own, _):
                    reason += "; then it will be set aside: \(own)"
                    needsAction = true
                default: break
                }
                look.waiting.append(Waiting(file: file.relativePath, reason: reason, since: since, needsAction: needsAction))
                continue
            }
            switch decision {
            case .wait(let reason, _):
                line.stays(file)
                look.waiting.append(Waiting(file: file.relativePath, reason: reason.description, since: since, needsAction: reason.needsAction))
            case .reject(let reason, _):
                look.waiting.append(Waiting(file: file.relativePath, reason: "will be set aside: \(reason)", since: since, needsAction: true))
            case .read:
                look.waiting.append(Waiting(file: file.relativePath, reason: "ready to be taken", since: since, needsAction: false))
            case .gone:
                break
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
