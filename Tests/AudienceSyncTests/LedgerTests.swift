import Foundation
import Testing
import TestFixtures
@testable import AudienceLedger
@testable import AudiencePlanning
@testable import AudienceReading
import AudienceLedger
import AudiencePlanning
import AudienceReading

/// Writes `text` as a file and applies it to `ledger`, as intake does.
@discardableResult
func apply(_ text: String, to ledger: Ledger, in directory: TemporaryDirectory, name: String = UUID().uuidString + ".csv", dryRun: Bool = false) async throws -> FileApplyResult {
    let path = try directory.write(name, text)
    let reader = try AudienceFileReader(path: path)
    if dryRun {
        return try await ledger.reader.previewFile(try Planner(chunkSize: 3).sort(reader))
    }
    return try await ledger.applyFile(try Planner(chunkSize: 3).sort(reader), fingerprint: try reader.fingerprint(), name: name, size: reader.size)
}

extension Ledger {
    /// Reads pending rows as the sender does: the dead outbox rows met on the way are dropped.
    func pendingRowsDroppingDead(after cursor: PendingCursor?, through end: PendingCursor? = nil, limit: Int) async throws -> ([PendingRow], PendingCursor?) {
        let page = try await reader.pendingRows(after: cursor, through: end, limit: limit)
        try dropDeadOutboxRows(page.dead)
        return (page.rows, page.next)
    }
}

/// Everything pending, as "action segment hash-prefix" strings.
func pendingDescription(_ ledger: Ledger) async throws -> [String] {
    try await ledger.pendingRowsDroppingDead(after: nil, limit: 1000).0.map {
        "\($0.action == .add ? "add" : "remove") \($0.audienceID) \($0.member.digest.hex.prefix(6))"
    }.sorted()
}

/// Acknowledges every pending row, as if TikTok had answered code 0.
func acknowledgeAll(_ ledger: Ledger) async throws {
    try await ledger.markAcknowledged(try await ledger.pendingRowsDroppingDead(after: nil, limit: 100_000).0)
}

@Suite("Ledger: desired versus acknowledged")
struct LedgerTests {
    let a = sha256Hex("a@example.com")
    let b = sha256Hex("b@example.com")
    let c = sha256Hex("c@example.com")

    func freshLedger(_ directory: TemporaryDirectory) async throws -> Ledger {
        try Ledger(path: directory.path + "/ledger.sqlite")
    }

