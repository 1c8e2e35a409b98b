import AsyncHTTPClient
import Foundation
import Testing
import TikTokEmulator
import TestFixtures
import AudienceTikTok

@Suite("Operator commands: check and auth, with the built executable", .serialized)
struct OperatorCommandsTests {
    @Test("check passes on a good setup and names a missing segment with exit 78")
    func check() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let good = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\", \"654321\"]")
            try FileManager.default.createDirectory(atPath: good.state, withIntermediateDirectories: true)
            let passed = try await runCommand(["check", "--config", good.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            #expect(passed.status == 0, "\(passed.output)")
            #expect(passed.stdout.contains("segment 654321"))
            let missing = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\", \"999000\"]")
            try FileManager.default.createDirectory(atPath: missing.state, withIntermediateDirectories: true)
            let failed = try await runCommand(["check", "--config", missing.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            #expect(failed.status == 78)
            #expect(failed.stdout.contains("FAIL  segment 999000"))
            #expect(failed.stderr.contains("segment 999000"))
            let refused = try await runCommand(["check", "--config", good.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "not-the-token"])
            #expect(refused.status == 78)
            #expect(refused.stdout.contains("FAIL  access token"))
            #expect(!refused.output.contains("not-the-token"))
        }
    }

    @Test("check reads TikTok's audience_type: a Customer File audience fails, an expired one fails, one expiring soon warns")
    func checkAudienceStates() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let token = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            await emulator.state.addAudience("333", type: EmulatorState.customerFileType)
            let customerFile = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\", \"333\"]")
            try FileManager.default.createDirectory(atPath: customerFile.state, withIntermediateDirectories: true)
            let refused = try await runCommand(["check", "--config", customerFile.configPath], environment: token)
            #expect(refused.status == 78)
            #expect(refused.stdout.contains("FAIL  segment 333"), "\(refused.stdout)")
            #expect(refused.stdout.contains("Customer File Audience"))
            #expect(refused.stdout.contains("segments create"))
            #expect(refused.stdout.contains("ok    segment 123456"))

            let now = Int(Date().timeIntervalSince1970)
            await emulator.state.setAudienceState("123456", expiresAt: now + 20 * 86_400)
            let both = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\", \"654321\"]")
            try FileManager.default.createDirectory(atPath: both.state, withIntermediateDirectories: true)
            let warned = try await runCommand(["check", "--config", both.configPath], environment: token)
            #expect(warned.status == 0, "a warning is not a failure: \(warned.output)")
            #expect(warned.stdout.contains("warn  segment 123456"))
            #expect(warned.stdout.contains("expires"))

            await emulator.state.setAudienceState("654321", expiresAt: now - 3_600)
            let expired = try await runCommand(["check", "--config", both.configPath], environment: token)
            #expect(expired.status == 78)
            #expect(expired.stdout.contains("FAIL  segment 654321"))
            #expect(expired.stdout.contains("expired"))
        }
    }

    @Test("segments create makes a Partner audience TikTok's UI cannot; segments list shows it, its type and the partners using it")
    func segmentsCommands() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let token = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            await emulator.state.addAudience("333", type: EmulatorState.customerFileType)
            let workspace = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\"]")
            let long = "Spring buyers " + String(repeating: "x", count: 70)
            let created = try await runCommand(["segments", "create", "--config", workspace.configPath, long], environment: token)
            #expect(created.status == 0, "\(created.output)")
            let id = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(!id.isEmpty && id.allSatisfy(\.isNumber), "the id alone on stdout: \(created.stdout)")
            #expect(created.stderr.contains("70 characters"))
            #expect(await emulator.state.audienceIDs().contains(id))

            let listed = try await runCommand(["segments", "list", "--config", workspace.configPath, "--json"], environment: token)
            #expect(listed.status == 0, "\(listed.output)")
            let audiences = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
            let byID = Dictionary(uniqueKeysWithValues: audiences.compactMap { item in (item["audience_id"] as? String).map { ($0, item) } })
            #expect(byID[id]?["audience_type"] as? String == "Partner")
            #expect((byID[id]?["name"] as? String)?.count == 70)
            #expect(byID[id]?["syncable"] as? Bool == true)
            #expect(byID["333"]?["syncable"] as? Bool == false)
            #expect(byID["123456"]?["partners"] as? [String] == ["acme"])
            #expect((byID["123456"]?["created_at"] as? String)?.hasSuffix("Z") == true, "ISO 8601 times")

            let text = try await runCommand(["segments", "list", "--config", workspace.configPath], environment: token)
            #expect(text.stdout.contains("Customer File Audience"))
            #expect(text.stdout.contains("4 audience(s); 3 Partner audience(s)"))
            let noToken = try await runCommand(["segments", "list", "--config", workspace.configPath])
            #expect(noToken.status == 78)
            #expect(noToken.stderr.contains("no access token"))
        }
    }

    @Test("check warns of a token file other users can read, with the command that fixes it")
    func exposedTokenFile() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  access_token_file: TOKENFILE")
            let tokenPath = workspace.root + "/token"
            try "emulator-token\n".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            chmod(tokenPath, 0o644)
            var yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "TOKENFILE", with: tokenPath)
            try yaml.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: workspace.state, withIntermediateDirectories: true)
            let exposed = try await runCommand(["check", "--config", workspace.configPath])
            #expect(exposed.status == 0, "\(exposed.output)")
            #expect(exposed.stdout.contains("warn  access token"))
            #expect(exposed.stdout.contains("chmod 600 \(tokenPath)"))
            #expect(!exposed.output.contains("emulator-token"))
            chmod(tokenPath, 0o600)
            let fixed = try await runCommand(["check", "--config", workspace.configPath])
            #expect(fixed.stdout.contains("ok    access token"))
        }
    }

    @Test("auth exchanges a code, writes a 0600 token file without printing it, and the next once uses it")
    func auth() async throws {
        var configuration = EmulatorConfiguration()
        configuration.authCodes = ["code-123": "granted-token-9f8e7d"]
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  access_token_file: TOKENFILE")
            let tokenPath = workspace.root + "/token"
            var yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "TOKENFILE", with: tokenPath)
            try yaml.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            let url = try await runCommand(["auth", "--config", workspace.configPath, "--app-id", "emulator-app"])
            #expect(url.status == 0)
            #expect(url.stdout.contains("https://business-api.tiktok.com/portal/auth?app_id=emulator-app"))
            let exchanged = try await runCommand(
                ["auth", "--config", workspace.configPath, "--app-id", "emulator-app", "--auth-code", "code-123"],
                environment: ["TIKTOK_APP_SECRET": "emulator-secret"])
            #expect(exchanged.status == 0, "\(exchanged.output)")
            #expect(exchanged.stdout.contains("7000000000000000001"))
            #expect(!exchanged.output.contains("granted-token-9f8e7d"))
            #expect(!exchanged.output.contains("emulator-secret"))
            let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            await emulator.state.setAccessToken("granted-token-9f8e7d")
            try workspace.drop("x.csv", "email_hash,segment_id\n\(sha256Hex("auth@example.com")),123456\n")
            let synced = try await workspace.once(token: nil)
            #expect(synced.status == 0, "\(synced.output)")
            #expect(await emulator.state.members(of: "123456").count == 1)
            let reused = try await runCommand(
                ["auth", "--config", workspace.configPath, "--app-id", "emulator-app", "--auth-code", "code-123"],
                environment: ["TIKTOK_APP_SECRET": "emulator-secret"])
            #expect(reused.status == 65, "an auth code works once: a new one is needed, not a retry")
            #expect(reused.stderr.contains("valid for one hour and only once"))
        }
    }

    @Test("auth --listen receives TikTok's redirect on 127.0.0.1, ignores a stray request, and saves the token")
    func authListen() async throws {
        var configuration = EmulatorConfiguration()
        configuration.authCodes = ["code-456": "listened-token-1a2b3c"]
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let tokenPath = workspace.root + "/token"
            let port = try freeLoopbackPort()
            let auth = try RunningCommand(
                ["auth", "--config", workspace.configPath, "--app-id", "emulator-app", "--listen", "\(port)", "--token-file", tokenPath],
                environment: ["TIKTOK_APP_SECRET": "emulator-secret"])
            #expect(await eventually(timeout: .seconds(10)) { auth.outputSoFar.contains("Waiting for TikTok's redirect") })
            let url = auth.outputSoFar.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix("https://") }.map(String.init) ?? ""
            let state = URLComponents(string: url)?.queryItems?.first { $0.name == "state" }?.value ?? ""
            #expect(!state.isEmpty, "the URL carries a state: \(url)")
            #expect(url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A\(port)%2F") || url.contains("127.0.0.1:\(port)"), "\(url)")

            let stray = try await get("http://127.0.0.1:\(port)/?auth_code=code-456&state=forged")
            #expect(stray == 400, "a redirect with another state is refused")
            #expect(!FileManager.default.fileExists(atPath: tokenPath))
            let redirect = try await get("http://127.0.0.1:\(port)/?auth_code=code-456&state=\(state)")
            #expect(redirect == 200)
            let result = await auth.wait(timeout: .seconds(30))
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stdout.contains("7000000000000000001"))
            #expect(!result.output.contains("listened-token-1a2b3c") && !result.output.contains("emulator-secret"))
            let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(try String(contentsOfFile: tokenPath, encoding: .utf8).contains("listened-token-1a2b3c"))
        }
    }

    func get(_ url: String) async throws -> UInt {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        return response.status.code
    }
}
