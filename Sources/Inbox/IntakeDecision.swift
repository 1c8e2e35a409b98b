import AudienceConfig
import AudienceLedger
import AudienceSupport

/// What the intake does with an inbox file, decided from facts alone (no I/O), in two steps:
/// first from the file as the scan saw it and how ready it is (``arrival(_:readiness:now:rules:)``);
/// then, once its bytes are fingerprinted, from what the ledger remembers of the same bytes
/// (``known(_:file:rules:)``). ``Intake`` gathers the facts and carries the actions out.
public enum IntakeDecision {
    /// What the configuration says about taking files.
    public struct Rules: Sendable, Equatable {
        public var settleSeconds: Double
        public var incompleteUploadSeconds: Double
        /// Nil: any folder, any segment. Else the configured partner folders.
        public var partners: Set<String>?
        public var maxSnapshotRemovalPercent: Double?

        public init(
            settleSeconds: Double = 5, incompleteUploadSeconds: Double = 3600, partners: Set<String>? = nil,
            maxSnapshotRemovalPercent: Double? = 50
        ) {
            self.settleSeconds = settleSeconds
            self.incompleteUploadSeconds = incompleteUploadSeconds
            self.partners = partners
            self.maxSnapshotRemovalPercent = maxSnapshotRemovalPercent
        }

        public init(_ configuration: Configuration) {
            self.init(
                settleSeconds: configuration.settleSeconds, incompleteUploadSeconds: configuration.incompleteUploadSeconds,
                partners: configuration.partners.map { Set($0.keys) },
                maxSnapshotRemovalPercent: configuration.maxSnapshotRemovalPercent)
        }
    }

    /// The first step: before the file's bytes are read.
    public enum Arrival: Equatable, Sendable {
        /// Leave it in the inbox for now, saying why; look again at `lookAgainAt` (nil: at the
        /// next look anyway).
        case wait(reason: WaitReason, lookAgainAt: Double?)
        /// Move it to `rejected/` with the reason, without reading it.
        case reject(reason: String, outcome: Receipt.Outcome)
        /// Read it: fingerprint it, then decide with ``known(_:file:rules:)``.
        case read
        /// It is no longer in the inbox (taken, or removed, since it was listed): pass it by.
        case gone
    }

    /// The second step: what the ledger remembers of the same bytes.
    public enum Known: Equatable, Sendable {
        /// Plan it. `removalLimit`: the snapshot safeguard (nil: approved, or none configured).
        /// `reapplying`: a snapshot applied before, sent again after newer files.
        case plan(removalLimit: Double?, reapplying: Bool)
        /// Planned before, then stopped before its move: archive it and write its receipt.
        case finishMove
        /// Applied before: archive it as a duplicate, with this reason.
        case duplicate(reason: String)
        /// Held or rejected before: set it aside again, as then.
        case holdAgain(reason: String)
        case rejectAgain(reason: String)
    }

    /// What the ledger knows of the file's bytes, gathered for ``known(_:file:rules:)``.
    public struct Memory: Sendable, Equatable {
        public var record: FileRecord?
        /// A file was applied after this one.
        public var appliedAfter = false
        /// An operator approved it (`approve`).
        public var approved = false

        public init(record: FileRecord? = nil, appliedAfter: Bool = false, approved: Bool = false) {
            self.record = record
            self.appliedAfter = appliedAfter
            self.approved = approved
        }
    }

    /// `freeBytes`: the free space below the state directory (nil: unknown, not checked).
    public static func arrival(
        _ file: InboxFile, readiness: FileReadiness, now: Double, rules: Rules, freeBytes: Int64? = nil
    ) -> Arrival {
        // A modification time in the future (a partner's clock ahead) says nothing about when the
        // file last changed; its arrival does.
        let unchangedSince = file.modified > now + 1 ? file.arrived : file.modified
        switch readiness {
        case .settling(let wait):
            return .wait(reason: .stillBeingWritten, lookAgainAt: now + wait)
        case .unreadable(let reason):
            return .wait(reason: .unreadable(reason), lookAgainAt: nil)
        case .gone:
            return .gone
        case .incomplete(let reason):
            guard now - unchangedSince > rules.incompleteUploadSeconds else {
                return .wait(reason: .looksIncomplete(reason), lookAgainAt: unchangedSince + rules.incompleteUploadSeconds + 1)
            }
            return .reject(
                reason: "incomplete upload: unchanged for \(Int(now - unchangedSince)) s and \(reason)", outcome: .incomplete)
        case .ready:
            if case .notRegular(let reason) = file.kind { return .reject(reason: reason, outcome: .rejected) }
            if let partners = rules.partners, let partner = file.partner, !partners.contains(partner) {
                // A new partner's first uploads often come before the configuration names it:
                // they wait, and are taken once the partner is added (a reload is enough).
                return .wait(reason: .notAPartnerYet(partner: partner), lookAgainAt: nil)
            }
            if let problem = partnerProblem(file, partners: rules.partners) { return .reject(reason: problem, outcome: .rejected) }
            if let freeBytes, freeBytes < freeSpaceFactor * file.size {
                return .wait(reason: .needsFreeSpace(bytes: freeSpaceFactor * file.size), lookAgainAt: nil)
            }
            return .read
        }
    }

