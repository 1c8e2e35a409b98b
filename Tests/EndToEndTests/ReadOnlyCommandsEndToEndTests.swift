import Foundation
import Testing
import TikTokEmulator
import TestFixtures
@testable import AudienceLedger
import AudienceSupport

/// Commands that only read (`status`, `plan`, `check`) open the ledger read-only and never
/// upgrade it: a monitoring user who may only read the state directory can run them, and a newer
/// binary's `status` beside an older daemon changes nothing under it.
@Suite("Operator commands that only read", .serialized)
struct ReadOnlyCommandsEndToEndTests {
    static let service: uid_t = 54_331
    static let monitor: uid_t = 54_332

    @Test(
        "a user in the service's group who may only read the state directory runs status, status --json and plan",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func monitoringUser() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            chmod(workspace.root, 0o755)
            chmod(workspace.configPath, 0o644)
            let member = sha256Hex("monitored@example.com")
            try workspace.drop("add.csv", "email_hash,segment_id\n\(member),123456\n")
            // As the package sets it up: the service's user owns the state directory, 0750, and the
            // files it makes are group-readable only (UMask=0027).
            try FileManager.default.createDirectory(atPath: workspace.state, withIntermediateDirectories: true)
            chown(workspace.state, Self.service, Self.service)
            chown(workspace.inbox, Self.service, Self.service)
            chmod(workspace.state, 0o750)
            let once = try await ToolProcess(
                "/bin/sh", ["-c", "umask 027 && exec /usr/bin/setpriv --reuid=\(Self.service) --regid=\(Self.service) --clear-groups \"$0\" once --config \"$1\"", Binary.path, workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            ).wait()
            #expect(once.status == 0, "\(once.output)")
            let before = try snapshot(of: workspace.state)

            // The monitoring user: its own uid, the service's group.
            func asMonitor(_ arguments: [String]) async throws -> CommandResult {
                try await ToolProcess(
                    "/usr/bin/setpriv", ["--reuid=\(Self.monitor)", "--regid=\(Self.service)", "--clear-groups", Binary.path] + arguments
                ).wait()
            }
            let status = try await asMonitor(["status", "--config", workspace.configPath])
            #expect(status.status == 0, "\(status.output)")
            let json = try await asMonitor(["status", "--json", "--config", workspace.configPath])
            #expect(json.status == 0, "\(json.output)")
            let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
            #expect(document?["health"] as? String == "ok")
            #expect((document?["files"] as? [[String: Any]])?.first?["name"] as? String == "add.csv")

            let planned = workspace.root + "/remove.csv"
            try "email_hash,segment_id,action\n\(member),123456,remove\n".write(toFile: planned, atomically: true, encoding: .utf8)
            chmod(planned, 0o644)
            let plan = try await asMonitor(["plan", "--config", workspace.configPath, planned])
            #expect(plan.status == 0, "\(plan.output)")
            #expect(plan.stdout.contains("123456") && plan.stdout.contains("1"), "\(plan.stdout)")

            #expect(try snapshot(of: workspace.state) == before, "nothing in the state directory was created or changed")
            #expect(await emulator.state.members(of: "123456").count == 1)
        }
    }

    @Test("a ledger the version before left: status beside the daemon that holds it says to restart the service, and upgrades nothing")
    func olderLedgerBesideADaemon() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("add.csv", "email_hash,segment_id\n\(sha256Hex("older@example.com")),123456\n")
            #expect(try await workspace.once().status == 0)
            // The ledger as the version before this one left it: without this version's three
            // schema steps (the length CHECK back, the segment index whole again).
            let path = workspace.state + "/ledger.sqlite"
            let previous = Migrations.steps.count - 3
            do {
                let connection = try SQLiteConnection(path: path)
                try connection.execute(
                    """
                    DROP INDEX membership_by_segment;
                    ALTER TABLE membership DROP COLUMN unindexed;
                    ALTER TABLE segment DROP COLUMN swept;
                    CREATE INDEX membership_by_segment ON membership (segment);
                    """)
                try connection.allowingSchemaEdits {
                    try connection.execute(
                        """
                        PRAGMA writable_schema = ON;
                        UPDATE sqlite_schema
                        SET sql = replace(sql, 'identifier BLOB NOT NULL', 'identifier BLOB NOT NULL CHECK (length(identifier) = 32)')
                        WHERE name = 'membership';
                        PRAGMA writable_schema = OFF;
                        PRAGMA user_version = \(previous)
                        """)
                }
            }
            // The daemon of that version holds the state directory.
            let daemon = try StateLock(stateDirectory: workspace.state)

            for arguments in [["status"], ["status", "--json"], ["retry"]] {
                let result = try await runCommand(arguments + ["--config", workspace.configPath])
                #expect(result.status == 75, "\(arguments): \(result.output)")
                #expect(result.stderr.contains("restart the service to upgrade the ledger"), "\(arguments): \(result.stderr)")
            }
            let check = try SQLiteConnection(path: path)
            #expect(try Migrations.userVersion(check) == previous, "not upgraded under the daemon")
            #expect(!FileManager.default.fileExists(atPath: path + ".before-upgrade-from-step-\(previous)"))

            // Once the old daemon is gone, the new one (here `once`) upgrades it.
            withExtendedLifetime(daemon) {}
            _ = consume daemon
            #expect(try await workspace.once().status == 0)
            #expect(try Migrations.userVersion(check) == Migrations.steps.count)
        }
    }

    /// Every path below `folder` with its owner, mode, size and modification time.
    func snapshot(of folder: String) throws -> [String: String] {
        var entries: [String: String] = [:]
        let walker = FileManager.default.enumerator(atPath: folder)
        while let name = walker?.nextObject() as? String {
            var info = stat()
            guard lstat(folder + "/" + name, &info) == 0 else { continue }
            entries[name] = "\(info.st_uid) \(info.st_mode) \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
        }
        return entries
    }
}
