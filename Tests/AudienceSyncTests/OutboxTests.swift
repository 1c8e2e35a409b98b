import Testing
import TestFixtures
@testable import AudienceLedger
import AudienceLedger

/// The outbox: the pending work as the sender walks it.
@Suite("Outbox: the sender's work list")
struct OutboxTests {
    let a = sha256Hex("a@example.com")
    let b = sha256Hex("b@example.com")
    let c = sha256Hex("c@example.com")
    let d = sha256Hex("d@example.com")

    func outboxRows(_ ledger: Ledger) async throws -> Int {
        try await ledger.withConnection { ledger in
            let statement = try ledger.connection.prepare("SELECT count(*) FROM outbox")
            defer { statement.reset() }
            return try statement.step() ? Int(statement.int(0)) : -1
        }
    }

    func walk(_ ledger: Ledger, through end: PendingCursor? = nil) async throws -> [PendingRow] {
        try await ledger.pendingRowsDroppingDead(after: nil, through: end, limit: 1000).0
    }

    /// Sends what `sent` queued, applies `racing` before TikTok answers, then records the answer
    /// (which settles nothing: the racing file changed the row). Returns what is queued afterwards.
    func confirmRacing(_ sent: String, _ racing: String, ledger: Ledger, in directory: TemporaryDirectory) async throws -> [PendingRow] {
        try await apply(sent, to: ledger, in: directory)
        let inFlight = try await walk(ledger)
        try await apply(racing, to: ledger, in: directory)
        #expect(try await ledger.markAcknowledged(inFlight) == 0)
        return try await walk(ledger)
    }

