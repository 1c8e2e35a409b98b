import Foundation
import Testing
import TikTokEmulator
import TestFixtures
import AudienceTikTok

@Suite("once: the built executable against the emulator", .serialized)
struct OnceEndToEndTests {
    let people = (0..<40).map { sha256Hex("person\($0)@example.com") }

    func snapshot(_ segment: String, _ members: ArraySlice<String>) -> String {
        "email_hash,segment_id\n" + members.map { "\($0),\(segment)" }.joined(separator: "\n") + "\n"
    }

    @Test("an inbox of snapshots, deltas, gzip and bad input ends in exactly the membership the files say")
    func syncsInbox() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("acme/1-full.csv", snapshot("123456", people[0..<20]), age: 300)
            try workspace.drop(
                "acme/2-delta.csv",
                "segment_id,action,email_hash\n123456,remove,\(people[0])\n123456,add,\(people[30])\n654321,add,\(people[1])\n123456,add,not-a-hash\n",
                age: 200)
            try workspace.drop("globex/3-apps.csv", "idfa,segment_id,action\n5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25,654321,add\n", age: 100)
            try workspace.drop("garbage.csv", bytes: [0x00, 0x01, 0x02, 0xff, 0x0a], age: 50)
            try workspace.drop(".upload.csv.part", "email_hash,segment_id\n\(people[39]),123456\n", age: 40)

