import Foundation
import Testing
import TestFixtures
@testable import AudienceLedger
@testable import AudienceReading
import AudienceLedger
import AudienceModel
import AudienceReading

/// The ledger's record of one member: every change a file made to its wish, and the request that
/// last carried it, as far back as the file history goes.
@Suite("Ledger: a member's trail")
struct MemberTrailTests {
    let alice = sha256Hex("alice@example.com")
    let bob = sha256Hex("bob@example.com")
    var aliceMember: Member { Member(type: .emailSHA256, digest: Digest32(hex: alice)) }

    func request(_ action: MembershipAction, code: Int?, id: String?) -> SentRequest {
        SentRequest(
            sentAt: Int64(Date().timeIntervalSince1970), action: action, type: .emailSHA256, users: 1, code: code, httpStatus: 200,
            message: code == 0 ? "OK" : "refused", requestID: id)
    }

    @Test("files that changed a member, newest first, with the action each gave; a snapshot that left it out removed it")
    func changesFromFiles() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(alice),111,add\n\(bob),111,add\n\(alice),222,add\n", to: ledger, in: directory, name: "acme-1.csv")
        // The same wish again changes nothing: no trail row.
        try await apply("email_hash,segment_id,action\n\(alice),111,add\n", to: ledger, in: directory, name: "acme-2.csv")
        // A snapshot of 111 without alice removes her there.
        try await apply("email_hash,segment_id\n\(bob),111\n", to: ledger, in: directory, name: "acme-3.csv")

        let traces = try await ledger.reader.trace(aliceMember)
        #expect(traces.map(\.segment) == ["111", "222"])
        let first = try #require(traces.first)
        #expect(first.desired == false)
        #expect(first.held == .notMember, "a new row from an add starts as not at TikTok")
        #expect(first.changes.map(\.file) == ["acme-3.csv", "acme-1.csv"])
        #expect(first.changes.map(\.desired) == [false, true])
        #expect(first.changes.map(\.kind) == [.snapshot, .delta])
        #expect(traces.last?.changes.map(\.file) == ["acme-1.csv"])
        #expect(try await ledger.reader.trace(aliceMember, segment: SegmentID("222")).map(\.segment) == ["222"])
        #expect(try await ledger.reader.trace(aliceMember, segment: SegmentID("999")).isEmpty, "a segment the ledger never saw")
        let nobody = Member(type: .emailSHA256, digest: Digest32(hex: sha256Hex("nobody@example.com")))
        #expect(try await ledger.reader.trace(nobody).isEmpty)
    }

    @Test("the last request that carried a member: its answer on the member's row, and on the trail once a confirmed removal lets the row go")
    func lastRequest() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        // Many members in each request: every one of them is named, not only the first.
        let others = (0..<40).map { sha256Hex("other\($0)@example.com") }
        func rows(_ action: String) -> String { ([alice] + others).map { "\($0),111,\(action)\n" }.joined() }
        let last = Member(type: .emailSHA256, digest: Digest32(hex: try #require(others.last)))
        try await apply("email_hash,segment_id,action\n" + rows("add"), to: ledger, in: directory, name: "add.csv")
        let adds = try await ledger.pendingRowsDroppingDead(after: nil, limit: 100).0
        try await ledger.markAcknowledged(adds, request: request(.add, code: 0, id: "req-add"))
        var trace = try #require(try await ledger.reader.trace(aliceMember).first)
        #expect(trace.held == .member)
        #expect(trace.lastRequest?.requestID == "req-add")
        #expect(trace.lastRequest?.code == 0)
        #expect(try await ledger.reader.trace(last).first?.lastRequest?.requestID == "req-add")

        // A removal TikTok refuses (the send ends without a code 0): unknown, with that request.
        try await apply("email_hash,segment_id,action\n" + rows("remove"), to: ledger, in: directory, name: "remove.csv")
        let removes = try await ledger.pendingRowsDroppingDead(after: nil, limit: 100).0
        let ticket = try #require(try await ledger.recordInFlight(removes, type: .emailSHA256, now: 1))
        try await ledger.endInFlight(ticket, unconfirmed: removes, type: .emailSHA256, recheckAt: nil, request: request(.remove, code: 40002, id: "req-refused"))
        trace = try #require(try await ledger.reader.trace(aliceMember).first)
        #expect(trace.held == .unknown)
        #expect(trace.lastRequest?.requestID == "req-refused")
        #expect(trace.lastRequest?.code == 40002)
        #expect(try await ledger.reader.trace(last).first?.lastRequest?.requestID == "req-refused")

        // Then confirmed: the member's row goes; the trail keeps the request.
        let again = try await ledger.pendingRowsDroppingDead(after: nil, limit: 100).0
        try await ledger.markAcknowledged(again, request: request(.remove, code: 0, id: "req-removed"))
        trace = try #require(try await ledger.reader.trace(aliceMember).first)
        #expect(trace.desired == nil, "no row: the removal is confirmed")
        #expect(trace.held == .notMember)
        #expect(trace.changes.map(\.file) == ["remove.csv", "add.csv"])
        #expect(trace.lastRequest?.requestID == "req-removed")
        #expect(try await ledger.reader.trace(last).first?.lastRequest?.requestID == "req-removed")
    }

    @Test("a forgotten file takes its part of the trail with it")
    func retention() async throws {
        let directory = try TemporaryDirectory()
        let ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        try await apply("email_hash,segment_id,action\n\(alice),111,add\n", to: ledger, in: directory, name: "old.csv")
        let oldPrint = try AudienceFileReader(path: directory.path + "/old.csv").fingerprint()
        try await ledger.recordArchived(fingerprint: oldPrint, as: "archive/old.csv")
        try await acknowledgeAll(ledger)
        let now = Int64(Date().timeIntervalSince1970)
        _ = try await ledger.confirmSettledFiles(now: now)
        try await apply("email_hash,segment_id,action\n\(bob),111,add\n", to: ledger, in: directory, name: "new.csv")
        #expect(try await ledger.reader.trace(aliceMember).first?.changes.count == 1)
        #expect(try await ledger.forgetFiles(takenBefore: now + 401 * 86_400) == 1)
        let trace = try #require(try await ledger.reader.trace(aliceMember).first)
        #expect(trace.changes.isEmpty, "as far back as the file history goes")
        #expect(trace.held == .member, "the wish and what TikTok holds stay")
    }
}

extension Digest32 {
    /// 64 hex digits as a digest (for tests).
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        self.init(bytes)
    }
}
