import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// What someone new to the tool meets first: `once` on a terminal, `check` before anything ran,
/// a file with bad rows in `status`, a file uploaded twice.
@Suite("A first run, as a newcomer sees it")
struct FirstRunEndToEndTests {
    @Test("once on a terminal says each event once: the summary, with what TikTok confirmed per segment and partner",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func onceOnATerminal() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\"]")
            try workspace.drop("acme/x.csv", "email_hash,segment_id\n\(sha256Hex("t1@example.com")),123456\n\(sha256Hex("t2@example.com")),123456\nbad,123456\n")
            // `script` gives the command a terminal for both its output and its log.
            let command = "TIKTOK_ACCESS_TOKEN=emulator-token '\(Binary.path)' once --config '\(workspace.configPath)'"
            let result = try await ToolProcess("/usr/bin/script", ["-qec", command, "/dev/null"]).wait(timeout: .seconds(120))
            #expect(result.status == 65, "\(result.output)")
            let lines = result.stdout.replacingOccurrences(of: "\r", with: "").split(separator: "\n")
            #expect(lines.filter { $0.contains("acme/x.csv: applied") }.count == 1, "\(result.stdout)")
            #expect(lines.filter { $0.contains("sent 1 request(s)") }.count == 1, "\(result.stdout)")
            #expect(lines.contains { $0.contains("segment 123456: TikTok confirmed +2 -0 (acme)") }, "\(result.stdout)")
            #expect(await emulator.state.members(of: "123456").count == 2)
            // Not on a terminal (cron, systemd): the log keeps every event with its fields.
            try workspace.drop("acme/y.csv", "email_hash,segment_id,action\n\(sha256Hex("t3@example.com")),123456,add\n")
            let logged = try await workspace.once()
            #expect(logged.stderr.contains("acme/y.csv: applied") && logged.stderr.contains("partner=acme"), "\(logged.stderr)")
            #expect(logged.stdout.contains("acme/y.csv: applied"))
        }
    }

    @Test("check passes a state directory not made yet, which once and run create; fails one that cannot be made")
    func checkBeforeTheFirstRun() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            #expect(!FileManager.default.fileExists(atPath: workspace.state))
            let check = try await runCommand(["check", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            #expect(check.status == 0, "\(check.output)")
            #expect(check.stdout.contains("does not exist yet; once and run create it"), "\(check.stdout)")
            #expect(!FileManager.default.fileExists(atPath: workspace.state), "check creates nothing")
            #expect(try await workspace.once().status == 0)
            #expect(FileManager.default.fileExists(atPath: workspace.state + "/ledger.sqlite"))
            // A state directory below a file: nothing can make it.
            try "x".write(toFile: workspace.root + "/blocker", atomically: true, encoding: .utf8)
            var yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            yaml = yaml.replacingOccurrences(of: "state_directory: \(workspace.state)", with: "state_directory: \(workspace.root)/blocker/state")
            try yaml.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            let blocked = try await runCommand(["check", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            #expect(blocked.status == 78, "\(blocked.output)")
        }
    }

    @Test("status shows a recent file's rejected rows and a warning in health; exit 0, as nothing is left to do here")
    func rejectedRowsInStatus() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("x.csv", "email_hash,segment_id\n\(sha256Hex("r1@example.com")),123456\nbad,123456\nworse,123456\n")
            #expect(try await workspace.once().status == 65)
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(status.status == 0, "\(status.output)")
            #expect(status.stdout.contains("health: ok, with warnings"), "\(status.stdout)")
            #expect(status.stdout.contains("! x.csv: 2 of 3 rows rejected"), "\(status.stdout)")
            #expect(status.stdout.contains("x.csv: applied, confirmed, 3 rows, 2 rejected, +1 -0"), "\(status.stdout)")
            let json = try await runCommand(["status", "--config", workspace.configPath, "--json"])
            let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(document["health"] as? String == "warning")
            #expect((document["warnings"] as? [String])?.count == 1)
            #expect(json.stdout.contains("\"problems\" : []"), "an empty list prints as []: \(json.stdout)")
        }
    }

    @Test("a file uploaded again under its own name is a duplicate of its earlier upload, not of itself")
    func duplicateNamesTheEarlierUpload() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let text = "email_hash,segment_id,action\n\(sha256Hex("d1@example.com")),123456,add\n"
            try workspace.drop("again.csv", text)
            #expect(try await workspace.once().status == 0)
            try workspace.drop("again.csv", text)
            let second = try await workspace.once()
            #expect(second.status == 0)
            #expect(second.stdout.contains("same bytes as this file's earlier upload, applied"), "\(second.stdout)")
            #expect(!second.stdout.contains("same bytes as again.csv"), "\(second.stdout)")
        }
    }
}
