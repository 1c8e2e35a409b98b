import Foundation
import Testing
import TikTokEmulator
import TestFixtures
import AudienceLedger

@Suite("Safeguards and operator commands, with the built executable", .serialized)
struct SafeguardEndToEndTests {
    let people = (0..<20).map { sha256Hex("guard\($0)@example.com") }

    func snapshot(_ segment: String, _ members: ArraySlice<String>) -> String {
        "email_hash,segment_id\n" + members.map { "\($0),\(segment)" }.joined(separator: "\n") + "\n"
    }

    @Test("a snapshot that would empty most of a segment is held until approved")
    func heldSnapshot() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("acme/full.csv", snapshot("123456", people[0..<10]))
            #expect(try await workspace.once().status == 0)
            let path = try workspace.drop("acme/truncated.csv", snapshot("123456", people[0..<2]))
            let plan = try await runCommand(["plan", "--config", workspace.configPath, path])
            #expect(plan.stdout.contains("it would be HELD"), "plan says what once would do: \(plan.output)")
            #expect(plan.stdout.contains("8 of the 10 members"))
            let held = try await workspace.once()
            #expect(held.status == 65)
            #expect(held.stdout.contains("held"))
            #expect(workspace.files(under: "state/held").contains("acme/truncated.csv"))
            #expect(await emulator.state.members(of: "123456").count == 10, "nothing of a held file is applied")
            let approve = try await runCommand(["approve", "--config", workspace.configPath, workspace.state + "/held/acme/truncated.csv"])
            #expect(approve.status == 0, "\(approve.output)")
            #expect(workspace.files(under: "inbox") == ["acme/truncated.csv"])
            #expect(try await workspace.once().status == 0)
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == Set(people[0..<2]))
        }
    }

    @Test("plan reads a file as the daemon would from where it lies: the partner's segments and rules, no token")
    func planKeepsPartnerRules() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\"]")
            let path = try workspace.drop("acme/x.csv", "email_hash,segment_id,action\n\(people[0]),123456,add\n\(people[1]),654321,add\n")
            let plan = try await runCommand(["plan", "--config", workspace.configPath, path])
            #expect(plan.status == 65, "\(plan.output)")
            #expect(plan.stdout.contains("segment_not_allowed"))
            #expect(!plan.stdout.contains("654321   "), "no change planned for a segment the partner may not touch")
        }
    }

    @Test("the disk filling up mid-file leaves the ledger and the inbox as they were; with space again, the file is applied once")
    func diskFull() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            // A 1 MiB file-size limit on the process (EFBIG) fails the ledger's writes part-way, as a
            // full disk does. (A really full disk is no longer reached: a file waits until about
            // three times its size is free, RetentionEndToEndTests.waitsForFreeSpace.)
            try workspace.drop("first.csv", snapshot("123456", people[0..<5]))
            #expect(try await workspace.once().status == 0)
            let statusBefore = try await runCommand(["status", "--json", "--config", workspace.configPath])
            // 40,000 members need several MiB of ledger: the write fails part-way.
            let many = (0..<40_000).map { sha256Hex("disk\($0)@example.com") }
            try workspace.drop("big.csv", "email_hash,segment_id,action\n" + many.map { "\($0),654321,add" }.joined(separator: "\n") + "\n")
            let full = try await ToolProcess(
                "/bin/bash", ["-c", "trap '' XFSZ; ulimit -f 1024; exec \"$0\" once --config \"$1\"", Binary.path, workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            ).wait(timeout: .seconds(120))
            #expect(full.status == 75, "\(full.output)")
            #expect(!full.output.contains("waits for free space"), "the write itself failed: \(full.output)")
            #expect(["full", "space", "disk I/O error"].contains { full.output.contains($0) }, "says why: \(full.output)")
            #expect(workspace.files(under: "inbox") == ["big.csv"], "the file waits in the inbox")
            #expect(!workspace.files(under: "state").contains { $0.hasPrefix("rejected/") }, "a full disk is not the file's fault")
            let statusAfter = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(pendingSection(statusAfter.stdout) == pendingSection(statusBefore.stdout), "the ledger is as it was")
            #expect(await emulator.state.members(of: "654321").isEmpty)
            #expect(try await Ledger(path: workspace.state + "/ledger.sqlite").reader.integrityCheck() == "ok")

            let again = try await workspace.once()
            #expect(again.status == 0, "\(again.output)")
            #expect(Set(await emulator.state.members(of: "654321").map(\.id)) == Set(many))
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == Set(people[0..<5]))
            #expect(workspace.files(under: "inbox").isEmpty)
            #expect(workspace.files(under: "state/archive") == ["big.csv", "first.csv"])
        }
    }

    /// The "pending" object of `status --json`, as text.
    func pendingSection(_ json: String) -> String {
        guard let document = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            let pending = document["pending"],
            let data = try? JSONSerialization.data(withJSONObject: pending, options: [.sortedKeys])
        else { return "unreadable: \(json)" }
        return String(decoding: data, as: UTF8.self)
    }

    @Test("a refused segment is parked and named by status; retry puts it back in line")
    func parkAndRetry() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            await emulator.state.setRefusedAudiences(["654321"])
            try workspace.drop("a.csv", snapshot("123456", people[0..<3]) + people[3..<5].map { "\($0),654321" }.joined(separator: "\n") + "\n")
            let refused = try await workspace.once()
            #expect(refused.status == 75)
            #expect(refused.stderr.contains("retry"))
            let output = refused.stdout + refused.stderr
            #expect(output.contains("code 40002"), "once names TikTok's code: \(output)")
            #expect(output.range(of: "request_id=[0-9A-Za-z]+", options: .regularExpression) != nil,
                    "once names TikTok's request_id for support: \(output)")
            #expect(await emulator.state.members(of: "123456").count == 3, "the other segment went on")
            let status = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(status.status == 78, "a parked segment needs an operator")
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let parked = try #require(document?["parked"] as? [[String: Any]])
            #expect((parked.first?["parked_at"] as? String)?.hasSuffix("Z") == true, "ISO 8601 times")
            #expect(parked.first?["segment"] as? String == "654321")
            #expect(parked.first?["adds"] as? Int == 2)
            #expect(parked.first?["code"] as? Int == 40002)
            #expect((parked.first?["request_id"] as? String)?.isEmpty == false)
            let tiktok = document?["tiktok"] as? [String: Any]
            #expect((tiktok?["last_error"] as? [String: Any])?["code"] as? Int == 40002)
            let text = try await runCommand(["status", "--config", workspace.configPath])
            #expect(text.stdout.contains("parked"))
            await emulator.state.setRefusedAudiences([])
            let retry = try await runCommand(["retry", "--config", workspace.configPath, "--segment", "654321"])
            #expect(retry.status == 0)
            #expect(retry.stdout.contains("2 change(s) put back in line"))
            #expect(try await workspace.once().status == 0)
            #expect(await emulator.state.members(of: "654321").count == 2)
            #expect(try await runCommand(["status", "--config", workspace.configPath]).status == 0)
        }
    }
}

/// A tmpfs of a few MiB mounted over a folder: a disk with little room, for real.
struct SmallDisk {
    let path: String

    static let canMount: Bool = {
        guard geteuid() == 0 else { return false }
        let probe = NSTemporaryDirectory() + "audience-sync-mount-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0 else { return false }
        umount2(probe, Int32(MNT_DETACH))
        return true
    }()

    init(at path: String, megabytes: Int) async throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(megabytes)m,mode=0750") == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "mount: \(String(cString: strerror(errno)))"])
        }
    }

    func resize(megabytes: Int) async throws {
        guard mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT), "size=\(megabytes)m") == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "remount: \(String(cString: strerror(errno)))"])
        }
    }

    func unmount() { umount2(path, Int32(MNT_DETACH)) }
}
