import Testing
@testable import AudienceLedger
@testable import AudienceModel
@testable import AudiencePlanning
@testable import AudienceReading
@testable import AudienceSending
@testable import AudienceTikTok
import AudienceLedger
import AudienceModel
import AudiencePlanning
import AudienceReading
import AudienceSending
import AudienceTikTok

@Suite("Packing and return codes")
struct PackingTests {
    func row(_ index: Int, _ segment: String, _ action: MembershipAction = .add, type: IdentifierType = .emailSHA256) -> PendingRow {
        PendingRow(
            member: Member(type: type, digest: Digest32(w0: 0, w1: 0, w2: 0, w3: UInt64(index))), segmentRow: Int64(segment) ?? 0,
            audienceID: segment, action: action, generation: 1, seq: Int64(index))
    }

    @Test("a batch keeps the sending epoch its rows were read in only while all were read in the same one")
    func batchEpoch() {
        let first = SendingEpoch(generation: 4, parking: 0)
        let second = SendingEpoch(generation: 5, parking: 0)
        func packed(_ epochs: [SendingEpoch?]) -> SendingEpoch?? {
            var packer = BatchPacker(maxUsers: 10_000)
            for (index, epoch) in epochs.enumerated() { _ = packer.add(row(index, "1"), readIn: epoch) }
            return packer.finish().first.map(\.readIn)
        }
        #expect(packed([first, first]) == .some(first))
        #expect(packed([first, second]) == .some(nil), "read across a file planned meanwhile: each row is looked up")
        #expect(packed([second, first]) == .some(nil))
        #expect(packed([first, nil]) == .some(nil))
        #expect(packed([nil, first]) == .some(nil))
    }

    @Test("one identifier carries every segment it joins: a member of five segments costs one slot")
    func multiSegmentPacking() {
        var packer = BatchPacker(maxUsers: 10_000)
        var batches: [MappingBatch] = []
        for segment in ["1", "2", "3", "4", "5"] { batches += packer.add(row(7, segment)) }
        batches += packer.finish()
        #expect(batches.count == 1)
        #expect(batches[0].users.count == 1)
        #expect(batches[0].users[0].audienceIDs == ["1", "2", "3", "4", "5"])
    }

    @Test("an identifier waiting in two files' changes still takes one slot")
    func packingAcrossFiles() {
        var packer = BatchPacker(maxUsers: 10_000)
        var batches: [MappingBatch] = []
        // The outbox holds each file's changes in key order, one file after the other.
        for index in 0..<3 { batches += packer.add(row(index, "1")) }
        for index in 0..<3 { batches += packer.add(row(index, "2")) }
        batches += packer.finish()
        #expect(batches.count == 1)
        #expect(batches[0].users.count == 3)
        #expect(batches[0].users.allSatisfy { $0.audienceIDs == ["1", "2"] })
        #expect(batches[0].rows.count == 6)
    }

    @Test("at most 10,000 users per request; requests are the minimum")
    func tenThousandLimit() {
        var packer = BatchPacker()
        var batches: [MappingBatch] = []
        for index in 0..<25_001 {
            batches += packer.add(row(index, "1"))
            batches += packer.add(row(index, "2"))
        }
        batches += packer.finish()
        #expect(batches.map(\.users.count) == [10_000, 10_000, 5_001])
        #expect(batches.allSatisfy { $0.users.allSatisfy { $0.audienceIDs == ["1", "2"] } })
    }

    @Test("adds and deletes, and each identifier type, go in separate requests")
    func separateActionsAndTypes() {
        var packer = BatchPacker()
        var batches: [MappingBatch] = []
        batches += packer.add(row(1, "1", .add))
        batches += packer.add(row(1, "2", .remove))
        batches += packer.add(row(2, "1", .add, type: .phoneSHA256))
        batches += packer.finish()
        #expect(batches.count == 3)
        #expect(Set(batches.map { "\($0.action)-\($0.type.schemaName)" }) == ["add-EMAIL_SHA256", "remove-EMAIL_SHA256", "add-PHONE_SHA256"])
    }

    @Test("halving a batch keeps each identifier's rows together")
    func halves() {
        var packer = BatchPacker()
        for index in 0..<5 {
            _ = packer.add(row(index, "1"))
            _ = packer.add(row(index, "2"))
        }
        let batch = packer.finish()[0]
        let (first, second) = batch.halves()
        #expect(first.users.count + second.users.count == 5)
        #expect(first.rows.count == first.users.count * 2)
        #expect(second.rows.count == second.users.count * 2)
    }

    @Test("return codes map to what TIKTOK_API.md says to do", arguments: [
        (0, AnswerHandling.success), (40100, .retry(.rateLimited)), (50002, .retry(.normal)), (61000, .retry(.long)),
        (60001, .retry(.long)), (40200, .retry(.normal)), (40061, .split), (40011, .split), (40105, .tokenRefused),
        (40104, .tokenRefused), (40102, .tokenRefused), (40001, .configurationRefused), (40002, .permanentForBatch),
        (40062, .bodyRejected), (12345, .permanentForBatch), (41000, .serviceRefused), (40009, .serviceRefused),
        (40006, .serviceRefused), (40051, .serviceRefused), (40400, .serviceRefused), (41001, .serviceRefused),
        (40117, .configurationRefused), (40118, .configurationRefused),
    ])
    func returnCodes(code: Int, expected: AnswerHandling) {
        #expect(AnswerHandling.forCode(code) == expected)
    }

    @Test("without an envelope the HTTP status decides")
    func httpStatuses() {
        #expect(AnswerHandling.forHTTPStatus(503) == .retry(.normal))
        #expect(AnswerHandling.forHTTPStatus(502) == .retry(.normal))
        #expect(AnswerHandling.forHTTPStatus(429) == .retry(.rateLimited))
        #expect(AnswerHandling.forHTTPStatus(404) == .serviceRefused, "no route at the base URL concerns every segment")
        let answer = TikTokAnswer.parse(status: 400, body: Array(#"{"code":40200,"message":"not ready","request_id":"r1"}"#.utf8))
        #expect(answer.handling == .retry(.normal), "an HTTP 400 carrying an envelope is read by its code")
    }

    @Test("the sorted chunk keeps only the last change per member and segment")
    func sortKeepingLast() {
        func change(_ index: UInt64, _ segment: UInt32, _ action: MembershipAction, line: Int32) -> MemberChange {
            MemberChange(member: Member(type: .emailSHA256, digest: Digest32(w0: index, w1: 0, w2: 0, w3: 0)), segment: segment, action: action, line: line)
        }
        var chunk = [change(2, 0, .add, line: 1), change(1, 0, .add, line: 2), change(2, 0, .remove, line: 3), change(2, 1, .add, line: 4)]
        Planner.sortKeepingLast(&chunk)
        #expect(chunk.map(\.line) == [2, 3, 4])
    }
}
