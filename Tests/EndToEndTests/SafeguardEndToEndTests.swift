import Foundation
import Testing
import TikTokEmulator

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
            try workspace.drop("acme/truncated.csv", snapshot("123456", people[0..<2]))
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

    @Test("a refused segment is parked and named by status; retry puts it back in line")
    func parkAndRetry() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            await emulator.state.setRefusedAudiences(["654321"])
            try workspace.drop("a.csv", snapshot("123456", people[0..<3]) + people[3..<5].map { "\($0),654321" }.joined(separator: "\n") + "\n")
            let refused = try await workspace.once()
            #expect(refused.status == 75)
            #expect(refused.stderr.contains("retry"))
            #expect(await emulator.state.members(of: "123456").count == 3, "the other segment went on")
            let status = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(status.status == 75)
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let parked = try #require(document?["parked"] as? [[String: Any]])
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
