import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// Once a request may have reached TikTok, the ledger may not assume what TikTok holds: each
/// case sends a wish, loses what TikTok did with it (a kill, lost answers, a late landing), then
/// follows it with the opposite wish, which must reach TikTok.
@Suite("unknown after sending: a later opposite wish is always sent", .serialized)
struct UnknownStateEndToEndTests {
    static let members = (0..<1_000).map { sha256Hex("unknown-\($0)") }

    /// `note` goes in an extra column, so that two files with the same rows differ in their bytes.
    static func delta(_ action: String, note: String = "") -> String {
        "email_hash,segment_id,action,note\n" + members.map { "\($0),123456,\(action),\(note)\n" }.joined()
    }

    static func held(_ emulator: RunningEmulator) async -> Set<String> {
        Set(await emulator.state.members(of: "123456").map(\.id))
    }

    /// Sends `first` with `faults` queued and kills `once` (SIGKILL) as soon as TikTok has the
    /// request when `kill` is set; then drops `second` and runs `once` until nothing is left.
    static func opposite(
        first: String, second: String, faults: [EmulatorFault], kill: Bool, tiktokYAML: String = "",
        _ emulator: RunningEmulator
    ) async throws -> (Workspace, CommandResult) {
        let workspace = try Workspace(emulator: emulator, tiktokYAML: tiktokYAML + "\n" + Workspace.quickRecheckYAML)
        await emulator.state.enqueue(faults)
        try workspace.drop("1-first.csv", delta(first), age: 20)
        if kill {
            _ = try await workspace.once(signalledAtNextRequest: SIGKILL, of: emulator)
        } else {
            let unanswered = try await workspace.once()
            #expect(unanswered.status == 75, "\(unanswered.output)")
        }
        // TikTok applies the request whatever became of the client.
        try await Task.sleep(for: .milliseconds(900))
        try workspace.drop("2-second.csv", delta(second), age: 10)
        let result = try await workspace.onceUntilRechecked()
        return (workspace, result)
    }

    @Test("an add in flight when once is killed, then a file removing the same members: none stay")
    func killedAddThenRemove() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let (_, result) = try await Self.opposite(
                first: "add", second: "remove", faults: [.delay(.milliseconds(500))], kill: true, emulator)
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty)
        }
    }

    @Test("a remove in flight when once is killed, then a file adding them again: all are there")
    func killedRemoveThenAdd() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: Workspace.quickRecheckYAML)
            try workspace.drop("0-start.csv", Self.delta("add"), age: 30)
            #expect(try await workspace.once().status == 0)
            await emulator.state.enqueue([.delay(.milliseconds(500))])
            try workspace.drop("1-remove.csv", Self.delta("remove"), age: 20)
            _ = try await workspace.once(signalledAtNextRequest: SIGKILL, of: emulator)
            try await Task.sleep(for: .milliseconds(900))
            #expect(await Self.held(emulator).isEmpty, "TikTok applied the remove after the kill")
            // Not the same bytes as the first add (a delta seen before is not applied again).
            try workspace.drop("2-add.csv", Self.delta("add", note: "again"), age: 10)
            let result = try await workspace.onceUntilRechecked()
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator) == Set(Self.members), "\(result.output)")
        }
    }

    @Test("every try applied but unanswered (exit 75), then the opposite file: it is sent")
    func unansweredThenOpposite() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let (_, result) = try await Self.opposite(
                first: "add", second: "remove", faults: [.applyThenDropConnection, .applyThenFail(status: 504)], kill: false,
                tiktokYAML: "  max_attempts: 2", emulator)
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty)
        }
    }

    @Test("a request TikTok applies after a newer remove was confirmed does not stick")
    func lateLandingIsUndone() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: Workspace.quickRecheckYAML)
            // The add is answered 504 and lands later (made to land once the remove is confirmed,
            // before the resend 3 s after the answer); its retry is confirmed at once.
            await emulator.state.enqueue([.landLate(after: .seconds(60), status: 504)])
            try workspace.drop("1-add.csv", Self.delta("add"), age: 20)
            let first = try await workspace.once()
            #expect(first.status == 75 && first.output.contains("got no sure answer"), "\(first.output)")
            try workspace.drop("2-remove.csv", Self.delta("remove"), age: 10)
            let second = try await workspace.once()
            #expect(second.status == 75, "\(second.output)")
            #expect(await Self.held(emulator).isEmpty, "the remove was confirmed before the late landing")
            await emulator.state.landLateRequestsNow()
            #expect(await Self.held(emulator).count == Self.members.count, "the old add landed late")
            let result = try await workspace.onceUntilRechecked()
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty)
        }
    }

    @Test("SIGTERM stops once gracefully: the answer in flight is recorded, exit 75 with work left")
    func onceStopsGracefully() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(400)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: 1\n" + Workspace.quickRecheckYAML)
            var text = "email_hash,segment_id,action\n"
            for index in 0..<30_000 { text += "\(sha256Hex("graceful-\(index)")),123456,add\n" }
            try workspace.drop("big.csv", text)
            let stopped = try await workspace.once(signalledAtNextRequest: SIGTERM, of: emulator)
            #expect(stopped.status == 75, "\(stopped.output)")
            // The request in flight finished and its answer was recorded: one request, and not sent again.
            #expect(await emulator.state.mappingRequestCount == 1)
            let rest = try await workspace.once()
            #expect(rest.status == 0, "\(rest.output)")
            #expect(await emulator.state.mappingRequestCount == 3)
            #expect(await emulator.state.members(of: "123456").count == 30_000)
        }
    }
}