    @Test("a delta makes its adds and removes pending; acknowledging settles them")
    func deltaThenAck() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        let result = try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n\(c),2,remove\n", to: ledger, in: directory)
        #expect(result.changes["1"] == SegmentChange(adds: 2, removes: 0))
        #expect(result.changes["2"] == SegmentChange(adds: 0, removes: 1), "a remove of an unknown member is still sent")
        #expect(try await ledger.reader.pendingCounts().total == 3)
        try await acknowledgeAll(ledger)
        #expect(try await ledger.reader.pendingCounts().total == 0)
        #expect(try await ledger.reader.confirmedCounts() == ["1": 2])
    }

    @Test("add then remove before anything was sent costs TikTok nothing")
    func addThenRemoveCancels() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n", to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == [])
    }

    @Test("within one file the last row for a member and segment wins")
    func lastRowWins() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n\(a),1,remove\n\(c),1,add\n\(b),1,remove\n\(b),1,add\n", to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == ["add 1 \(b.prefix(6))", "add 1 \(c.prefix(6))"].sorted())
    }

    @Test("a snapshot replaces the membership of the segments it names, and only those")
    func snapshotSweeps() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id\n\(a),1\n\(b),1\n\(a),2\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        let result = try await apply("email_hash,segment_id\n\(b),1\n\(c),1\n", to: ledger, in: directory)
        #expect(result.changes["1"] == SegmentChange(adds: 1, removes: 1))
        await #expect(try pendingDescription(ledger) == ["add 1 \(c.prefix(6))", "remove 1 \(a.prefix(6))"].sorted())
        #expect(try await ledger.reader.confirmedCounts()["2"] == 1, "segment 2 was not in the snapshot and keeps its member")
    }

    @Test("a segment whose rows were all rejected is not emptied by a snapshot")
    func snapshotWithOnlyBadRowsKeepsSegment() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id\n\(a),1\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        try await apply("email_hash,segment_id\nnot-a-hash,1\n", to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == [])
    }

    @Test("a row already in the wanted state is never pending")
    func noOpChanges() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        let again = try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        #expect(again.changes["1"] == SegmentChange(adds: 1, removes: 0))
        await #expect(try pendingDescription(ledger) == ["add 1 \(b.prefix(6))"])
    }

    @Test("an ack for a row newer files changed back to the wish sent settles it; their other rows stay pending")
    func generationGuard() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n", to: ledger, in: directory)
        let inFlight = try await ledger.pendingRowsDroppingDead(after: nil, limit: 10).0
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(c),9,add\n", to: ledger, in: directory)
        // TikTok holds what was sent, which is what the files wish again.
        #expect(try await ledger.markAcknowledged(inFlight) == 1)
        await #expect(try pendingDescription(ledger) == ["add 9 \(c.prefix(6))"])
    }

    @Test("an add confirmed after a newer file removed the member leaves the remove pending")
    func confirmationRacingAnOppositeWish() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n", to: ledger, in: directory)
        let inFlight = try await ledger.pendingRowsDroppingDead(after: nil, limit: 10).0
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n", to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == [], "before the answer, the remove cancels the unsent add")
        #expect(try await ledger.markAcknowledged(inFlight) == 0)
        await #expect(try pendingDescription(ledger) == ["remove 1 \(a.prefix(6))"], "TikTok got the add: the remove must be sent")
    }

    @Test("the outcome of a file does not depend on how it is chunked", arguments: [1, 2, 3, 100])
    func chunkingIsInvisible(chunkSize: Int) async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(c),1,add\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        let text = "email_hash,segment_id,action\n\(a),1,add\n\(b),1,remove\n\(a),1,remove\n\(c),1,add\n\(c),1,remove\n\(b),1,add\n"
        let path = try directory.write("chunked.csv", text)
        let reader = try AudienceFileReader(path: path)
        let result = try await ledger.applyFile(try Planner(chunkSize: chunkSize).sort(reader), fingerprint: try reader.fingerprint(), name: "c", size: reader.size)
        await #expect(try pendingDescription(ledger) == ["add 1 \(b.prefix(6))", "remove 1 \(c.prefix(6))"].sorted())
        #expect(result.changes["1"] == SegmentChange(adds: 1, removes: 1))
    }

    @Test("a large shuffled file ends the same whether it is sorted in one chunk or merged from many")
    func mergedRunsMatchOneChunk() async throws {
        var generator = SeededRandom(state: 42)
        let members = (0..<40).map { sha256Hex("member-\($0)") }
        var text = "email_hash,segment_id,action\n"
        for _ in 0..<3_000 {
            let member = members[Int.random(in: 0..<members.count, using: &generator)]
            let segment = Int.random(in: 1...4, using: &generator)
            text += "\(member),\(segment),\(Bool.random(using: &generator) ? "add" : "remove")\n"
        }
        var outcomes: [([String], [String: SegmentChange])] = []
        // (chunk size, records the merge holds): the last two make the merge refill its blocks.
        for (chunkSize, mergeMemory) in [(1, 131_072), (7, 131_072), (250, 131_072), (10_000, 131_072), (250, 8), (1_000, 3)] {
            let directory = try TemporaryDirectory()
            let ledger = try await freshLedger(directory)
            try await apply("email_hash,segment_id,action\n\(members[0]),1,add\n\(members[1]),2,add\n", to: ledger, in: directory)
            try await acknowledgeAll(ledger)
            let path = try directory.write("big.csv", text)
            let reader = try AudienceFileReader(path: path)
            let preview = try await ledger.reader.previewFile(try Planner(chunkSize: chunkSize, spillDirectory: directory.path).sort(reader))
            var planner = Planner(chunkSize: chunkSize, spillDirectory: directory.path)
            planner.mergeMemoryRecords = mergeMemory
            let result = try await ledger.applyFile(try planner.sort(reader), fingerprint: try reader.fingerprint(), name: "big", size: reader.size)
            #expect(preview.changes == result.changes, "plan's preview says what applying does")
            await outcomes.append((try pendingDescription(ledger), result.changes))
        }
        #expect(outcomes[0].0.count > 20, "the file makes real work")
        for outcome in outcomes.dropFirst() {
            #expect(outcome.0 == outcomes[0].0)
            #expect(outcome.1 == outcomes[0].1)
        }
        #expect(_isPOD(MemberChange.self), "sorted runs are spilled as raw bytes")
    }

    @Test("a snapshot removing more than the limit is held whole; at the limit it applies", arguments: [5, 4])
    func snapshotRemovalLimit(kept: Int) async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        let members = (0..<10).map { sha256Hex("limit\($0)@example.com") }
        try await apply("email_hash,segment_id\n" + members.map { "\($0),7" }.joined(separator: "\n") + "\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        let newcomer = sha256Hex("newcomer@example.com")
        let text = "email_hash,segment_id\n" + (members.prefix(kept) + [newcomer]).map { "\($0),7" }.joined(separator: "\n") + "\n"
        let path = try directory.write("smaller.csv", text)
        let reader = try AudienceFileReader(path: path)
        let applyIt = {
            try await ledger.applyFile(try Planner(chunkSize: 2, spillDirectory: directory.path).sort(reader), fingerprint: try reader.fingerprint(), name: "smaller.csv", size: reader.size, maximumRemovalPercent: 50)
        }
        if kept == 5 {
            let result = try await applyIt()
            #expect(result.changes["7"] == SegmentChange(adds: 1, removes: 5), "5 of 10 leave: exactly the limit")
            #expect(try await ledger.reader.pendingCounts().total == 6)
        } else {
            await #expect {
                try await applyIt()
            } throws: { error in
                (error as? SnapshotHeld).map { $0.members == 10 && $0.removals == 6 && $0.segment == "7" } ?? false
            }
            #expect(try await ledger.reader.pendingCounts().total == 0, "nothing of a held file is applied")
            #expect(try await ledger.reader.confirmedCounts() == ["7": 10])
            #expect(try await ledger.reader.recentFiles(limit: 10).count == 1)
        }
    }

    @Test("plan's preview of a snapshot says what applying it does", arguments: [1, 2, 3])
    func snapshotPreviewMatchesApply(seed: UInt64) async throws {
        var random = SeededRandom(state: seed)
        let people = (0..<60).map { sha256Hex("preview\($0)@example.com") }
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        var base = "email_hash,segment_id,action\n"
        for person in people where Bool.random(using: &random) {
            base += "\(person),\(Int.random(in: 1...3, using: &random)),\(Bool.random(using: &random) ? "add" : "remove")\n"
        }
        try await apply(base, to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        var snapshot = "email_hash,segment_id\n"
        for person in people where Int.random(in: 0..<3, using: &random) == 0 {
            snapshot += "\(person),\(Int.random(in: 1...2, using: &random))\n"
        }
        snapshot += "\(people[0]),4\n"
        let preview = try await apply(snapshot, to: ledger, in: directory, dryRun: true)
        let applied = try await apply(snapshot, to: ledger, in: directory)
        #expect(!applied.changes.isEmpty)
        #expect(preview.changes == applied.changes)
    }

    @Test("a dry run reports the change and writes nothing")
    func dryRun() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        let result = try await apply("email_hash,segment_id,action\n\(a),77,add\n", to: ledger, in: directory, dryRun: true)
        #expect(result.changes["77"] == SegmentChange(adds: 1, removes: 0))
        #expect(try await ledger.reader.pendingCounts().total == 0)
        #expect(try await ledger.reader.recentFiles(limit: 10).isEmpty)
        try await apply("email_hash,segment_id,action\n\(a),78,add\n", to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == ["add 78 \(a.prefix(6))"])
    }

    @Test("a file that fails half-way leaves nothing behind")
    func failedFileRollsBack() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        var rows = "email_hash,segment_id,action\n"
        for index in 0..<50 { rows += sha256Hex("\(index)") + ",1,add\n" }
        let bytes = try gzipped(rows)
        let path = try directory.write("cut.csv.gz", bytes: Array(bytes.dropLast(4)))
        let reader = try AudienceFileReader(path: path)
        await #expect(throws: AudienceFileError.self) {
            try await ledger.applyFile(try Planner(chunkSize: 4).sort(reader), fingerprint: try reader.fingerprint(), name: "cut.csv.gz", size: reader.size)
        }
        #expect(try await ledger.reader.pendingCounts().total == 0)
        #expect(try await ledger.reader.recentFiles(limit: 10).isEmpty)
    }

    @Test("a large file's pages reach the ledger file in the background, and every member survives reopening")
    func backgroundCheckpoint() async throws {
        let directory = try TemporaryDirectory()
        let ledgerPath = directory.path + "/ledger.sqlite"
        var rows = "email_hash,segment_id,action\n"
        let members = 20_000  // ~2 MiB of log: past a checkpoint at 50 pages
        rows.reserveCapacity(members * 74)
        for index in 0..<members { rows += sha256Hex("member-\(index)") + ",5,add\n" }
        let path = try directory.write("big.csv", rows)
        do {
            let ledger = try Ledger(path: ledgerPath, checkpointAfterPages: 50)
            let sizeBefore = try await fileSize(ledgerPath)
            let reader = try AudienceFileReader(path: path)
            _ = try await ledger.applyFile(try Planner().sort(reader), fingerprint: try reader.fingerprint(), name: "big.csv", size: reader.size)
            // Without a checkpoint the committed pages would stay in the log until the ledger closes.
            var size = try await fileSize(ledgerPath)
            for _ in 0..<200 where size < sizeBefore + 1 << 20 {
                try await Task.sleep(for: .milliseconds(50))
                size = try await fileSize(ledgerPath)
            }
            #expect(size >= sizeBefore + 1 << 20, "ledger file \(sizeBefore) → \(size) bytes while open")
        }
        let reopened = try Ledger(path: ledgerPath)
        #expect(try await reopened.reader.pendingCounts().total == members)
        #expect(try await reopened.reader.integrityCheck() == "ok")
    }

    @Test("a log left large by runs that ended before their checkpoint is checkpointed at the next open, every member kept")
    func largeLogCheckpointedAtOpen() async throws {
        let directory = try TemporaryDirectory()
        let ledgerPath = directory.path + "/ledger.sqlite"
        var rows = "email_hash,segment_id,action\n"
        for index in 0..<5_000 { rows += sha256Hex("log-\(index)") + ",5,add\n" }
        let path = try directory.write("file.csv", rows)
        do {
            // No background checkpoint: the run ends with everything in the log, as a short `once` does.
            let ledger = try Ledger(path: ledgerPath, checkpointAfterPages: Int32.max)
            let reader = try AudienceFileReader(path: path)
            _ = try await ledger.applyFile(try Planner().sort(reader), fingerprint: try reader.fingerprint(), name: "file.csv", size: reader.size)
        }
        let logBefore = try await fileSize(ledgerPath + "-wal")
        #expect(logBefore > 64 << 10, "the log holds the file: \(logBefore) bytes")
        let reopened = try Ledger(path: ledgerPath, checkpointAfterPages: Int32.max, logLimitBytes: 64 << 10)
        #expect(try await fileSize(ledgerPath + "-wal") == 0, "checkpointed and cut back at open")
        #expect(try await reopened.reader.pendingCounts().total == 5_000)
        #expect(try await reopened.reader.integrityCheck() == "ok")
    }

    private func fileSize(_ path: String) async throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    @Test("a ledger from a newer version is refused")
    func supersededLedger() async throws {
        let directory = try TemporaryDirectory()
        _ = try await freshLedger(directory)
        let connection = try SQLiteConnection(path: directory.path + "/ledger.sqlite")
        try connection.execute("PRAGMA busy_timeout = 10000; PRAGMA user_version = 99")
        await #expect(throws: LedgerError.self) { _ = try await freshLedger(directory) }
    }

    @Test("a ledger written by an older schema keeps every member, wish and confirmation")
    func migratesFromOlderSchema() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/ledger.sqlite"
        let old = try SQLiteConnection(path: path)
        for step in Migrations.steps.prefix(2) { try old.execute(step.sql) }
        try old.execute(
            """
            PRAGMA user_version = 2;
            INSERT INTO segment (id, audience_id) VALUES (1, '111'), (2, '222');
            INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen) VALUES
                (1, 1, x'\(a)', 1, 1, 1, 1), (2, 1, x'\(a)', 1, 0, 1, 1), (1, 1, x'\(b)', 0, NULL, 1, 1),
                (2, 3, x'\(a)', 1, 1, 1, 1);
            """)
        let ledger = try await freshLedger(directory)
        // The ledger as step 2 left it was copied beside it before the upgrade.
        let before = try SQLiteConnection(path: path + ".before-upgrade-from-step-2", mustExist: true)
        #expect(try Migrations.userVersion(before) == 2)
        let rows = try before.prepare("SELECT count(*) FROM membership")
        #expect(try rows.step() && rows.int(0) == 4)
        rows.reset()
        await #expect(try pendingDescription(ledger) == ["add 222 \(a.prefix(6))", "remove 111 \(b.prefix(6))"].sorted())
        #expect(try await ledger.reader.confirmedCounts() == ["111": 1, "222": 1])
        #expect(try await ledger.reader.integrityCheck() == "ok")
        #expect(try await ledger.reader.legacyMAIDType() == .idfa, "untyped MAIDs were IDFAs before; they stay so")
        #expect(
            try await ledger.reader.hashingRules() == "email_remove_plus_tag=false;email_remove_dots=false;phone_format=e164",
            "members already there were hashed as earlier versions did")
        try await apply("idfa,segment_id\n0123456789abcdef0123456789abcdef,111\n", to: ledger, in: directory)
        #expect(try await ledger.reader.pendingCounts().adds == 2, "an MD5 MAID (IDFA_MD5, type 5) is stored once migrated")
        #expect(try await ledger.reader.integrityCheck() == "ok")
    }

    @Test("membership refuses an unknown identifier type, wish or confirmation; no CHECK of it calls a function")
    func membershipChecks() async throws {
        let directory = try TemporaryDirectory()
        _ = try await freshLedger(directory)
        let connection = try SQLiteConnection(path: directory.path + "/ledger.sqlite")
        let columns = "membership (segment, id_type, identifier, desired, acked, generation, seen)"
        try connection.execute("INSERT INTO \(columns) VALUES (1, 1, x'\(a)', 1, 0, 1, 1)")
        for (values, what) in [("(1, 7, x'\(b)', 1, 0, 1, 1)", "identifier type 7"), ("(1, 1, x'\(b)', 2, 0, 1, 1)", "wish 2"),
                               ("(1, 1, x'\(b)', 1, 2, 1, 1)", "confirmation 2")] {
            #expect(throws: LedgerError.self, "\(what)") { try connection.execute("INSERT INTO \(columns) VALUES \(values)") }
        }
        // Such a CHECK makes SQLite copy every page a statement of many rows touches to a
        // statement journal first (Migrations: "check an identifier's length where it is made").
        let definition = try connection.prepare("SELECT sql FROM sqlite_schema WHERE name = 'membership'")
        #expect(try definition.step())
        #expect(!definition.string(0).contains("length("), "\(definition.string(0))")
    }

    @Test("a delta's new members stay out of the segment index until their segment's first snapshot, which removes the members it leaves out")
    func segmentIndexAfterDeltas() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n\(c),1,add\n\(a),2,add\n", to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        let connection = try SQLiteConnection(path: directory.path + "/ledger.sqlite")
        func indexed(_ segment: String) throws -> Int64 {
            let statement = try connection.prepare(
                """
                SELECT count(*) FROM membership INDEXED BY membership_by_segment
                WHERE unindexed IS NULL AND segment = (SELECT id FROM segment WHERE audience_id = ?1)
                """)
            statement.bind(1, segment)
            defer { statement.reset() }
            return try statement.step() ? statement.int(0) : -1
        }
        #expect(try indexed("1") == 0 && indexed("2") == 0, "a delta's new members are not in the index")

        // A first snapshot held for removing too much changes nothing, the pass that indexes
        // segment 1 included: the next one still finds the members it leaves out.
        let held = try directory.write("held.csv", "email_hash,segment_id\n\(a),1\n\(sha256Hex("f@example.com")),1\n")
        let heldReader = try AudienceFileReader(path: held)
        await #expect(throws: SnapshotHeld.self) {
            try await ledger.applyFile(
                try Planner(chunkSize: 3).sort(heldReader), fingerprint: try heldReader.fingerprint(), name: "held.csv",
                size: heldReader.size, maximumRemovalPercent: 10)
        }
        #expect(try indexed("1") == 0)

        // Segment 1's first snapshot names a and a newcomer d: b and c go, and its members are in
        // the index from then on; segment 2, not named, keeps a and stays outside.
        let snapshot = "email_hash,segment_id\n\(a),1\n\(sha256Hex("d@example.com")),1\n"
        let preview = try await apply(snapshot, to: ledger, in: directory, dryRun: true)
        let applied = try await apply(snapshot, to: ledger, in: directory)
        #expect(applied.changes["1"] == SegmentChange(adds: 1, removes: 2))
        #expect(preview.changes == applied.changes, "plan counts the members outside the index too")
        await #expect(try pendingDescription(ledger) == ["add 1 \(sha256Hex("d@example.com").prefix(6))", "remove 1 \(b.prefix(6))", "remove 1 \(c.prefix(6))"].sorted())
        #expect(try indexed("1") == 4 && indexed("2") == 0)

        // Later deltas put segment 1's new members straight into the index.
        try await apply("email_hash,segment_id,action\n\(sha256Hex("e@example.com")),1,add\n", to: ledger, in: directory)
        #expect(try indexed("1") == 5)
        #expect(try await ledger.reader.integrityCheck() == "ok")
    }

    @Test("pending rows come back in packing order and the cursor walks them once")
    func pendingWalk() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try await freshLedger(directory)
        var rows = "email_hash,segment_id,action\n"
        for index in 0..<25 { rows += sha256Hex("\(index)") + ",\(index % 3 + 1),add\n" }
        try await apply(rows, to: ledger, in: directory)
        var cursor: PendingCursor?
        var seen: [PendingRow] = []
        while true {
            let (page, next) = try await ledger.pendingRowsDroppingDead(after: cursor, limit: 4)
            seen += page
            cursor = next
            if page.count < 4 { break }
        }
        #expect(seen.count == 25)
        #expect(seen.map(\.member.digest) == seen.map(\.member.digest).sorted())
        #expect(try await ledger.reader.integrityCheck() == "ok")
    }
}
