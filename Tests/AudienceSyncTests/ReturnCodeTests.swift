import Foundation
import Testing
import TikTokEmulator
import TestFixtures
@testable import AudienceLedger
@testable import AudienceSending
@testable import AudienceTikTok
import AudienceLedger
import AudienceModel
import AudienceSending
import AudienceTikTok
import AudienceSupport

/// TikTok's codes in full (its SDK's `tiktok_code.py`), and an audience TikTok has only just made.
@Suite("TikTok's return codes, and new audiences")
struct ReturnCodeTests {
    let members = (0..<12).map { sha256Hex("code\($0)@example.com") }

    func delta(_ rows: [(String, String, String)]) -> String {
        "email_hash,segment_id,action\n" + rows.map { "\($0.0),\($0.1),\($0.2)" }.joined(separator: "\n") + "\n"
    }

    /// The codes TikTok's list has about the app, the token, the login or the advertiser (the issue
    /// names these; the table has more).
    static let globalCodes = [40010, 40013, 40014, 40101, 40106, 40302, 40309]

    @Test("every code about the app, the token or the advertiser stops sending for all, with TikTok's name for it and what to do")
    func globalCodesPauseAll() {
        for code in Self.globalCodes {
            let handling = AnswerHandling.forCode(code)
            #expect(handling.pausesAll, "\(code) pauses all sending")
            #expect(ReturnCode.name(code) != nil, "\(code) has TikTok's name")
            #expect(ReturnCodeAdvice.forCode(code) != nil, "\(code) says what to do")
        }
        #expect(ReturnCode.described(40101) == "40101 INVALID_PARTNER")
        #expect(ReturnCode.described(40309) == "40309 REQUIRE_LOGIN")
        // About what the request carries: only these park a segment.
        for code in [40000, 40002, 40007] { #expect(AnswerHandling.forCode(code) == .permanentForBatch) }
        #expect(AnswerHandling.forCode(40012) == .successWithNote("TikTok answered NO_UPDATE; treated as applied"))
        #expect(AnswerHandling.forCode(52150) == .retry(.normal), "any 5xxxx is TikTok's side: tried again")
        #expect(AnswerHandling.forCode(51063) == .retry(.normal))
        #expect(ReturnCode.name(51063) == "SEGMENT_GATEWAY_SERVICE_ERROR")
    }

    @Test("a global code pauses every segment, parks none, and the next pass sends everything once TikTok takes it",
          arguments: ReturnCodeTests.globalCodes)
    func globalCodeResumesWithoutRetry(code: Int) async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            var rows: [(String, String, String)] = []
            for member in members[0..<6] {
                for segment in ["123456", "654321"] { rows.append((member, segment, "add")) }
            }
            try await apply(delta(rows), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue(Array(repeating: .code(code, message: "refused by TikTok"), count: 4))
            let report = try await fixture.sender(maxUsers: 2).sendPending()
            let pause = try #require(report.pause, "sending pauses for all")
            #expect(pause.message.contains("\(code)"))
            #expect(pause.message.contains(try #require(ReturnCodeAdvice.forCode(code))))
            #expect(try await fixture.ledger.reader.parkedSegments().isEmpty, "no segment is parked: `retry` is not needed")
            #expect(try await fixture.ledger.reader.pendingCounts().adds == 12, "everything stays pending")
            await emulator.state.clearFaults()
            let resumed = try await fixture.sender().sendPending()
            #expect(resumed.pause == nil)
            #expect(await fixture.held("123456") == Set(members[0..<6]))
            #expect(await fixture.held("654321") == Set(members[0..<6]))
        }
    }

    @Test("a refused token leaves the outbox as it was: the sending epoch stays (counting a large backlog needs no lookup per row), and each refused member is sent once when TikTok takes the token again")
    func refusedTokenKeepsTheOutboxTrusted() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members.map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            let epoch = try await fixture.ledger.reader.sendingEpoch()
            await emulator.state.enqueue(Array(repeating: .code(40105, message: "Access token is invalid or has been revoked"), count: 12))
            let report = try await fixture.sender(maxUsers: 4).sendPending()
            #expect(report.pause != nil, "sending pauses")
            #expect(try await fixture.ledger.reader.sendingEpoch() == epoch, "no file came: nothing to take on trust changed")
            #expect(try await fixture.ledger.reader.pendingCounts().adds == 12, "everything stays pending")
            await emulator.state.clearFaults()
            let before = await emulator.state.identifiersReceived
            let resumed = try await fixture.sender(maxUsers: 4).sendPending()
            #expect(resumed.pause == nil)
            #expect(await emulator.state.identifiersReceived - before == 12, "each member sent once more")
            #expect(await fixture.held("123456") == Set(members))
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
        }
    }

    @Test("a just-created audience that refuses writes is tried again with back-off until it takes them; nothing is parked")
    func newAudienceTakesWritesAfterAWhile() async throws {
        var configuration = EmulatorConfiguration()
        configuration.newAudienceRefusal = .seconds(3_600)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let fixture = try await SendingFixture(emulator)
            let client = TikTokClient(
                baseURL: emulator.baseURL, advertiserID: "7000000000000000001", token: AccessToken("emulator-token"))
            guard case .answered(let created) = try await client.createPartnerAudience(named: "Fresh") else {
                Issue.record("the emulator did not create the audience")
                return
            }
            try await apply(
                delta(members[0..<5].flatMap { [($0, created, "add"), ($0, "123456", "add")] }), to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 1000
            options.initialBackoff = .milliseconds(20)
            options.maxBackoff = .milliseconds(200)
            let sender = fixture.sender(options)
            let sending = Task { try await sender.sendPending() }
            // TikTok refuses the new audience a few times, then takes it.
            #expect(await emulator.state.waitUntil(timeout: .seconds(60)) { $0.refusedMappingRequestCount >= 3 })
            await emulator.state.makeAudienceReady(created)
            let report = try await sending.value
            #expect(report.failures.isEmpty, "\(report.failures)")
            #expect(try await fixture.ledger.reader.parkedSegments().isEmpty)
            #expect(await fixture.held(created) == Set(members[0..<5]))
            #expect(await fixture.held("123456") == Set(members[0..<5]))
        }
    }

    @Test("an audience that still refuses once it is no longer new is parked, as any refused segment")
    func newAudienceParkedAfterTheGrace() async throws {
        var configuration = EmulatorConfiguration()
        configuration.newAudienceRefusal = .seconds(3_600)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let fixture = try await SendingFixture(emulator)
            let client = TikTokClient(
                baseURL: emulator.baseURL, advertiserID: "7000000000000000001", token: AccessToken("emulator-token"))
            guard case .answered(let created) = try await client.createPartnerAudience(named: "Never ready") else {
                Issue.record("the emulator did not create the audience")
                return
            }
            try await apply(delta(members[0..<3].map { ($0, created, "add") }), to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 1000
            options.initialBackoff = .milliseconds(50)
            options.maxBackoff = .milliseconds(200)
            options.newAudienceGrace = .seconds(1)
            let report = try await fixture.sender(options).sendPending()
            #expect(report.failures.map(\.segments) == [[created]])
            #expect(try await fixture.ledger.reader.parkedSegments().map(\.segment) == [created])
            #expect(await fixture.held(created).isEmpty)
        }
    }
}
