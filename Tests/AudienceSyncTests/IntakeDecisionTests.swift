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
            expected: .wait(reason: .stillBeingWritten, lookAgainAt: now + 3)),
        ArrivalCase(
            name: "unreadable: wait, say why", file: file("acme/a.csv"), readiness: .unreadable("mode 600"),
            expected: .wait(reason: .unreadable("mode 600"), lookAgainAt: nil)),
        ArrivalCase(
            name: "gone since the listing (taken by the daemon): passed by, nothing said", file: file("acme/a.csv"),
            readiness: .gone, expected: .gone),
        ArrivalCase(
            name: "looks cut short, recently: wait until it counts as abandoned", file: file("acme/a.csv", modifiedAgo: 100),
            readiness: .incomplete("no newline"),
            expected: .wait(reason: .looksIncomplete("no newline"), lookAgainAt: now - 100 + 3600 + 1)),
        ArrivalCase(
            name: "looks cut short for over an hour: rejected as an incomplete upload", file: file("acme/a.csv", modifiedAgo: 4000),
            readiness: .incomplete("no newline"),
            expected: .reject(reason: "incomplete upload: unchanged for 4000 s and no newline", outcome: .incomplete)),
        ArrivalCase(
            name: "cut short with a clock ahead: timed from its arrival", file: file("acme/a.csv", modifiedAgo: -600, arrivedAgo: 100),
            readiness: .incomplete("no newline"),
            expected: .wait(reason: .looksIncomplete("no newline"), lookAgainAt: now - 100 + 3600 + 1)),
        ArrivalCase(
            name: "a symlink: rejected unread", file: file("acme/link.csv", kind: .notRegular("a symbolic link")), readiness: .ready,
            expected: .reject(reason: "a symbolic link", outcome: .rejected)),
        ArrivalCase(
            name: "outside any partner folder while partners are configured: rejected", file: file("loose.csv"), readiness: .ready,
            expected: .reject(reason: "files must be in a partner folder (one of: acme)", outcome: .rejected)),
        ArrivalCase(
            name: "in a folder that is not a partner yet: waits until the partner is added", file: file("globex/a.csv"), readiness: .ready,
            expected: .wait(
                reason: .notAPartnerYet(partner: "globex"), lookAgainAt: nil)),
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
            expected: .duplicate(reason: "same bytes as acme/a.csv, applied 1970-01-01T00:00:00Z; nothing changed")),
        KnownCase(
            name: "the same name uploaded again: its earlier upload is named, not the file itself",
            memory: .init(record: record("acme/b.csv", .applied)),
            expected: .duplicate(reason: "same bytes as this file's earlier upload, applied 1970-01-01T00:00:00Z; nothing changed")),
        KnownCase(
            name: "another partner's file: a duplicate that does not name it",
            memory: .init(record: record("globex/secret.csv", .applied)),
            expected: .duplicate(reason: "same bytes as a file applied before; nothing changed")),
        KnownCase(
            name: "a snapshot applied before, nothing since: duplicate",
            memory: .init(record: record("acme/full.csv", .applied, kind: .snapshot)),
            expected: .duplicate(reason: "same bytes as acme/full.csv, applied 1970-01-01T00:00:00Z; nothing changed")),
        KnownCase(
            name: "a snapshot applied before, newer files since: applied again",
            memory: .init(record: record("acme/full.csv", .applied, kind: .snapshot), appliedAfter: true),
            expected: .plan(removalLimit: 50, reapplying: true)),
        KnownCase(
            name: "a delta with newer files since: still a duplicate (a delta never applies twice)",
            memory: .init(record: record("acme/a.csv", .applied), appliedAfter: true),
            expected: .duplicate(reason: "same bytes as acme/a.csv, applied 1970-01-01T00:00:00Z; nothing changed")),
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

    struct LineCase: Sendable, CustomTestStringConvertible {
        var name: String
        /// (path, arrived seconds ago, stays in the inbox when its turn comes)
        var files: [(String, Double, Bool)]
        /// (path, the file it waits behind) in the order taken; nil: its own turn.
        var expected: [(String, String?)]
        var testDescription: String { name }
    }

    static let lineCases: [LineCase] = [
        LineCase(
            name: "by arrival, not by name",
            files: [("acme/b.csv", 30, false), ("acme/a.csv", 20, false), ("acme/c.csv", 40, false)],
            expected: [("acme/c.csv", nil), ("acme/b.csv", nil), ("acme/a.csv", nil)]),
        LineCase(
            name: "the same arrival: by path",
            files: [("acme/b.csv", 30, false), ("acme/a.csv", 30, false)],
            expected: [("acme/a.csv", nil), ("acme/b.csv", nil)]),
        LineCase(
            name: "a file that stays holds back the later files of its partner only",
            files: [("acme/1.csv", 50, true), ("globex/1.csv", 40, false), ("acme/2.csv", 30, false), ("acme/3.csv", 20, false)],
            expected: [("acme/1.csv", nil), ("globex/1.csv", nil), ("acme/2.csv", "acme/1.csv"), ("acme/3.csv", "acme/1.csv")]),
        LineCase(
            name: "files at the inbox's top level are one partner",
            files: [("x.csv", 50, true), ("y.csv", 40, false)],
            expected: [("x.csv", nil), ("y.csv", "x.csv")]),
        LineCase(
            name: "an older file taken first holds nothing back",
            files: [("acme/1.csv", 50, false), ("acme/2.csv", 40, true), ("acme/3.csv", 30, false)],
            expected: [("acme/1.csv", nil), ("acme/2.csv", nil), ("acme/3.csv", "acme/2.csv")]),
    ]

    @Test("the one ordering rule: arrival order, and no file overtakes an older one of its partner that stays", arguments: lineCases)
    func line(_ example: LineCase) {
        let files = example.files.map { Self.file($0.0, arrivedAgo: $0.1) }
        let stays = Dictionary(uniqueKeysWithValues: example.files.map { ($0.0, $0.2) })
        var line = IntakeDecision.Line()
        var taken: [(String, String?)] = []
        for file in IntakeDecision.Line.ordered(files) {
            if case .behind(let older)? = line.waitsBehind(file) {
                taken.append((file.relativePath, older))
                line.stays(file)
                continue
            }
            taken.append((file.relativePath, nil))
            if stays[file.relativePath] == true { line.stays(file) }
        }
        #expect(taken.map(\.0) == example.expected.map(\.0))
        #expect(taken.map(\.1) == example.expected.map(\.1))
    }

    @Test("the first-seen time the ledger remembers orders the line, not a later change time")
    func rememberedArrival() {
        var renamed = Self.file("acme/old.csv", arrivedAgo: 5)  // its change time moved when it was renamed
        renamed.inode = 1
        var newer = Self.file("acme/new.csv", arrivedAgo: 10)
        newer.inode = 2
        let arrivals = [ArrivalKey(device: renamed.device, inode: renamed.inode): Self.now - 100]
        #expect(IntakeDecision.Line.ordered([newer, renamed], arrivals: arrivals).map(\.relativePath) == ["acme/old.csv", "acme/new.csv"])
    }
}
