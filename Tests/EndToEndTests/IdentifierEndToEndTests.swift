import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// Identifiers as TikTok expects them, end to end: what `once` sends, what `hash` and `validate` say.
@Suite("Identifiers as TikTok expects them, with the built executable")
struct IdentifierEndToEndTests {
    let token = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]

    @Test("MD5 and SHA-256 MAIDs reach TikTok with their own id_schema; an untyped maid takes the partner's type or is rejected")
    func maidsReachTikTok() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: """
                identifiers:
                  phone_format: digits
                partners:
                  acme:
                    segments: ["123456"]
                    maid_type: aaid
                  globex:
                    segments: ["654321"]
                """)
            let sha = sha256Hex("device one")
            let md5 = "0123456789abcdef0123456789ABCDEF"
            try workspace.drop("acme/devices.csv", """
                idfa,aaid,maid,phone,segment_id
                \(sha),,,,123456
                ,\(md5),,,123456
                ,,5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,,123456
                ,,,+1 415 555 0123,123456

                """)
            try workspace.drop("globex/devices.csv", "maid,segment_id\n5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,654321\n")
            let result = try await workspace.once()
            #expect(result.status == 65, "globex's untyped maid is rejected: \(result.output)")
            #expect(result.stderr.contains("TikTok confirmed +4 -0 for segment 123456 adds=4 partner=acme"), "the audit line names the partner")
            let held = await emulator.state.members(of: "123456")
            #expect(held == [
                EmulatorMember(idType: "IDFA_SHA256", id: sha),
                EmulatorMember(idType: "AAID_MD5", id: md5.lowercased()),
                EmulatorMember(idType: "AAID_SHA256", id: "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"),
                EmulatorMember(idType: "PHONE_SHA256", id: sha256Hex("14155550123")),
            ])
            #expect(await emulator.state.members(of: "654321").isEmpty)
            let receipts = workspace.receiptFiles().filter { $0.contains("globex") }
            let receipt = try String(contentsOfFile: workspace.root + "/state/receipts/" + (receipts.first ?? ""), encoding: .utf8)
            #expect(receipt.contains("maid_without_type"), "\(receipt)")
            #expect(!receipt.contains("5f3a2b18-9c4d"), "the receipt never holds the identifier")
        }
    }

    @Test("hash prints what TikTok receives, TikTok's published vectors included, and never repeats a refused value")
    func hashCommand() async throws {
        let hashed = try await runCommand([
            "hash", "--email", "testing@testing.com", "--email", " Jane.Doe+news@Example.com", "--phone", "+1 (415) 555-0123",
            "--maid", "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25", "--maid-type", "idfa",
        ])
        #expect(hashed.status == 0, "\(hashed.output)")
        #expect(hashed.stdout.split(separator: "\n").map(String.init) == [
            "EMAIL_SHA256  584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777",
            "EMAIL_SHA256  \(sha256Hex("jane.doe@example.com"))",
            "PHONE_SHA256  \(sha256Hex("14155550123"))",
            "IDFA_SHA256  83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd",
        ])
        #expect(hashed.stderr.contains("+tag removed") && hashed.stderr.contains("no +"))
        let e164 = try await runCommand(["hash", "--phone", "+1 (415) 555-0123", "--phone-format", "e164"])
        #expect(e164.stdout.contains(sha256Hex("+14155550123")))
        let untyped = try await runCommand(["hash", "--maid", "5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25", "--email", "secret-person@nowhere"])
        #expect(untyped.status == 65)
        #expect(untyped.stdout.contains("maid_type"))
        #expect(!untyped.output.contains("5f3a2b18") && !untyped.output.contains("secret-person"))
    }

    @Test("validate prints the rules in effect: TikTok's by default, the configuration's and the partner's with --config")
    func validateShowsRules() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: """
                identifiers:
                  phone_format: e164
                partners:
                  acme:
                    segments: ["123456"]
                    maid_type: idfa
                """)
            let path = try workspace.drop("acme/m.csv", "maid,phone,segment_id\n5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,+14155550123,123456\n")
            let plain = try await runCommand(["validate", path])
            #expect(plain.status == 65, "no MAID type by default: \(plain.output)")
            #expect(plain.stdout.contains("rules: email: trimmed, lowercased, +tag removed; phone: digits only"))
            #expect(plain.stdout.contains("maid_without_type"))
            let configured = try await runCommand(["validate", "--config", workspace.configPath, path])
            #expect(configured.status == 0, "\(configured.output)")
            #expect(configured.stdout.contains("phone: E.164 with +; untyped maid is idfa"))
        }
    }

    @Test("a change of the hashing rules is said once by the daemon and by check, naming what changed and what to do")
    func hashingRulesChange() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "identifiers:\n  phone_format: e164")
            try workspace.drop("p1.csv", "phone,segment_id\n+14155550123,123456\n")
            #expect(try await workspace.once().status == 0)
            #expect(await emulator.state.members(of: "123456").map(\.id) == [sha256Hex("+14155550123")])
            var yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "phone_format: e164", with: "phone_format: digits")
            try yaml.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            let checked = try await runCommand(["check", "--config", workspace.configPath], environment: token)
            #expect(checked.status == 0, "a warning, not a failure: \(checked.output)")
            #expect(checked.stdout.contains("warn  identifier rules"))
            #expect(checked.stdout.contains("phone_format e164 → digits"))
            try workspace.drop("p2.csv", "phone,segment_id\n+14155550199,123456\n")
            let changed = try await workspace.once()
            #expect(changed.stderr.contains("phone_format e164 → digits"), "\(changed.output)")
            #expect(changed.stderr.contains("snapshot"))
            try workspace.drop("p3.csv", "phone,segment_id\n+14155550177,123456\n")
            let after = try await workspace.once()
            #expect(!after.stderr.contains("phone_format e164 → digits"), "said once, not at every start")
        }
    }
}
