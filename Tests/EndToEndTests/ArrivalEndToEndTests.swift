import Foundation
import Testing
import TestFixtures
import TikTokEmulator
@testable import AudienceLedger

@Suite("arrivals: clocks ahead, a lost ledger", .serialized)
struct ArrivalEndToEndTests {
    @Test("a file whose modification time is a day ahead is applied now, with a warning, and does not hold up others")
    func futureModificationTime() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "2")
            let ahead = sha256Hex("clock-ahead")
            let plain = sha256Hex("clock-right")
            try workspace.drop("acme/ahead.csv", "email_hash,segment_id,action\n\(ahead),123456,add\n", modified: Date().addingTimeInterval(86_400))
            try workspace.drop("acme/plain.csv", "email_hash,segment_id,action\n\(plain),123456,add\n", age: 30)
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await RunningCommand(
                ["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            ).wait(timeout: .seconds(30))
            #expect(result.status == 0, "\(result.output)")
            #expect(clock.now - started < .seconds(30), "once does not wait for the partner's clock")
            #expect(result.stderr.contains("in the future"))
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == [ahead, plain])
        }
    }

    @Test("a ledger lost while archive/ shows applied files is refused (78) until restored or started anew on purpose")
    func lostLedgerIsLoud() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("first.csv", "email_hash,segment_id\n\(sha256Hex("lost-1")),123456\n", age: 20)
            #expect(try await workspace.once().status == 0)
            let ledger = workspace.state + "/ledger.sqlite"
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ledger + suffix) }
            try Data().write(to: URL(fileURLWithPath: ledger))
            try workspace.drop("second.csv", "email_hash,segment_id\n\(sha256Hex("lost-2")),123456\n", age: 10)
            let refused = try await workspace.once()
            #expect(refused.status == 78, "\(refused.output)")
            #expect(refused.stderr.contains("is empty") && refused.stderr.contains("Restore the ledger"))
            #expect(workspace.files(under: "inbox") == ["second.csv"], "nothing is applied to a ledger that forgot")
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(status.status == 78, "status does not create a fresh ledger either")
            let anew = try await runCommand(
                ["once", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "TIKTOK_AUDIENCE_SYNC_START_ANEW": "1"])
            #expect(anew.status == 0, "\(anew.output)")
            #expect(try await workspace.once().status == 0, "started anew, later runs go on")
        }
    }

    @Test("a ledger older than the last file it applied (an older copy put back, a lost -wal) is refused until accepted on purpose")
    func olderLedgerIsLoud() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let ledger = workspace.state + "/ledger.sqlite"
            try workspace.drop("first.csv", "email_hash,segment_id,action\n\(sha256Hex("older-1")),123456,add\n", age: 20)
            #expect(try await workspace.once().status == 0)
            let files = FileManager.default
            for suffix in ["", "-wal"] where files.fileExists(atPath: ledger + suffix) {
                try files.copyItem(atPath: ledger + suffix, toPath: workspace.root + "/copy" + suffix)
            }
            try workspace.drop("second.csv", "email_hash,segment_id,action\n\(sha256Hex("older-2")),123456,add\n", age: 10)
            let second = try await workspace.once()
            #expect(second.status == 0, "\(second.output)")
            for suffix in ["", "-wal", "-shm"] { try? files.removeItem(atPath: ledger + suffix) }
            for suffix in ["", "-wal"] where files.fileExists(atPath: workspace.root + "/copy" + suffix) {
                try files.copyItem(atPath: workspace.root + "/copy" + suffix, toPath: ledger + suffix)
            }
            let refused = try await workspace.once()
            #expect(refused.status == 78, "\(refused.output)")
            #expect(refused.stderr.contains("older than the last file it applied"))
            #expect(try await runCommand(["status", "--config", workspace.configPath]).status == 78)
            let accepted = try await runCommand(
                ["once", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "TIKTOK_AUDIENCE_SYNC_START_ANEW": "1"])
            #expect(accepted.status == 0, "\(accepted.output)")
            #expect(try await workspace.once().status == 0, "accepted once, later runs go on")
        }
    }

    @Test("a new upload that gets the inode of a file removed from the inbox arrives now, not when that file did")
    func reusedInodeArrivesNow() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "max_snapshot_removal_percent: 100")
            let people = (0..<3).map { sha256Hex("reused-\($0)") }
            try workspace.drop("a.csv", "email_hash,segment_id,action\n\(people[0]),123456,add\n", age: 30)
            #expect(try await workspace.once().status == 0)
            // Two snapshots of one segment, uploaded one after the other.
            let older = workspace.inbox + "/older.csv"
            try "email_hash,segment_id\n\(people[1]),123456\n".write(toFile: older, atomically: false, encoding: .utf8)
            usleep(20_000)
            let newer = workspace.inbox + "/newer.csv"
            try "email_hash,segment_id\n\(people[2]),123456\n".write(toFile: newer, atomically: false, encoding: .utf8)
            // The newer one got the inode of a file that left the inbox an hour ago without a look
            // at the inbox since (a duplicate removed as the last run ended; a partner's `rm`): its
            // arrival is still remembered. (File systems reuse a freed inode at once; here the
            // record is put in place, as that would leave it.)
            let attributes = try FileManager.default.attributesOfItem(atPath: newer)
            let inode = try #require(attributes[.systemFileNumber] as? UInt64)
            var info = stat()
            #expect(stat(newer, &info) == 0)
            do {
                let ledger = try SQLiteConnection(path: workspace.state + "/ledger.sqlite")
                try ledger.execute(
                    "INSERT INTO inbox_arrival (device, inode, arrived) VALUES (\(Int64(bitPattern: UInt64(info.st_dev))), \(Int64(bitPattern: inode)), \(Date().timeIntervalSince1970 - 3_600))")
            }
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            // Applied in arrival order, the newer snapshot is what the segment holds.
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == [people[2]])
        }
    }
}