    @Test("wishes cancelled before sending leave nothing behind once the sender has passed")
    func cancelledWishesAreDropped() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n\(b),1,remove\n", to: ledger, in: directory)
        await #expect(try walk(ledger).isEmpty)
        await #expect(try outboxRows(ledger) == 0)
        #expect(try await ledger.reader.pendingCounts().total == 0)
    }

    @Test("the pending counts follow every commit: a file, a confirmation, a parking (they are kept only while nothing was committed)")
    func pendingCountsFollowCommits() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        #expect(try await ledger.reader.pendingCounts().adds == 2)
        #expect(try await ledger.reader.pendingCounts().adds == 2, "nothing committed: the same counts")
        try await apply("email_hash,segment_id,action\n\(c),1,add\n\(d),2,remove\n", to: ledger, in: directory)
        let afterFile = try await ledger.reader.pendingCounts()
        #expect(afterFile.adds == 3 && afterFile.removes == 1)
        let rows = try await walk(ledger)
        try await ledger.markAcknowledged(rows.filter { $0.member.digest.hex == a })
        #expect(try await ledger.reader.pendingCounts().adds == 2, "a's add confirmed")
        try await ledger.park(segment: "1", code: 40002, message: "refused", requestID: nil, now: 0)
        let afterParking = try await ledger.reader.pendingCounts()
        #expect(afterParking.adds == 0 && afterParking.removes == 1, "segment 1 parked")
    }

    @Test("a member changed by several files is sent once, with its last wish")
    func supersededWishesAreSentOnce() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        // A remove of a member never seen is sent; the add after it replaces it.
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(a),1,add\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(a),1,remove\n\(a),2,add\n", to: ledger, in: directory)
        let rows = try await walk(ledger)
        #expect(rows.map { "\($0.action) \($0.audienceID)" }.sorted() == ["add 2", "remove 1"])
        await #expect(try outboxRows(ledger) == 2)
    }

    @Test("a file mixing new members with known ones counts and queues each change once")
    func mixedNewAndKnownMembers() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        let known = (0..<1000).map { sha256Hex("known\($0)") }
        let fresh = (0..<600).map { sha256Hex("fresh\($0)") }
        try await apply("email_hash,segment_id,action\n" + known.map { "\($0),1,add\n" }.joined(), to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        // Interleaved in key order: unchanged adds, removes of known members, adds of new ones.
        var rows = known.prefix(700).map { "\($0),1,add\n" } + known.suffix(300).map { "\($0),1,remove\n" }
        rows += fresh.map { "\($0),1,add\n" }
        let result = try await apply("email_hash,segment_id,action\n" + rows.shuffled().joined(), to: ledger, in: directory)
        #expect(result.changes["1"] == SegmentChange(adds: 600, removes: 300))
        let pending = try await walk(ledger)
        #expect(pending.count == 900)
        #expect(Set(pending.map(\.member.digest.hex)) == Set(fresh + known.suffix(300)))
        await #expect(try outboxRows(ledger) == 900)
        try await acknowledgeAll(ledger)
        #expect(try await ledger.reader.confirmedCounts() == ["1": 1300])
    }

    @Test("what a file plans while a pass runs waits for the next pass")
    func passReadsOnlyWhatWasQueuedBeforeIt() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        let end = try await ledger.reader.outboxEnd()
        try await apply("email_hash,segment_id,action\n\(c),1,add\n\(a),1,remove\n", to: ledger, in: directory)
        await #expect(try walk(ledger, through: end).map(\.member.digest.hex) == [b], "a's add was cancelled; c waits")
        await #expect(try walk(ledger).map(\.member.digest.hex) == [b, c], "the next pass takes both")
    }

    @Test("confirming one file's batch never settles another file's waiting rows in the same key range")
    func rangeConfirmationStaysWithinTheBatch() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        let keys = [a, b, c, d].sorted()
        try await apply("email_hash,segment_id,action\n\(keys[0]),1,add\n\(keys[2]),1,add\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(keys[1]),1,add\n\(keys[3]),1,add\n", to: ledger, in: directory)
        let rows = try await walk(ledger)
        #expect(rows.count == 4)
        // The second file's rows span keys[1]...keys[3], which holds the first file's keys[2].
        let second = rows.filter { [keys[1], keys[3]].contains($0.member.digest.hex) }
        #expect(try await ledger.markAcknowledged(second) == 2)
        await #expect(try pendingDescription(ledger) == ["add 1 \(keys[0].prefix(6))", "add 1 \(keys[2].prefix(6))"])
        let first = rows.filter { [keys[0], keys[2]].contains($0.member.digest.hex) }
        #expect(try await ledger.markAcknowledged(first) == 2)
        #expect(try await ledger.reader.pendingCounts().total == 0)
        #expect(try await ledger.reader.confirmedCounts() == ["1": 4])
        await #expect(try outboxRows(ledger) == 0)
    }

    @Test("a confirmation arriving after a newer file is checked row by row, not by range")
    func newerFileMeansRowByRow() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        let keys = [a, b, c].sorted()
        // keys[1] waits from an earlier file (say, its batch failed); the batch is keys[0] and keys[2].
        try await apply("email_hash,segment_id,action\n\(keys[1]),1,add\n", to: ledger, in: directory)
        try await apply("email_hash,segment_id,action\n\(keys[0]),1,add\n\(keys[2]),1,add\n", to: ledger, in: directory)
        let batch = try await walk(ledger).filter { $0.member.digest.hex != keys[1] }
        try await apply("email_hash,segment_id,action\n\(keys[2]),1,remove\n", to: ledger, in: directory)
        // By range, keys[1] (never sent) would stand in for keys[2] (changed since): same count.
        #expect(try await ledger.markAcknowledged(batch) == 1)
        await #expect(try pendingDescription(ledger) == ["add 1 \(keys[1].prefix(6))", "remove 1 \(keys[2].prefix(6))"])
    }

    @Test("a confirmation racing a snapshot of the latest file leaves the member queued once")
    func requeueAfterSnapshotIsSentOnce() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        // A remove of a member the ledger never saw is sent, while a snapshot that names it is
        // applied; then TikTok confirms the remove.
        let again = try await confirmRacing(
            "email_hash,segment_id,action\n\(a),1,remove\n", "email_hash,segment_id\n\(a),1\n", ledger: ledger, in: directory)
        #expect(again.map { "\($0.action) \($0.audienceID)" } == ["add 1"], "one add, not two")
        #expect(try await ledger.markAcknowledged(again) == 1)
        await #expect(try walk(ledger).isEmpty)
        #expect(try await ledger.reader.confirmedCounts() == ["1": 1])
    }

    @Test("a segment parked, put back and parked again while a batch was out still goes row by row")
    func parkingTwiceChangesTheEpoch() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await ledger.park(segment: "2", code: 40002, message: "refused", requestID: "r-1", now: 0)
        let epoch = try await ledger.reader.sendingEpoch()
        try await ledger.unpark(segment: "2")
        try await ledger.park(segment: "2", code: 40002, message: "refused", requestID: "r-2", now: 1)
        #expect(try await ledger.reader.sendingEpoch() != epoch)
    }

    @Test("a segment parked while its batch was out is not confirmed by the range")
    func parkingDuringAPassFallsBackToRows() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n\(a),2,add\n\(b),2,add\n", to: ledger, in: directory)
        let rows = try await walk(ledger)
        try await ledger.park(segment: "2", code: 40002, message: "refused", requestID: "r-1", now: 0)
        // Only segment 1's rows were confirmed (segment 2 was refused in another request).
        let confirmed = rows.filter { $0.audienceID == "1" }
        #expect(try await ledger.markAcknowledged(confirmed) == 2)
        #expect(try await ledger.reader.parkedSegments().first?.adds == 2)
        try await ledger.unpark()
        await #expect(try pendingDescription(ledger) == ["add 2 \(a.prefix(6))", "add 2 \(b.prefix(6))"].sorted())
    }

    @Test("a confirmation racing a newer file queues the member again, once")
    func requeuedOnce() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        let again = try await confirmRacing(
            "email_hash,segment_id,action\n\(a),1,add\n", "email_hash,segment_id,action\n\(a),1,remove\n",
            ledger: ledger, in: directory)
        #expect(again.map { "\($0.action) \($0.audienceID)" } == ["remove 1"])
        #expect(try await ledger.markAcknowledged(again) == 1)
        #expect(try await ledger.reader.pendingCounts().total == 0)
        #expect(try await ledger.reader.confirmedCounts() == [:])
        await #expect(try outboxRows(ledger) == 0)
    }
}
