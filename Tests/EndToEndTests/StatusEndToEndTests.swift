import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// `status` as the operator's one look: is it healthy, and if not why.
@Suite("status: health at a glance, with the built executable", .serialized)
struct StatusEndToEndTests {
    @Test("a stuck inbox is named file by file with why; an operator's file is action_needed (78), one settling only pending (75)")
    func stuckInbox() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "600")
            try FileManager.default.createDirectory(atPath: workspace.state, withIntermediateDirectories: true)
            let member = sha256Hex("stuck@example.com")
            try workspace.drop("acme/fresh.csv", "email_hash,segment_id\n\(member),123456\n")
            let settling = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(settling.status == 75, "a file still being written goes on by itself: \(settling.output)")
            let first = try JSONSerialization.jsonObject(with: Data(settling.stdout.utf8)) as? [String: Any]
            #expect(first?["health"] as? String == "pending")
            #expect((first?["daemon"] as? [String: Any])?["running"] as? Bool == false)
            let waiting = (first?["inbox"] as? [String: Any])?["waiting"] as? [[String: Any]]
            #expect(waiting?.first?["reason"] as? String == "still being written")
            #expect((waiting?.first?["since"] as? String)?.hasSuffix("Z") == true)

            try workspace.drop("acme/cut.csv", "email_hash,segment_id\n\(member),123456", age: 900)
            let stuck = try await runCommand(["status", "--config", workspace.configPath])
            #expect(stuck.status == 78, "\(stuck.output)")
            #expect(stuck.stdout.contains("health: ACTION NEEDED"))
            #expect(stuck.stdout.contains("acme/cut.csv:") && stuck.stdout.contains("has no newline"), "\(stuck.stdout)")
            // As the intake takes them: the later upload waits behind the one still being written.
            #expect(stuck.stdout.contains("waits behind acme/fresh.csv"), "\(stuck.stdout)")
            #expect(stuck.stdout.contains("daemon: not running"))
            #expect(!stuck.output.contains(member), "no identifier in the output")

            // A look changes nothing: a name that is not UTF-8 is left for the daemon to rename.
            let raw = Array((workspace.inbox + "/acme/bad-").utf8) + [0xFF, 0x2E, 0x63, 0x73, 0x76, 0]
            let descriptor = raw.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
            #expect(descriptor >= 0)
            close(descriptor)
            let before = try FileManager.default.contentsOfDirectory(atPath: workspace.inbox + "/acme").count
            _ = try await runCommand(["status", "--config", workspace.configPath])
            #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.inbox + "/acme").count == before)
            #expect(workspace.files(under: "inbox").allSatisfy { !$0.contains("_xFF") }, "status renamed nothing")
        }
    }

    @Test("with the daemon running, status names its pid, its last scan and its status line; without a token")
    func runningDaemon() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let daemon = try RunningCommand(["run", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            try workspace.drop("a.csv", "email_hash,segment_id\n\(sha256Hex("run@example.com")),123456\n")
            #expect(await emulator.state.waitUntil { state in state.members(of: "123456").count == 1 })
            var text = ""
            #expect(await eventually {
                let status = try? await runCommand(["status", "--config", workspace.configPath])
                text = status?.stdout ?? ""
                return status?.status == 0 && text.contains("daemon: running (pid \(daemon.pid)), last scan")
            }, "\(text)")
            #expect(text.contains("health: ok"))
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
            let after = try await runCommand(["status", "--config", workspace.configPath])
            #expect(after.stdout.contains("daemon: not running (last scan"))
        }
    }
}
