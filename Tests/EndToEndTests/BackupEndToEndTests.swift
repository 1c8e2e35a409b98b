import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// `backup` with the built executable, against a daemon that is sending.
@Suite("Backup and restore of the ledger, with the built executable", .serialized)
struct BackupEndToEndTests {
    static let members = 80_000

    @Test("a backup taken during a send, restored after a loss, ends in the exact membership; only what it had not seen confirmed is sent again")
    func backupDuringASendThenRestore() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(500)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            // Eight requests of 10,000 members, one at a time: some 4 s of sending.
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: 1\n" + Workspace.quickRecheckYAML)
            var rows = "email_hash,segment_id\n"
            for index in 0..<Self.members { rows += sha256Hex("restore-\(index)@example.com") + ",123456\n" }
            let daemon = try RunningCommand(["run", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            try workspace.drop("all.csv", rows)
            // Once the daemon has recorded TikTok's first confirmation, and while it sends the rest.
            #expect(await eventually {
                let counts = try? await Self.ledgerCounts(workspace)
                return (counts?.confirmed ?? 0) > 0
            })
            let backupPath = workspace.root + "/ledger-backup.sqlite"
            let backup = try await runCommand(["backup", "--config", workspace.configPath, "--to", backupPath])
            #expect(backup.status == 0, "\(backup.output)")
            #expect(backup.stdout.contains("backed up") && backup.stdout.contains("schema step"), "\(backup.stdout)")
            #expect(await emulator.state.members(of: "123456").count < Self.members, "the backup was taken during the send, not after it")
            #expect(await emulator.state.waitUntil(timeout: .seconds(30)) { state in state.members(of: "123456").count == Self.members })
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)

            // The disk is lost; the backup is put back, as the guide says.
            for suffix in ["", "-wal", "-shm"] { unlink(workspace.state + "/ledger.sqlite" + suffix) }
            try FileManager.default.copyItem(atPath: backupPath, toPath: workspace.state + "/ledger.sqlite")
            // The partner sends the file again, in doubt.
            try workspace.drop("again.csv", rows)
            let inCopy = try await Self.ledgerCounts(workspace)
            #expect(inCopy.confirmed > 0 && inCopy.confirmed < Self.members, "\(inCopy)")
            let received = await emulator.state.identifiersReceived
            let restored = try await workspace.onceUntilRechecked()
            #expect(restored.status == 0, "\(restored.output)")
            let againReceipt = try #require(workspace.receiptFiles().first { $0.hasPrefix("again.csv") })
            let receiptText = try String(contentsOfFile: workspace.state + "/receipts/" + againReceipt, encoding: .utf8)
            #expect(receiptText.contains("\"outcome\" : \"duplicate\""), "the file the backup knows is not applied twice: \(receiptText)")
            let resent = await emulator.state.identifiersReceived - received
            // What the copy had pending, and what it had in flight (unknown: sent at once, and
            // again at its recheck in case the old request lands late); never what it saw confirmed.
            #expect(resent >= inCopy.pending && resent <= inCopy.pending + 2 * inCopy.unknown, "resent \(resent) of \(inCopy)")
            #expect(await emulator.state.members(of: "123456").count == Self.members)
        }
    }

    @Test("backup refuses with no ledger yet (78) and a destination in the state directory, however spelt (65)")
    func refusals() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let none = try await runCommand(["backup", "--config", workspace.configPath, "--to", workspace.root + "/b.sqlite"])
            #expect(none.status == 78 && none.stderr.contains("nothing to back up"), "\(none.output)")
            try workspace.drop("a.csv", "email_hash,segment_id\n\(sha256Hex("backup@example.com")),123456\n")
            #expect(try await workspace.once().status == 0)
            // Over the live ledger, however it is spelt, or anywhere in the state directory: refused.
            for spelling in [workspace.state + "/ledger.sqlite", workspace.state + "/./ledger.sqlite", workspace.state + "//archive/copy.sqlite"] {
                let refused = try await runCommand(["backup", "--config", workspace.configPath, "--to", spelling])
                #expect(refused.status == 65 && refused.stderr.contains("outside the state directory"), "\(spelling): \(refused.output)")
            }
            #expect(await emulator.state.members(of: "123456").count == 1)
        }
    }

    /// What the ledger says through `status --json`: confirmed, pending and unknown members.
    static func ledgerCounts(_ workspace: Workspace) async throws -> (confirmed: Int, pending: Int, unknown: Int) {
        let status = try await runCommand(["status", "--json", "--count", "--config", workspace.configPath])
        let json = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        let confirmed = (json?["confirmed"] as? [String: Int])?["123456"] ?? 0
        let pending = (json?["pending"] as? [String: Any])?["adds"] as? Int ?? 0
        let unknown = (json?["unanswered"] as? [String: Any])?["members"] as? Int ?? 0
        return (confirmed, pending, unknown)
    }
}