    /// The one ordering rule, for the intake and for `status` alike: files are taken in arrival
    /// order (first seen in the inbox, then path), and no file overtakes an older one of the same
    /// partner (or of the inbox, without partners) that stays in the inbox.
    public struct Line: Sendable {
        /// Partners (by ``InboxFile/orderingKey``) with a file that stays, and that file.
        private var staying: [String: String] = [:]

        public init() {}

        /// `files` in the order they are taken; `arrivals`: first-seen times the ledger remembers
        /// (else a file's own change time at this scan counts).
        public static func ordered(_ files: [InboxFile], arrivals: [ArrivalKey: Double] = [:]) -> [InboxFile] {
            var files = files
            for index in files.indices {
                let remembered = arrivals[ArrivalKey(device: files[index].device, inode: files[index].inode)]
                if let remembered, !ArrivalKey.isStale(remembered, born: files[index].born) { files[index].arrived = remembered }
            }
            return files.sorted { ($0.arrived, $0.relativePath) < ($1.arrived, $1.relativePath) }
        }

        /// Why `file` must wait though it may be ready: an older file of its partner stays.
        public func waitsBehind(_ file: InboxFile) -> WaitReason? {
            staying[file.orderingKey].map { .behind(older: $0) }
        }

        /// `file` stays in the inbox: later files of its partner wait behind it.
        public mutating func stays(_ file: InboxFile) {
            if staying[file.orderingKey] == nil { staying[file.orderingKey] = file.relativePath }
        }
    }

    /// How many times a file's size must be free below the state directory before it is taken:
    /// its rows go to the ledger's write-ahead log, then into the ledger, and the file to `archive/`.
    public static let freeSpaceFactor: Int64 = 3

    public static func known(_ memory: Memory, file: InboxFile, rules: Rules) -> Known {
        let limit = memory.approved ? nil : rules.maxSnapshotRemovalPercent
        guard let known = memory.record else { return .plan(removalLimit: limit, reapplying: false) }
        switch known.outcome {
        case .held:
            return .holdAgain(reason: known.reason ?? "held before")
        case .rejected:
            return .rejectAgain(reason: known.reason ?? "rejected before")
        case .applied where known.archivedAs == nil:
            return .finishMove
        case .applied where known.kind == .snapshot && memory.appliedAfter:
            // A snapshot is the partner's complete membership as of its arrival: the same bytes
            // re-sent after newer files changed things apply again. A delta never applies twice.
            return .plan(removalLimit: limit, reapplying: true)
        case .applied:
            // Another partner's file is never named to this one.
            let sameFolder = known.name.split(separator: "/", maxSplits: 1).count > 1
                ? known.name.hasPrefix(file.orderingKey + "/") : file.partner == nil
            let applied = ISO8601Time.string(Int(known.plannedAt))
            guard sameFolder else { return .duplicate(reason: "same bytes as a file applied before; nothing changed") }
            // Uploaded again under its own name: the file is not its own duplicate, its earlier upload is.
            return .duplicate(
                reason: known.name == file.relativePath
                    ? "same bytes as this file's earlier upload, applied \(applied); nothing changed"
                    : "same bytes as \(known.name), applied \(applied); nothing changed")
        }
    }

    static func partnerProblem(_ file: InboxFile, partners: Set<String>?) -> String? {
        // A folder that is not a partner yet waits instead (see ``arrival(_:readiness:now:rules:)``).
        guard let partners, file.partner == nil else { return nil }
        return "files must be in a partner folder (one of: \(partners.sorted().joined(separator: ", ")))"
    }
}
