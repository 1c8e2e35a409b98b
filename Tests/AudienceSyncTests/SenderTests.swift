import AsyncHTTPClient
import Foundation
import Logging
import Testing
import TikTokEmulator
import TestFixtures
@testable import AudienceLedger
@testable import AudienceSending
@testable import AudienceTikTok
import AudienceLedger
import AudienceSending
import AudienceTikTok
import AudienceSupport

/// A ledger with pending work, a sender pointed at a live emulator, and helpers to compare.
struct SendingFixture {
    let directory: TemporaryDirectory
    let ledger: Ledger
    let emulator: RunningEmulator

    init(_ emulator: RunningEmulator) async throws {
        directory = try TemporaryDirectory()
        ledger = try Ledger(path: directory.path + "/ledger.sqlite")
        self.emulator = emulator
    }

    func sender(token: String = "emulator-token", maxAttempts: Int = 6, maxUsers: Int = 10_000) -> Sender {
        var options = SenderOptions()
        options.requestsPerSecond = 1000
        options.initialBackoff = .milliseconds(1)
        options.maxBackoff = .milliseconds(20)
        options.maxAttempts = maxAttempts
        options.maxUsersPerRequest = maxUsers
        return sender(options, token: token)
    }

    func sender(_ options: SenderOptions, token: String = "emulator-token") -> Sender {
        let client = TikTokClient(
            baseURL: emulator.baseURL, advertiserID: "7000000000000000001", token: AccessToken(token), http: TikTokClient.sharedHTTPClient,
            timeout: .seconds(5))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return Sender(ledger: ledger, client: client, options: options, logger: logger)
    }

    /// What the emulator holds for `audience`, as lowercase hex ids.
    func held(_ audience: String) async -> Set<String> {
        Set(await emulator.state.members(of: audience).map(\.id))
    }
}

@Suite("Sending to TikTok (emulator over real HTTP)")
struct SenderTests {
    let members = (0..<30).map { sha256Hex("member\($0)@example.com") }

    func delta(_ rows: [(String, String, String)]) -> String {
        "email_hash,segment_id,action\n" + rows.map { "\($0.0),\($0.1),\($0.2)" }.joined(separator: "\n") + "\n"
    }

