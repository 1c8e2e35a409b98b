import Foundation
import ServiceLifecycleTestKit
import Testing
import TikTokEmulator
import TestFixtures
import AudienceLedger
import AudienceSending
import AudienceSupport

@Suite("A graceful shutdown of a sending pass")
struct GracefulShutdownTests {
    let members = (0..<40).map { sha256Hex("shutdown\($0)@example.com") }

    /// A pass whose every request TikTok answers "busy": each batch has been tried once and waits
    /// out a back-off of half an hour or more when the shutdown comes. Without the wake, the
    /// pass would wait it out and the test would run out of time.
    @Test(
        "a shutdown wakes batches waiting out a back-off: the pass ends, sends nothing new, and its members stay pending",
        .timeLimit(.minutes(1)))
    func shutdownDuringBackOff() async throws {
        var configuration = EmulatorConfiguration()
        configuration.randomFaults = [RandomFault(.code(50002, message: "system busy"), probability: 1)]
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let fixture = try await SendingFixture(emulator)
            let rows = members[0..<20].map { "\($0),123456,add" }.joined(separator: "\n")
            _ = try await apply("email_hash,segment_id,action\n" + rows + "\n", to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 1000
            options.maxUsersPerRequest = 10
            options.maxInFlight = 4
            options.initialBackoff = .seconds(3_600)
            options.maxBackoff = .seconds(3_600)
            let sender = fixture.sender(options)
            let report = try await testGracefulShutdown { shutdown in
                let pass = Task { try await sender.sendPending() }
                // Two batches of ten, each tried once: then both are waiting. (Two, not more: the
                // first "busy" halves the window of requests in flight to two.)
                #expect(await emulator.state.waitUntil { $0.mappingRequestCount == 2 })
                shutdown.triggerGracefulShutdown()
                return try await pass.value
            }
            #expect(report.requests == 2)
            #expect(report.acknowledged == 0)
            #expect(await emulator.state.mappingRequestCount == 2, "nothing is sent after the shutdown")
            #expect(try await fixture.ledger.reader.pendingCounts().total == 20)
            #expect(await fixture.held("123456").isEmpty)
        }
    }

    /// Four batches of ten, two in flight at most, TikTok answering each after 3 s: the shutdown
    /// comes while the first request is out. The second may be out too, or not yet (its record
    /// is written first, and a busy disk can take longer than that); either way, what was sent
    /// is what gets recorded, and no batch starts after the shutdown (the third could start only
    /// once an answer came, 3 s later).
    @Test("a shutdown lets the requests in flight finish and records TikTok's confirmations", .timeLimit(.minutes(1)))
    func shutdownWithRequestsInFlight() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .seconds(3)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let fixture = try await SendingFixture(emulator)
            let rows = members.map { "\($0),123456,add" }.joined(separator: "\n")
            _ = try await apply("email_hash,segment_id,action\n" + rows + "\n", to: fixture.ledger, in: fixture.directory)
            var options = SenderOptions()
            options.requestsPerSecond = 1000
            options.maxUsersPerRequest = 10
            options.maxInFlight = 2
            let sender = fixture.sender(options)
            let report = try await testGracefulShutdown { shutdown in
                let pass = Task { try await sender.sendPending() }
                #expect(await emulator.state.waitUntil { $0.requestsInProgress >= 1 })
                shutdown.triggerGracefulShutdown()
                return try await pass.value
            }
            let sent = await emulator.state.mappingRequestCount
            #expect((1...2).contains(sent), "only what was out when the shutdown came: \(sent) request(s)")
            #expect(report.requests == sent)
            #expect(report.acknowledged == 10 * sent, "every answer that came is recorded")
            #expect(await fixture.held("123456").count == 10 * sent)
            #expect(try await fixture.ledger.reader.pendingCounts().total == 40 - 10 * sent)
        }
    }
}
