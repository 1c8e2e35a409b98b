import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// Arrival order (no file overtakes an older one of its partner) and any name the file system
/// allows: long ones, ones with control characters, ones that are not UTF-8.
@Suite("inbox: arrival order and any file name", .serialized)
struct InboxOrderAndNamesEndToEndTests {
    static let member = sha256Hex("order-member")

    static func delta(_ action: String) -> String { "email_hash,segment_id,action\n\(member),123456,\(action)\n" }

    /// Applies a snapshot of 10 members to acme, then one of 1 that is held (it removes 90 %).
    static func holdTruncatedSnapshot(_ workspace: Workspace) async throws -> [String] {
        let people = (0..<10).map { sha256Hex("held-\($0)") }
        try workspace.drop("acme/full.csv", "email_hash,segment_id\n" + people.map { "\($0),123456\n" }.joined(), age: 30)
        #expect(try await workspace.once().status == 0)
        try workspace.drop("acme/truncated.csv", "email_hash,segment_id\n\(people[0]),123456\n", age: 20)
        #expect(try await workspace.once().status == 65, "held")
        return people
    }

    static func held(_ emulator: RunningEmulator) async -> Set<String> {
        Set(await emulator.state.members(of: "123456").map(\.id))
    }

    @Test("a newer file marked done waits behind an older one of its partner that is still being written")
    func newerWaitsBehindSettling() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "2")
            try workspace.drop("acme/1-add.csv", Self.delta("add"), modified: Date())
            let removal = try workspace.drop("acme/2-remove.csv", Self.delta("remove"), modified: Date())
            _ = FileManager.default.createFile(atPath: removal + ".done", contents: nil)
            let other = sha256Hex("other-partner")
            try workspace.drop("globex/1.csv", "email_hash,segment_id,action\n\(other),654321,add\n", age: 30)
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty, "the remove came after the add")
            #expect(await emulator.state.members(of: "654321").count == 1)
        }
    }

    @Test("a file uploaded later with a preserved old modification time applies after the files before it")
    func preservedOldModificationTime() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("acme/today.csv", Self.delta("add"), age: 10)
            // `sftp put -p` / `rsync -t`: the partner's file of yesterday, uploaded after.
            try workspace.drop("acme/backlog.csv", Self.delta("remove"), modified: Date().addingTimeInterval(-86_400))
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty, "the backlog file arrived last")
        }
    }

    @Test("a 250-byte file name gets its receipt and archive copy within 255 bytes, twice")
    func longName() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let name = String(repeating: "n", count: 246) + ".csv"
            try workspace.drop(name, Self.delta("add"), age: 20)
            #expect(try await workspace.once().status == 0)
            try workspace.drop(name, "email_hash,segment_id,action\n\(sha256Hex("long-2")),123456,add\n", age: 10)
            let second = try await workspace.once()
            #expect(second.status == 0, "\(second.output)")
            #expect(await Self.held(emulator).count == 2)
            let names = workspace.receiptFiles() + workspace.files(under: "state/archive")
            #expect(names.count == 4, "\(names)")
            #expect(names.allSatisfy { $0.utf8.count <= 255 })
            #expect(workspace.files(under: "inbox").isEmpty)
        }
    }

    @Test("a name with a newline is escaped in every line printed, and cannot forge a journal line")
    func newlineInName() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("evil\n<0>forged.csv", Self.delta("add"), age: 10)
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            let lines = result.output.split(separator: "\n")
            #expect(!lines.contains { $0.hasPrefix("<0>forged") || $0.hasPrefix("forged") }, "\(result.output)")
            #expect(result.stdout.contains("evil\\n<0>forged.csv"))
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(!status.stdout.split(separator: "\n").contains { $0.hasPrefix("<0>forged") })
        }
    }

    @Test("a file whose name is not UTF-8 is renamed readable and applied, with a warning")
    func nameNotUTF8() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let path = Array((workspace.inbox + "/latin1-caf").utf8) + [0xE9] + Array(".csv".utf8) + [0]
            let descriptor = path.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
            }
            #expect(descriptor >= 0)
            let text = Array(Self.delta("add").utf8)
            #expect(write(descriptor, text, text.count) == text.count)
            close(descriptor)
            var times = [timespec(tv_sec: time(nil) - 60, tv_nsec: 0), timespec(tv_sec: time(nil) - 60, tv_nsec: 0)]
            _ = path.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { utimensat(AT_FDCWD, $0.baseAddress!, &times, 0) }
            }
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            #expect(result.stderr.contains("not valid UTF-8"))
            #expect(await Self.held(emulator) == [Self.member])
            #expect(workspace.files(under: "state/archive") == ["latin1-caf_xE9.csv"])
        }
    }

    @Test("a file that cannot be archived stays in the inbox while other partners' files go on; a file in the way is the set-up (78)")
    func oneFileFailingDoesNotBlockOthers() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            #expect(try await workspace.once().status == 0, "a first run makes the ledger")
            // A plain file where acme's archive folder must go: acme's move fails, globex's does not.
            try FileManager.default.createDirectory(atPath: workspace.state + "/archive", withIntermediateDirectories: true)
            #expect(FileManager.default.createFile(atPath: workspace.state + "/archive/acme", contents: Data("in the way".utf8)))
            try workspace.drop("acme/1.csv", Self.delta("add"), age: 20)
            let other = sha256Hex("goes-on")
            try workspace.drop("globex/1.csv", "email_hash,segment_id,action\n\(other),654321,add\n", age: 10)
            let blocked = try await workspace.once()
            // Retrying cannot move it out of the way: an operator must (78, which systemd does not restart on).
            #expect(blocked.status == 78, "\(blocked.output)")
            #expect(blocked.stderr.contains("fix the set-up"), "\(blocked.output)")
            #expect(await emulator.state.members(of: "654321").count == 1)
            #expect(workspace.files(under: "inbox") == ["acme/1.csv"])
            try FileManager.default.removeItem(atPath: workspace.state + "/archive/acme")
            let rest = try await workspace.once()
            #expect(rest.status == 0, "\(rest.output)")
            #expect(await Self.held(emulator) == [Self.member])
            #expect(workspace.files(under: "inbox").isEmpty)
        }
    }

    @Test("a held snapshot cannot be approved once later files of its partner were applied: it would undo them")
    func heldSnapshotKeepsItsPlace() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            _ = try await Self.holdTruncatedSnapshot(workspace)
            try workspace.drop("acme/later.csv", Self.delta("add"), age: 10)
            #expect(try await workspace.once().status == 0)
            let approve = try await runCommand(["approve", "--config", workspace.configPath, workspace.state + "/held/acme/truncated.csv"])
            #expect(approve.status == 65, "\(approve.output)")
            #expect(approve.stderr.contains("acme/later.csv") && approve.stderr.contains("fresh complete snapshot"))
            #expect(await Self.held(emulator).contains(Self.member), "the later file's add stays")
        }
    }

    @Test("a duplicate's receipt never names another partner's file")
    func duplicateNamesOnlyItsPartner() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("acme/secret-campaign.csv", Self.delta("add"), age: 20)
            try workspace.drop("globex/mine.csv", Self.delta("add"), age: 10)
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            let receipts = workspace.receiptFiles().filter { $0.hasPrefix("globex/") }
            #expect(receipts.count == 1)
            let text = try String(contentsOfFile: workspace.state + "/receipts/" + receipts[0], encoding: .utf8)
            #expect(text.contains("duplicate") && !text.contains("secret-campaign"), "\(text)")
        }
    }

    @Test("a chmod of a waiting file does not move it back in line")
    func chmodKeepsPlace() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "3")
            let first = try workspace.drop("acme/1-add.csv", Self.delta("add"), modified: Date())
            let removal = try workspace.drop("acme/2-remove.csv", Self.delta("remove"), modified: Date())
            _ = FileManager.default.createFile(atPath: removal + ".done", contents: nil)
            let run = try RunningCommand(["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            // Once has seen both; the partner fixes the first file's mode, which changes its ctime.
            try await Task.sleep(for: .milliseconds(1_000))
            #expect(chmod(first, 0o640) == 0)
            let result = await run.wait(timeout: .seconds(60))
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator).isEmpty, "the remove still comes after the add")
        }
    }

    @Test("an approved held snapshot goes before the files its partner sent after it that still wait")
    func approvedSnapshotKeepsItsPlace() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let people = try await Self.holdTruncatedSnapshot(workspace)
            try workspace.drop("acme/later.csv", Self.delta("add"), age: 10)
            let approve = try await runCommand(["approve", "--config", workspace.configPath, workspace.state + "/held/acme/truncated.csv"])
            #expect(approve.status == 0, "\(approve.output)")
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            #expect(await Self.held(emulator) == [people[0], Self.member], "the snapshot, then the later add")
        }
    }

    @Test("a temporary upload name that is not UTF-8 is left alone")
    func temporaryNameNotUTF8() async throws {
        try await TikTokEmulator.withRunning(EmulatorConfiguration()) { emulator in
            let workspace = try Workspace(emulator: emulator)
            let path = Array((workspace.inbox + "/.caf").utf8) + [0xE9] + Array(".csv.part".utf8) + [0]
            let descriptor = path.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
            }
            #expect(descriptor >= 0)
            close(descriptor)
            let result = try await workspace.once()
            #expect(result.status == 0, "\(result.output)")
            let names = try FileManager.default.contentsOfDirectory(atPath: workspace.inbox)
            #expect(names.count == 1 && !names[0].contains("_xE9"), "\(names)")
        }
    }
}
