import Testing
@testable import AudienceInbox
@testable import AudienceLedger
@testable import AudienceModel
import AudienceInbox
import AudienceLedger
import AudienceModel

/// What the intake does with a file, as a table: no disk, no ledger, only the facts.
@Suite("intake decisions")
struct IntakeDecisionTests {
    static let now = 1_800_000_000.0
    static let rules = IntakeDecision.Rules(settleSeconds: 5, incompleteUploadSeconds: 3600, partners: ["acme"], maxSnapshotRemovalPercent: 50)

    static func file(_ relativePath: String, modifiedAgo: Double = 60, arrivedAgo: Double = 60, kind: InboxFile.Kind = .regular) -> InboxFile {
        let parts = relativePath.split(separator: "/", maxSplits: 1)
        var file = InboxFile(
            path: "/inbox/" + relativePath, relativePath: relativePath, partner: parts.count > 1 ? String(parts[0]) : nil,
            size: 100, modified: now - modifiedAgo, kind: kind)
        file.arrived = now - arrivedAgo
        return file
    }

    struct ArrivalCase: Sendable, CustomTestStringConvertible {
        var name: String
        var file: InboxFile
        var readiness: FileReadiness
        var rules = IntakeDecisionTests.rules
        var expected: IntakeDecision.Arrival
        var testDescription: String { name }
    }

    static let arrivalCases: [ArrivalCase] = [
        ArrivalCase(name: "ready in a partner folder: read it", file: file("acme/a.csv"), readiness: .ready, expected: .read),
        ArrivalCase(
            name: "still being written: wait until it settles", file: file("acme/a.csv"), readiness: .settling(3),
            expected: .wait(reason: "still being written", lookAgainAt: now + 3, settling: true)),
        ArrivalCase(
            name: "unreadable: wait, say why", file: file("acme/a.csv"), readiness: .unreadable("mode 600"),
            expected: .wait(reason: "mode 600", lookAgainAt: nil, settling: false)),
        ArrivalCase(
            name: "looks cut short, recently: wait until it counts as abandoned", file: file("acme/a.csv", modifiedAgo: 100),
            readiness: .incomplete("no newline"),
            expected: .wait(reason: "no newline", lookAgainAt: now - 100 + 3600 + 1, settling: false)),
        ArrivalCase(
            name: "looks cut short for over an hour: rejected as an incomplete upload", file: file("acme/a.csv", modifiedAgo: 4000),
            readiness: .incomplete("no newline"),
            expected: .reject(reason: "incomplete upload: unchanged for 4000 s and no newline", outcome: .incomplete)),
        ArrivalCase(
            name: "cut short with a clock ahead: timed from its arrival", file: file("acme/a.csv", modifiedAgo: -600, arrivedAgo: 100),
            readiness: .incomplete("no newline"),
            expected: .wait(reason: "no newline", lookAgainAt: now - 100 + 3600 + 1, settling: false)),
        ArrivalCase(
            name: "a symlink: rejected unread", file: file("acme/link.csv", kind: .notRegular("a symbolic link")), readiness: .ready,
            expected: .reject(reason: "a symbolic link", outcome: .rejected)),
        ArrivalCase(
            name: "outside any partner folder while partners are configured: rejected", file: file("loose.csv"), readiness: .ready,
            expected: .reject(reason: "files must be in a partner folder (one of: acme)", outcome: .rejected)),
        ArrivalCase(
            name: "in a folder that is not a partner yet: waits until the partner is added", file: file("globex/a.csv"), readiness: .ready,
            expected: .wait(
                reason: "folder globex is not a partner under partners: yet; the file is taken once it is added (then systemctl reload)",
                lookAgainAt: nil, settling: false)),
        ArrivalCase(
            name: "no partners configured: any folder is read", file: file("loose.csv"), readiness: .ready,
            rules: IntakeDecision.Rules(partners: nil), expected: .read),
    ]

    @Test("before reading: wait, reject or read", arguments: arrivalCases)
    func arrival(_ example: ArrivalCase) {
        #expect(IntakeDecision.arrival(example.file, readiness: example.readiness, now: Self.now, rules: example.rules) == example.expected)
    }

    static func record(_ name: String, _ outcome: FileRecord.Outcome, kind: FileKind? = .delta, archived: Bool = true, reason: String? = nil) -> FileRecord {
        FileRecord(
            fingerprint: String(repeating: "ab", count: 32), name: name, size: 100, outcome: outcome, kind: kind, rowsRead: 1,
            rowsRejected: 0, members: 1, adds: 1, removes: 0, reason: reason, plannedAt: 0,
            archivedAs: archived ? name + ".abababababab" : nil, duplicatesSeen: 0, receipt: nil, confirmedAt: nil)
    }

    struct KnownCase: Sendable, CustomTestStringConvertible {
        var name: String
        var memory: IntakeDecision.Memory
        var file = IntakeDecisionTests.file("acme/b.csv")
        var expected: IntakeDecision.Known
        var testDescription: String { name }
    }

    static let knownCases: [KnownCase] = [
        KnownCase(name: "new bytes: plan under the removal limit", memory: .init(), expected: .plan(removalLimit: 50, reapplying: false)),
        KnownCase(name: "new bytes, approved: plan without a limit", memory: .init(approved: true), expected: .plan(removalLimit: nil, reapplying: false)),
        KnownCase(
            name: "a delta applied before: duplicate, naming the file of the same folder",
            memory: .init(record: record("acme/a.csv", .applied)),
            expected: .duplicate(reason: "same bytes as acme/a.csv, already applied; nothing changed")),
        KnownCase(
            name: "another partner's file: a duplicate that does not name it",
            memory: .init(record: record("globex/secret.csv", .applied)),
            expected: .duplicate(reason: "same bytes as a file applied before; nothing changed")),
        KnownCase(
            name: "a snapshot applied before, nothing since: duplicate",
            memory: .init(record: record("acme/full.csv", .applied, kind: .snapshot)),
            expected: .duplicate(reason: "same bytes as acme/full.csv, already applied; nothing changed")),
        KnownCase(
            name: "a snapshot applied before, newer files since: applied again",
            memory: .init(record: record("acme/full.csv", .applied, kind: .snapshot), appliedAfter: true),
            expected: .plan(removalLimit: 50, reapplying: true)),
        KnownCase(
            name: "a delta with newer files since: still a duplicate (a delta never applies twice)",
            memory: .init(record: record("acme/a.csv", .applied), appliedAfter: true),
            expected: .duplicate(reason: "same bytes as acme/a.csv, already applied; nothing changed")),
        KnownCase(
            name: "planned, stopped before the move: finish the move",
            memory: .init(record: record("acme/b.csv", .applied, archived: false)), expected: .finishMove),
        KnownCase(
            name: "held before: held again, same reason",
            memory: .init(record: record("acme/full.csv", .held, kind: nil, archived: false, reason: "removes 90%")),
            expected: .holdAgain(reason: "removes 90%")),
        KnownCase(
            name: "rejected before: rejected again, same reason",
            memory: .init(record: record("acme/bad.csv", .rejected, kind: nil, archived: false, reason: "not UTF-8")),
            expected: .rejectAgain(reason: "not UTF-8")),
    ]

    @Test("after fingerprinting: plan, finish the move, duplicate, hold or reject again", arguments: knownCases)
    func known(_ example: KnownCase) {
        #expect(IntakeDecision.known(example.memory, file: example.file, rules: Self.rules) == example.expected)
    }
}
