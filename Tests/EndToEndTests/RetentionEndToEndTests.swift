import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// Retention and free space, with the built executable: its clock moved ahead by libfaketime (file
/// times left as they are), and a state directory on a small tmpfs.
@Suite("Retention and free space, with the built executable", .serialized)
struct RetentionEndToEndTests {
    static let faketime = "/usr/bin/faketime"

    /// `once` with the process's clock `days` ahead; the files' times stay real.
    func once(_ workspace: Workspace, daysAhead days: Int) async throws -> CommandResult {
        try await ToolProcess(
            Self.faketime, ["-f", "+\(days)d", Binary.path, "once", "--config", workspace.configPath],
            environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "NO_FAKE_STAT": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"]
        ).wait()
    }

    @Test(
        "old archive/, rejected/ and receipts/ files go after their days, the ledger's file records after a year; a re-upload then counts as new",
        .enabled(if: FileManager.default.isExecutableFile(atPath: faketime)))
    func retentionWithAFakeClock() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let member = sha256Hex("kept@example.com")
            let add = "email_hash,segment_id,action\n\(member),123456,add\n"
            try workspace.drop("add.csv", add)
            try workspace.drop("junk.csv", bytes: [0x00, 0xFF, 0x10, 0x0A])
            #expect(try await workspace.once().status == 65, "a file was rejected")
            try workspace.drop("remove.csv", "email_hash,segment_id,action\n\(member),123456,remove\n")
            #expect(try await workspace.once().status == 0)
            #expect(await emulator.state.members(of: "123456").isEmpty)
            #expect(workspace.files(under: "state/archive").count == 2)
            #expect(workspace.files(under: "state/rejected").count == 2, "the file and its reason")
            #expect(workspace.receiptFiles().count == 3)

            // 40 days on: archive/ and rejected/ (35 days) are emptied; receipts (90) stay.
            let month = try await once(workspace, daysAhead: 40)
            #expect(month.status == 0, "\(month.output)")
            #expect(month.stderr.contains("retention: removed archive/ 2 file(s), rejected/ 2 file(s)"), "\(month.stderr)")
            #expect(workspace.files(under: "state/archive").isEmpty)
            #expect(workspace.files(under: "state/rejected").isEmpty)
            #expect(workspace.receiptFiles().count == 3)
            // The ledger still knows add.csv: the same bytes again are a duplicate.
            try workspace.drop("add.csv", add)
            #expect(try await once(workspace, daysAhead: 40).status == 0)
            #expect(await emulator.state.members(of: "123456").isEmpty, "a duplicate changes nothing")
            #expect(workspace.receiptFiles().contains { $0.contains(".duplicate-") })

            // 401 days on: the ledger forgot add.csv (not the last file applied): re-sent, it applies.
            try workspace.drop("add.csv", add)
            let year = try await once(workspace, daysAhead: 401)
            #expect(year.status == 0, "\(year.output)")
            #expect(year.stderr.contains("the ledger forgot 2 file record(s)"), "\(year.stderr)")
            #expect(await emulator.state.members(of: "123456").count == 1, "the forgotten file's bytes counted as a new file")
            #expect(workspace.receiptFiles().count == 1, "receipts older than 90 days went; the new one is there")
        }
    }

    @Test("0 keeps for ever", .enabled(if: FileManager.default.isExecutableFile(atPath: faketime)))
    func keepForever() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let retention = "retention:\n  archive_days: 0\n  rejected_days: 0\n  held_days: 0\n  receipts_days: 0\n  file_history_days: 0"
            let workspace = try Workspace(emulator: emulator, extraYAML: retention)
            try workspace.drop("add.csv", "email_hash,segment_id,action\n\(sha256Hex("ever@example.com")),123456,add\n")
            #expect(try await workspace.once().status == 0)
            let decade = try await once(workspace, daysAhead: 3_650)
            #expect(decade.status == 0)
            #expect(!decade.stderr.contains("retention:"), "\(decade.stderr)")
            #expect(workspace.files(under: "state/archive").count == 1)
            #expect(workspace.receiptFiles().count == 1)
        }
    }

    @Test(
        "a file waits, named in status with why, until the state directory has about three times its size free",
        .enabled(if: SmallDisk.canMount, "needs root and mount (a tmpfs for the state directory)"))
    func waitsForFreeSpace() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let disk = try await SmallDisk(at: workspace.state, megabytes: 4)
            defer { disk.unmount() }
            // About 1.6 MB: taking it needs some 4.8 MB free.
            var rows = "email_hash,segment_id\n"
            for index in 0..<20_000 { rows += sha256Hex("space\(index)@example.com") + ",123456\n" }
            try workspace.drop("big.csv", rows)

            let waiting = try await workspace.once()
            #expect(waiting.status == 75, "\(waiting.output)")
            #expect(waiting.output.contains("waits for free space"), "\(waiting.output)")
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(status.status == 78, "an operator must free space: \(status.output)")
            #expect(status.stdout.contains("big.csv: waits for free space"), "\(status.stdout)")
            #expect(workspace.files(under: "inbox") == ["big.csv"])

            try await disk.resize(megabytes: 64)
            let taken = try await workspace.once()
            #expect(taken.status == 0, "\(taken.output)")
            #expect(await emulator.state.members(of: "123456").count == 20_000)
        }
    }
}