            let result = try await workspace.once()
            #expect(result.status == 65, "rows and a file were rejected: \(result.output)")
            // The audit trail: what reached TikTok, per segment, with the fields to filter on.
            #expect(result.stderr.contains("TikTok confirmed +20 -0 for segment 123456"), "\(result.stderr)")
            // One line per segment and partner whose files asked for the changes.
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.contains { $0.contains("TikTok confirmed +1 -0 for segment 654321") && $0.contains("partner=acme") }, "\(result.stderr)")
            #expect(lines.contains { $0.contains("TikTok confirmed +1 -0 for segment 654321") && $0.contains("partner=globex") }, "\(result.stderr)")
            #expect(result.stderr.contains("segment=123456"))
            let expected123 = Set(people[1..<20]).union([people[30]])
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == expected123)
            let apps = await emulator.state.members(of: "654321")
            #expect(apps == [
                EmulatorMember(idType: "EMAIL_SHA256", id: people[1]),
                EmulatorMember(idType: "IDFA_SHA256", id: "83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd"),
            ])
            #expect(workspace.files(under: "inbox") == [".upload.csv.part"], "temporary uploads stay untouched")
            #expect(workspace.files(under: "state/archive").count == 3)
            #expect(workspace.files(under: "state/rejected").contains("garbage.csv"))
            let reason = try String(contentsOfFile: workspace.state + "/rejected/garbage.csv.reason.txt", encoding: .utf8)
            #expect(reason.contains("NUL"))
            let receipts = workspace.receiptFiles()
            #expect(receipts.count == 4)
            let deltaReceipt = try #require(receipts.first { $0.hasPrefix("acme/2-delta.csv") })
            let json = try String(contentsOfFile: workspace.state + "/receipts/" + deltaReceipt, encoding: .utf8)
            #expect(json.contains("\"line\" : 5"))
            #expect(json.contains("not_sha256"))
        }
    }

    @Test("the same bytes under another name change nothing and send nothing, even after a later file")
    func duplicateSendsNothing() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            // A delta whose second application would undo the later remove: only recognising the
            // bytes keeps member 0 out.
            let adds = "email_hash,segment_id,action\n" + people[0..<5].map { "\($0),123456,add" }.joined(separator: "\n") + "\n"
            try workspace.drop("a/first.csv", adds)
            #expect(try await workspace.once().status == 0)
            try workspace.drop("a/later.csv", "email_hash,segment_id,action\n\(people[0]),123456,remove\n")
            #expect(try await workspace.once().status == 0)
            let requests = await emulator.state.mappingRequestCount
            try workspace.drop("b/renamed-copy.txt", adds)
            let again = try await workspace.once()
            #expect(again.status == 0)
            #expect(again.stdout.contains("duplicate"))
            #expect(await emulator.state.mappingRequestCount == requests)
            #expect(await emulator.state.members(of: "123456").count == 4)
        }
    }

    @Test("a refused token exits 75 with everything pending; status shows it; a good token finishes the job")
    func refusedTokenThenRecovery() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("in.csv", snapshot("123456", people[0..<7]) + people[7..<9].map { "\($0),654321" }.joined(separator: "\n") + "\n")
            let refused = try await workspace.once(token: "stale-token-value")
            #expect(refused.status == 75)
            #expect(refused.stderr.contains("renew"))
            let status = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(status.status == 78, "a refused token needs an operator")
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect(document?["health"] as? String == "action_needed")
            #expect((document?["problems"] as? [String])?.first?.contains("access token") == true, "\(status.stdout)")
            let pending = document?["pending"] as? [String: Any]
            #expect(pending?["adds"] as? Int == 9)
            let bySegment = pending?["by_segment"] as? [String: [String: Int]]
            #expect(bySegment?["123456"]?["adds"] == 7)
            #expect(bySegment?["654321"]?["adds"] == 2)
            let recovered = try await workspace.once()
            #expect(recovered.status == 0)
            #expect(await emulator.state.memberCounts() == ["123456": 7, "654321": 2])
        }
    }

    @Test("TikTok unreachable: once gives up after one batch's tries instead of every batch's, exits 75, keeps everything pending")
    func unreachable() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            let closed = "http://127.0.0.1:\(try freeLoopbackPort())/open_api/v1.3"
            let yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            try yaml.replacingOccurrences(of: emulator.baseURL, with: closed)
                .write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            // 100,000 members: 10 batches, 6 tries each if every batch tried on its own.
            let many = (0..<100_000).map { sha256Hex("away\($0)@example.com") }
            try workspace.drop("big.csv", "email_hash,segment_id,action\n" + many.map { "\($0),123456,add" }.joined(separator: "\n") + "\n")
            let result = try await workspace.once()
            #expect(result.status == 75, "\(result.output)")
            #expect(result.stderr.contains("did not answer"), "\(result.stderr)")
            let tries = result.stdout.split(separator: "\n").first { $0.hasPrefix("sent 0 request(s)") }
                .flatMap { $0.split(separator: ";").last?.split(separator: " ").first }.flatMap { Int($0) }
            #expect(tries.map { $0 >= 6 && $0 <= 24 } == true, "one batch's 6 tries, and those in flight: \(result.stdout)")
            let status = try await runCommand(["status", "--json", "--config", workspace.configPath])
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect((document?["pending"] as? [String: Any])?["adds"] as? Int == 100_000)
            #expect(status.stdout.contains("did not answer"), "status says why sending paused")
        }
    }

    @Test("the token never appears in any output, receipt, report or the ledger")
    func tokenNeverWritten() async throws {
        let token = "super-secret-token-4711"
        var configuration = EmulatorConfiguration()
        configuration.accessToken = token
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("x.csv", snapshot("123456", people[0..<3]))
            try workspace.drop("bad.csv", "nothing useful\n")
            await emulator.state.enqueue([.code(40100, message: "slow down"), .gatewayError(status: 502)])
            let first = try await workspace.once(token: token, extraArguments: ["--log-level", "debug"])
            await emulator.state.setAccessToken("rotated")
            try workspace.drop("y.csv", "email_hash,segment_id,action\n\(people[3]),123456,add\n")
            let refused = try await workspace.once(token: token, extraArguments: ["--log-level", "debug"])
            #expect(refused.status == 75)
            var outputs = ["stdout and stderr": first.output + refused.output]
            for file in workspace.files(under: "state") {
                if let data = FileManager.default.contents(atPath: workspace.state + "/" + file) {
                    outputs[file] = String(decoding: data, as: UTF8.self)
                }
            }
            for (name, text) in outputs {
                #expect(!text.contains(token), "the token is in \(name)")
                // archive/ and rejected/ hold the partners' own files, as they sent them.
                if !name.hasPrefix("archive/") && !name.hasPrefix("rejected/") {
                    #expect(!text.contains(people[0]), "a full identifier is in \(name)")
                }
            }
        }
    }

    @Test("bad configuration exits 78 naming the key")
    func badConfiguration() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: lots")
            let result = try await workspace.once()
            #expect(result.status == 78)
            #expect(result.stderr.contains("tiktok.max_in_flight"))
            let missing = try await runCommand(["once", "--config", workspace.root + "/nope.yaml"])
            #expect(missing.status == 78)
        }
    }

    @Test("validate and plan report without changing anything")
    func validateAndPlan() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("base.csv", snapshot("123456", people[0..<4]))
            #expect(try await workspace.once().status == 0)
            let file = workspace.root + "/next.csv"
            try (snapshot("123456", people[2..<6])).write(toFile: file, atomically: true, encoding: .utf8)
            let plan = try await runCommand(["plan", "--config", workspace.configPath, file])
            #expect(plan.status == 0, "\(plan.output)")
            #expect(plan.stdout.contains("123456               2           2"))
            let requests = await emulator.state.mappingRequestCount
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(status.status == 0, "plan left nothing pending")
            #expect(await emulator.state.mappingRequestCount == requests)
            let bad = workspace.root + "/bad.csv"
            try "email_hash,segment_id\nxyz,1\n".write(toFile: bad, atomically: true, encoding: .utf8)
            let validate = try await runCommand(["validate", file, bad])
            #expect(validate.status == 65)
            #expect(validate.stdout.contains("line 2: not_sha256"))
            #expect(try await runCommand(["validate", file]).status == 0)
        }
    }

    @Test("a second instance on the same state directory refuses to start")
    func secondInstanceRefused() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(1500)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator)
            try workspace.drop("x.csv", snapshot("123456", people[0..<3]))
            let first = try RunningCommand(["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            while !first.outputSoFar.contains("applied") { try await Task.sleep(for: .milliseconds(20)) }
            let second = try await workspace.once()
            #expect(second.status == 75)
            #expect(second.stderr.contains("another tiktok-audience-sync"))
            #expect(await first.wait().status == 0)
        }
    }

    @Test("killed with SIGKILL mid-send, a rerun ends in the exact membership")
    func killedMidSend() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(300)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: 1\n" + Workspace.quickRecheckYAML)
            var text = "email_hash,segment_id,action\n"
            var expected: Set<String> = []
            for index in 0..<25_000 {
                let hash = sha256Hex("k\(index)")
                text += "\(hash),123456,add\n"
                expected.insert(hash)
            }
            try workspace.drop("big.csv", text)
            _ = try await workspace.once(signalledAtNextRequest: SIGKILL, of: emulator)
            let rerun = try await workspace.onceUntilRechecked()
            #expect(rerun.status == 0, "\(rerun.output)")
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == expected)
            #expect(workspace.files(under: "state/archive") == ["big.csv"])
        }
    }
}
