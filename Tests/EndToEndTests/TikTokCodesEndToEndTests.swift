import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// TikTok's codes about the app, the token or the advertiser, the audit trail and `auth`, with the
/// built executable against the emulator.
@Suite("TikTok's codes, end to end")
struct TikTokCodesEndToEndTests {
    @Test("40101 INVALID_PARTNER pauses sending for all, parks nothing, and the next once sends everything without retry")
    func invalidPartnerResumes() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let people = (0..<4).map { sha256Hex("partner\($0)@example.com") }
            try workspace.drop("x.csv", "email_hash,segment_id\n" + people.map { "\($0),123456\n" }.joined())
            await emulator.state.enqueue([.code(40101, message: "Illegal access partner")])
            let first = try await workspace.once()
            #expect(first.status == 75, "\(first.output)")
            #expect(first.stderr.contains("40101 INVALID_PARTNER") && first.stderr.contains("authorise again"), "\(first.stderr)")
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(!status.stdout.contains("parked"), "\(status.stdout)")
            // TikTok takes the app again: the next run sends, no retry needed.
            let second = try await workspace.once()
            #expect(second.status == 0, "\(second.output)")
            #expect(await emulator.state.members(of: "123456").map(\.id).sorted() == people.sorted())
        }
    }

    @Test("the audit line names the partner whose file caused the change, not every partner of the segment")
    func auditNamesThePartner() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: """
                partners:
                  acme:
                    segments: ["123456"]
                  globex:
                    segments: ["123456"]
                """)
            try workspace.drop("globex/g.csv", "email_hash,segment_id\n\(sha256Hex("g1@example.com")),123456\n\(sha256Hex("g2@example.com")),123456\n")
            try workspace.drop("acme/a.csv", "email_hash,segment_id,action\n\(sha256Hex("a1@example.com")),123456,add\n")
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            let audit = result.stderr.split(separator: "\n").filter { $0.contains("TikTok confirmed +") }
            #expect(audit.contains { $0.contains("TikTok confirmed +2 -0 for segment 123456") && $0.contains("partner=globex") }, "\(audit)")
            #expect(audit.contains { $0.contains("TikTok confirmed +1 -0 for segment 123456") && $0.contains("partner=acme") }, "\(audit)")
            #expect(!audit.contains { $0.contains("acme,globex") }, "\(audit)")
        }
    }

    @Test("auth: a wrong app secret is 40101 and exit 78 saying so, and the code still works with the right one")
    func authWrongSecret() async throws {
        var configuration = EmulatorConfiguration()
        configuration.authCodes = ["code-7": "granted-token-77"]
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  access_token_file: \(NSTemporaryDirectory())tas-auth-\(UUID().uuidString)")
            let arguments = ["auth", "--config", workspace.configPath, "--app-id", "emulator-app", "--auth-code", "code-7"]
            let wrong = try await runCommand(arguments, environment: ["TIKTOK_APP_SECRET": "not-the-secret"])
            #expect(wrong.status == 78, "\(wrong.output)")
            #expect(wrong.stderr.contains("did not take the app id or secret") && wrong.stderr.contains("40101 INVALID_PARTNER"), "\(wrong.stderr)")
            #expect(!wrong.stderr.contains("valid for one hour and only once"), "not the expired-code advice")
            #expect(!wrong.output.contains("not-the-secret"))
            let right = try await runCommand(arguments, environment: ["TIKTOK_APP_SECRET": "emulator-secret"])
            #expect(right.status == 0, "\(right.output)")
            let used = try await runCommand(arguments, environment: ["TIKTOK_APP_SECRET": "emulator-secret"])
            #expect(used.status == 65)
            #expect(used.stderr.contains("40110 AUTH_CODE_ERROR") && used.stderr.contains("valid for one hour and only once"), "\(used.stderr)")
        }
    }

    @Test("a partner audience created with segments create takes members once TikTok lets it; nothing is parked")
    func newAudience() async throws {
        var configuration = EmulatorConfiguration()
        configuration.newAudienceRefusal = .seconds(3_600)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let token = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            let created = try await runCommand(["segments", "create", "--config", workspace.configPath, "Fresh"], environment: token)
            #expect(created.status == 0, "\(created.output)")
            #expect(created.stderr.contains("may take a minute or two"))
            let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let people = (0..<3).map { sha256Hex("fresh\($0)@example.com") }
            try workspace.drop("x.csv", "email_hash,segment_id\n" + people.map { "\($0),\(id)\n" }.joined())
            let once = try RunningCommand(["once", "--config", workspace.configPath], environment: token)
            // TikTok refuses the new audience a few times, then takes it.
            #expect(await emulator.state.waitUntil(timeout: .seconds(60)) { $0.refusedMappingRequestCount >= 2 })
            await emulator.state.makeAudienceReady(id)
            let result = await once.wait()
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stderr.contains("a new audience may take a minute or two"), "\(result.stderr)")
            #expect(await emulator.state.members(of: id).map(\.id).sorted() == people.sorted())
        }
    }
}