    @Test("mixed deltas and snapshots in order end in exactly the membership the files say")
    func exactMembership() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply("email_hash,segment_id\n" + members[0..<10].map { "\($0),123456" }.joined(separator: "\n") + "\n",
                      to: fixture.ledger, in: fixture.directory)
            _ = try await fixture.sender().sendPending()
            try await apply(delta([(members[0], "123456", "remove"), (members[10], "123456", "add"), (members[11], "654321", "add")]),
                      to: fixture.ledger, in: fixture.directory)
            try await apply("email_hash,segment_id\n" + members[5..<12].map { "\($0),123456" }.joined(separator: "\n") + "\n",
                      to: fixture.ledger, in: fixture.directory)
            let report = try await fixture.sender().sendPending()
            #expect(report.failures.isEmpty)
            #expect(await fixture.held("123456") == Set(members[5..<12]))
            #expect(await fixture.held("654321") == [members[11]])
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
            let again = try await fixture.sender().sendPending()
            #expect(again.requests == 0, "nothing pending means nothing sent")
        }
    }

    @Test("an add and its remove planned before any sending cost TikTok no request")
    func addThenRemoveSendsNothing() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<3].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            try await apply(delta(members[0..<3].map { ($0, "123456", "remove") }), to: fixture.ledger, in: fixture.directory)
            let report = try await fixture.sender().sendPending()
            #expect(report.requests == 0)
            #expect(await emulator.state.mappingRequestCount == 0)
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
        }
    }

    @Test("a member of several segments is one identifier with all its audience_ids; 10,000 users a request")
    func packing() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            var rows = "email_hash,segment_id,action\n"
            for index in 0..<12_000 {
                let hash = sha256Hex("p\(index)")
                rows += "\(hash),123456,add\n\(hash),654321,add\n"
            }
            try await apply(rows, to: fixture.ledger, in: fixture.directory)
            let report = try await fixture.sender().sendPending()
            #expect(report.requests == 2)
            #expect(await emulator.state.identifiersReceived == 12_000)
            #expect(await emulator.state.memberCounts() == ["123456": 12_000, "654321": 12_000])
        }
    }

    @Test("rate limits, TikTok errors and gateway pages are retried until confirmed")
    func transientFaults() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<3].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue([
                .code(40100, message: "Too many requests"), .code(50002, message: "timeout"),
                .gatewayError(status: 503), .code(40200, message: "not ready", httpStatus: 400),
            ])
            let report = try await fixture.sender().sendPending()
            #expect(report.requests == 5)
            #expect(report.failures.isEmpty)
            #expect(await fixture.held("123456") == Set(members[0..<3]))
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
        }
    }

    @Test("a 40100 storm (TikTok's requests-per-second limit) slows the sender down instead of failing it")
    func rateLimitStorm() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            await emulator.state.setRequestsPerSecondLimit(8)
            try await apply(delta(members.map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 200
            options.maxUsersPerRequest = 1
            options.initialBackoff = .milliseconds(100)
            options.maxBackoff = .seconds(1)
            let report = try await fixture.sender(options).sendPending()
            #expect(report.failures.isEmpty, "every batch is confirmed in the end: \(report.failures)")
            #expect(await fixture.held("123456") == Set(members))
            let refused = report.requests - members.count
            #expect(refused > 0, "the storm happened: sent at 200/s against a limit of 8/s")
            #expect(refused < members.count, "the sender slowed down instead of hammering: \(refused) refusals")
        }
    }

    @Test("one batch that never gets an answer while others do is that batch's failure, not a pause of all sending")
    func oneUnansweredBatch() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<3].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            // The first request goes through; every try of the second loses its connection.
            await emulator.state.enqueue([.delay(.zero)] + Array(repeating: .applyThenDropConnection, count: 6))
            var options = SenderOptions()
            options.maxUsersPerRequest = 1
            options.maxInFlight = 1
            options.initialBackoff = .milliseconds(1)
            options.maxBackoff = .milliseconds(5)
            let report = try await fixture.sender(options).sendPending()
            #expect(report.pausedReason == nil, "TikTok answered other requests: \(report.pausedReason ?? "")")
            #expect(report.failures.count == 1)
            #expect(report.unanswered == 6)
            #expect(report.acknowledged == 2, "the batches after the failing one were still sent")
            #expect(try await fixture.ledger.reader.pendingCounts().total == 1)
            let again = try await fixture.sender(options).sendPending()
            #expect(again.failures.isEmpty)
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
            #expect(await fixture.held("123456") == Set(members[0..<3]))
        }
    }

    @Test("TikTok's rate-limit answers halve the pace; successes win it back a little at a time")
    func adaptiveRate() async throws {
        let limiter = RateLimiter(requestsPerSecond: 100)
        await limiter.rateLimited(pause: .zero)
        #expect(await limiter.rate == 50)
        await limiter.rateLimited(pause: .zero)
        #expect(await limiter.rate == 25)
        await limiter.succeeded()
        let afterOne = await limiter.rate
        #expect(afterOne > 25 && afterOne < 30, "one success does not undo a halving")
        for _ in 0..<100 { await limiter.succeeded() }
        #expect(await limiter.rate == 100, "never above the configured requests_per_second")
    }

    @Test("the requests in flight grow with slow confirmations up to what the pace needs, never past the ceiling, shrink when answers quicken, halve when overloaded")
    func inFlightWindow() {
        let window = InFlightWindow(ceiling: 10)
        #expect(window.limit == 4)
        window.confirmed(after: 0.5, pace: 20)
        #expect(window.limit == 5, "one step at a time")
        for _ in 0..<50 { window.confirmed(after: 0.5, pace: 20) }
        #expect(window.limit == 10, "20/s at 0.5 s needs 11: capped at the ceiling")
        let now = ContinuousClock.now
        window.overloaded(now: now)
        #expect(window.limit == 5)
        window.overloaded(now: now + .milliseconds(100))
        #expect(window.limit == 5, "one overload answers many requests at once: halved once per answer time")
        window.overloaded(now: now + .seconds(2))
        #expect(window.limit == 2)
        for _ in 0..<100 { window.confirmed(after: 0.12, pace: 20) }
        #expect(window.limit == 4, "20/s at 0.12 s needs 2.4, so 3 and one more: the window settles there")
        let fast = InFlightWindow(ceiling: 10)
        for _ in 0..<50 { fast.confirmed(after: 0.01, pace: 20) }
        #expect(fast.limit == 2, "quick answers need few at once: the window comes down to what they need")
        #expect(InFlightWindow(ceiling: 2).limit == 2)
    }

    @Test("against slow answers more than 4 requests go at once, so the pace is the configured one, not 4 per answer time")
    func slowAnswersWidenTheWindow() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(300)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members.map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 40
            options.maxUsersPerRequest = 1
            options.maxInFlight = 16
            let report = try await fixture.sender(options).sendPending()
            #expect(report.failures.isEmpty)
            #expect(await fixture.held("123456") == Set(members))
            let peak = await emulator.state.peakConcurrentRequests
            #expect(peak > 4, "40/s at 0.3 s an answer needs 13 in flight; the window opened to \(peak)")
            #expect(peak <= 16)
        }
    }

    @Test("an answer lost after TikTok applied the change ends in the right state")
    func lostAnswers() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<4].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue([.applyThenFail(status: 504), .applyThenDropConnection])
            let report = try await fixture.sender().sendPending()
            #expect(report.failures.isEmpty)
            #expect(report.requests == 2, "the 504 page is an answer")
            #expect(report.unanswered == 1, "the dropped connection is not")
            #expect(await fixture.held("123456") == Set(members[0..<4]))
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0)
        }
    }

    @Test("40002 on a batch packing several segments is narrowed to the refused segment, which is parked; the rest goes on")
    func permanentRefusal() async throws {
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.addAudience("111")
            await emulator.state.addAudience("222")
            let fixture = try await SendingFixture(emulator)
            var rows: [(String, String, String)] = []
            for member in members[0..<6] {
                for segment in ["111", "123456", "222", "654321"] { rows.append((member, segment, "add")) }
            }
            try await apply(delta(rows), to: fixture.ledger, in: fixture.directory)
            await emulator.state.setRefusedAudiences(["654321"])
            let report = try await fixture.sender().sendPending()
            #expect(report.failures.count == 1)
            let failure = try #require(report.failures.first)
            #expect(failure.code == 40002)
            #expect(failure.segments == ["654321"])
            #expect(!(failure.requestID ?? "").isEmpty)
            #expect(failure.message.contains("654321"))
            for segment in ["111", "123456", "222"] { #expect(await fixture.held(segment) == Set(members[0..<6])) }
            #expect(await fixture.held("654321").isEmpty)
            let parked = try await fixture.ledger.reader.parkedSegments()
            #expect(parked.map(\.segment) == ["654321"])
            #expect(parked.first?.adds == 6)
            #expect(parked.first?.requestID == failure.requestID)
            #expect(try await fixture.ledger.reader.pendingCounts().total == 0, "parked rows wait outside the pending work")
            let idle = try await fixture.sender().sendPending()
            #expect(idle.requests == 0, "a parked segment is not sent again by itself")
            await emulator.state.setRefusedAudiences([])
            #expect(try await fixture.ledger.unpark(segment: "654321") == 6)
            _ = try await fixture.sender().sendPending()
            #expect(await fixture.held("654321") == Set(members[0..<6]))
        }
    }

    @Test("a code about the whole API pauses all sending, names the code and what to do, and parks no segment",
          arguments: [41000, 40009, 40006, 40051, 40400, 41001])
    func serviceRefusal(code: Int) async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            var rows: [(String, String, String)] = []
            for member in members[0..<8] {
                for segment in ["123456", "654321"] { rows.append((member, segment, "add")) }
            }
            try await apply(delta(rows), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue(Array(repeating: .code(code, message: "refused by TikTok"), count: 8))
            let report = try await fixture.sender(maxUsers: 2).sendPending()
            let pause = try #require(report.pause, "sending pauses")
            #expect(pause.kind == .serviceRefused)
            #expect(pause.message.contains("\(code)"))
            let advice = try #require(ReturnCodeAdvice.forCode(code), "every global code has advice")
            #expect(pause.message.contains(advice))
            #expect(try await fixture.ledger.reader.parkedSegments().isEmpty, "no segment is parked for a refusal of the API itself")
            #expect(try await fixture.ledger.reader.pendingCounts().adds == 16, "everything stays pending")
            await emulator.state.clearFaults()
            let resumed = try await fixture.sender().sendPending()
            #expect(resumed.pause == nil)
            #expect(await fixture.held("123456") == Set(members[0..<8]))
            #expect(await fixture.held("654321") == Set(members[0..<8]))
        }
    }

    @Test("40117 says the app may need TikTok's allow-listing and the user Admin or Operator rights")
    func allowListAdvice() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<2].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue([.code(40117, message: "app not allowed")])
            let report = try await fixture.sender().sendPending()
            let pause = try #require(report.pause)
            #expect(pause.kind == .accessRefused)
            #expect(pause.message.contains("allow-listing") && pause.message.contains("Admin or Operator"))
            #expect(try await fixture.ledger.reader.parkedSegments().isEmpty)
        }
    }

    @Test("a segment that is a Customer File audience is refused by TikTok and parked; the Partner segment goes on")
    func customerFileAudience() async throws {
        try await TikTokEmulator.withRunning { emulator in
            await emulator.state.addAudience("333", type: EmulatorState.customerFileType)
            let fixture = try await SendingFixture(emulator)
            try await apply(
                delta(members[0..<3].flatMap { [($0, "123456", "add"), ($0, "333", "add")] }), to: fixture.ledger, in: fixture.directory)
            let report = try await fixture.sender().sendPending()
            #expect(report.failures.map(\.segments) == [["333"]])
            #expect(report.failures.first?.message.contains("Partner") == true)
            #expect(try await fixture.ledger.reader.parkedSegments().map(\.segment) == ["333"])
            #expect(await fixture.held("123456") == Set(members[0..<3]))
        }
    }

    @Test("a refused token pauses all sending and keeps everything pending")
    func tokenRefused() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            var rows: [(String, String, String)] = []
            for member in members { rows.append((member, "123456", "add")) }
            try await apply(delta(rows), to: fixture.ledger, in: fixture.directory)
            let report = try await fixture.sender(token: "expired-token", maxUsers: 5).sendPending()
            #expect(report.pausedReason?.contains("access token") == true)
            #expect(report.requests <= 4, "no more than the requests already in flight")
            #expect(try await fixture.ledger.reader.pendingCounts().adds == 30)
            let retry = try await fixture.sender(maxUsers: 5).sendPending()
            #expect(retry.pausedReason == nil)
            #expect(await fixture.held("123456").count == 30)
        }
    }

    @Test("a batch TikTok finds too large is split and both halves land")
    func splitOnTooLarge() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta(members[0..<6].map { ($0, "123456", "add") }), to: fixture.ledger, in: fixture.directory)
            await emulator.state.enqueue([.code(40061, message: "batch too large")])
            let report = try await fixture.sender().sendPending()
            #expect(report.requests == 3)
            #expect(await fixture.held("123456").count == 6)
        }
    }

    @Test("the access token travels only in the Access-Token header")
    func tokenHeader() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let fixture = try await SendingFixture(emulator)
            try await apply(delta([(members[0], "123456", "add")]), to: fixture.ledger, in: fixture.directory)
            _ = try await fixture.sender().sendPending()
            let request = try #require(await emulator.state.requests().last)
            #expect(request.header("Access-Token") == "emulator-token")
            #expect(!request.bodyText.contains("emulator-token"))
        }
    }
}
