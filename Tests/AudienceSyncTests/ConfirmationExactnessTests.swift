import Testing
import TestFixtures
@testable import AudienceLedger
import AudienceLedger
import AudienceModel

/// What TikTok confirmed is recorded for exactly the members the request carried, whatever
/// files were planned while it was in flight; and a wish a newer file replaced never leaves.
@Suite("Confirmations: exactly what was sent, recorded as what TikTok holds")
struct ConfirmationExactnessTests {
    let a = sha256Hex("a@example.com")
    let b = sha256Hex("b@example.com")
    let c = sha256Hex("c@example.com")

    /// A delta of one change; `version` makes the bytes of each file differ (a note column).
    func delta(_ member: String, _ action: String, _ version: Int) -> String {
        "email_hash,segment_id,action,note\n\(member),1,\(action),\(version)\n"
    }

    func pending(_ ledger: Ledger) async throws -> [PendingRow] {
        try await ledger.pendingRowsDroppingDead(after: nil, limit: 1000).0
    }

    @Test("an add confirmed after newer files removed and re-added the member is recorded: a later removal is sent")
    func addConfirmedAfterTheSameWishCameBack() async throws {
        // Seen on 6d2e081 after kills with overlapping files: the answer for the add found the row
        // at a newer generation with the same wish and recorded nothing, so the ledger still took
        // the member for absent from TikTok; the next file's removal then cancelled out, unsent.
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply(delta(a, "add", 1), to: ledger, in: directory)
        let sent = try await pending(ledger)
        _ = try await ledger.recordInFlight(sent, type: .emailSHA256, now: 0)
        try await apply(delta(a, "remove", 2), to: ledger, in: directory)
        try await apply(delta(a, "add", 3), to: ledger, in: directory)
        try await ledger.markAcknowledged(sent)
        await #expect(try pendingDescription(ledger) == [], "TikTok holds the member, as the files now say")
        try await apply(delta(a, "remove", 4), to: ledger, in: directory)
        await #expect(try pendingDescription(ledger) == ["remove 1 \(a.prefix(6))"], "TikTok holds the member: the removal must be sent")
    }

    @Test("a confirmation never settles a member its request did not carry")
    func confirmationSettlesOnlyItsOwnMembers() async throws {
        // Three pending adds in key order; a request carried the first and the last. The first was
        // confirmed already (an earlier answer), so a statement over the request's key range that
        // counts the rows it touched would touch the middle one and count right. (Neighbouring
        // keys: a range that narrow is one a single statement would settle.)
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        let keys = (1...3).map { String(repeating: "ab", count: 31) + "0\($0)" }
        try await apply("email_hash,segment_id,action\n" + keys.map { "\($0),1,add\n" }.joined(), to: ledger, in: directory)
        let rows = try await pending(ledger)
        #expect(rows.map(\.member.digest.hex) == keys)
        try await ledger.markAcknowledged([rows[0]])
        try await ledger.markAcknowledged([rows[0], rows[2]])
        #expect(try await ledger.reader.confirmedCounts() == ["1": 2], "the middle member was never sent")
        await #expect(try pendingDescription(ledger) == ["add 1 \(keys[1].prefix(6))"])
    }

    @Test("a removal confirmed after a newer file re-added the member leaves the add pending, and TikTok known to lack it")
    func removalConfirmedAfterAnAdd() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply(delta(a, "add", 5), to: ledger, in: directory)
        try await acknowledgeAll(ledger)
        try await apply(delta(a, "remove", 6), to: ledger, in: directory)
        let sent = try await pending(ledger)
        try await apply(delta(a, "add", 7), to: ledger, in: directory)
        try await apply(delta(a, "remove", 8), to: ledger, in: directory)
        try await apply(delta(a, "add", 9), to: ledger, in: directory)
        try await ledger.markAcknowledged(sent)
        await #expect(try pendingDescription(ledger) == ["add 1 \(a.prefix(6))"], "TikTok removed the member; the files want it")
    }

    @Test("a wish a newer file replaced after it was read is not sent; the rest of its batch is")
    func replacedWishIsNotSent() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        let read = try await pending(ledger)
        #expect(read.count == 2)
        // Planned while the batch waited for its turn to be sent.
        try await apply(delta(a, "remove", 10), to: ledger, in: directory)
        let ticket = try #require(try await ledger.recordInFlight(read, type: .emailSHA256, now: 0))
        #expect(ticket.rows.map(\.member.digest.hex) == [b], "only the wish still the ledger's leaves")
        // The add of a never left, and the remove cancelled it: nothing to send for a.
        await #expect(try pendingDescription(ledger) == ["add 1 \(b.prefix(6))"])
        try await apply(delta(b, "remove", 11), to: ledger, in: directory)
        #expect(try await ledger.recordInFlight(ticket.rows, type: .emailSHA256, now: 0) == nil, "nothing of it is recorded")
    }

    @Test("rows read in the current sending epoch leave as read; after a newer file, only those still wished as read")
    func epochOfTheRead() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(a),1,add\n\(b),1,add\n", to: ledger, in: directory)
        let page = try await ledger.reader.pendingRows(after: nil, limit: 1000)
        let ticket = try #require(try await ledger.recordInFlight(page.rows, readIn: page.readIn, type: .emailSHA256, now: 0))
        #expect(ticket.rows.count == 2, "nothing changed since the read")
        try await ledger.endInFlight(ticket, unconfirmed: page.rows, type: .emailSHA256, recheckAt: nil)

        let again = try await ledger.reader.pendingRows(after: nil, limit: 1000)
        try await apply(delta(a, "remove", 10), to: ledger, in: directory)
        // The sender passes the epoch of the read: a file planned since makes it look each row up.
        let later = try #require(try await ledger.recordInFlight(again.rows, readIn: again.readIn, type: .emailSHA256, now: 0))
        #expect(later.rows.map(\.member.digest.hex) == [b], "the replaced wish does not leave")
    }
}

/// A request that got no sure answer may still land; its members are sent their wish again only
/// once the grace has passed, counted from the moment, never from the start of its second.
@Suite("Resends after a send without a sure answer")
struct ResendGraceTests {
    @Test("the resend of a killed send is due no sooner than the grace after the restart")
    func graceIsNeverShort() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(sha256Hex("late@example.com")),1,add\n", to: ledger, in: directory)
        let rows = try await ledger.pendingRowsDroppingDead(after: nil, limit: 10).0
        _ = try #require(try await ledger.recordInFlight(rows, type: .emailSHA256, now: 0))
        // A restart at 1000.9 s finds the send unfinished: resent now, and again at 1003 at the earliest.
        #expect(try await ledger.reclaimInFlight(now: 1_000.9, grace: 2).interrupted == 1)
        #expect(try await ledger.reclaimInFlight(now: 1_002.95, grace: 2).rechecked == 0, "1.95 s after: too soon")
        #expect(try await ledger.reclaimInFlight(now: 1_003.0, grace: 2).rechecked == 1)
    }
}
