import Foundation
import Testing
import TikTokEmulator
import TestFixtures
import AudienceLedger

/// A small deterministic generator, so a failing kill schedule can be replayed from its seed.

@Suite("kill -9 anywhere: nothing lost, nothing applied twice", .serialized)
struct KillEndToEndTests {
    @Test("SIGKILL at 20 random moments of once and run, restarting each time, ends exact")
    func killAnywhere() async throws {
        let seed = UInt64(ProcessInfo.processInfo.environment["KILL_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        var random = SeededRandom(state: seed)
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(40)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: 2\n" + Workspace.quickRecheckYAML)
            // A snapshot of 100,000 members, then a delta of 100,000 rows that removes a quarter of
            // them and adds new members to both segments: 200,000 rows in all.
            var expected123: Set<String> = []
            var expected654: Set<String> = []
            var snapshot = "email_hash,segment_id\n"
            for index in 0..<100_000 {
                let hash = sha256Hex("kill\(index)")
                snapshot += "\(hash),123456\n"
                expected123.insert(hash)
            }
            var delta = "email_hash,segment_id,action\n"
            for index in 0..<25_000 {
                let hash = sha256Hex("kill\(index * 4)")
                delta += "\(hash),123456,remove\n"
                expected123.remove(hash)
            }
            for index in 100_000..<175_000 {
                let hash = sha256Hex("kill\(index)")
                let segment = index % 2 == 0 ? "123456" : "654321"
                delta += "\(hash),\(segment),add\n"
                if segment == "123456" { expected123.insert(hash) } else { expected654.insert(hash) }
            }
            try workspace.drop("acme/1-snapshot.csv", snapshot, age: 20)
            try workspace.drop("acme/2-delta.csv", delta, age: 10)
            let environment = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            // Rounds go on until 20 kills hit a live process (a round whose `once` had already
            // finished does not count), alternating `once` and the `run` daemon.
            var kills = 0
            var round = 0
            while kills < 20 && round < 60 {
                let arguments = round % 2 == 1 ? ["run", "--config", workspace.configPath] : ["once", "--config", workspace.configPath]
                round += 1
                let process = try RunningCommand(arguments, environment: environment)
                let moment = Double.random(in: 0.05...2.0, using: &random)
                try await Task.sleep(for: .milliseconds(Int(moment * 1000)))
                process.signal(SIGKILL)
                let result = await process.wait()
                if result.status != 0 { kills += 1 }
            }
            let final = try await workspace.onceUntilRechecked()
            #expect(final.status == 0, "seed \(seed): \(final.output)")
            #expect(kills == 20, "seed \(seed): \(kills) kills in \(round) rounds")
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == expected123, "seed \(seed)")
            #expect(Set(await emulator.state.members(of: "654321").map(\.id)) == expected654, "seed \(seed)")
            #expect(workspace.files(under: "inbox").isEmpty)
            #expect(workspace.files(under: "state/archive") == ["acme/1-snapshot.csv", "acme/2-delta.csv"], "seed \(seed): archived once each")
            let receipts = workspace.receiptFiles()
            #expect(receipts.count == 2 && receipts.filter { $0.hasPrefix("acme/1-snapshot.csv.") }.count == 1, "seed \(seed): one receipt each: \(receipts)")
            let ledger = try Ledger(path: workspace.state + "/ledger.sqlite")
            #expect(try await ledger.reader.integrityCheck() == "ok")
            #expect(try await ledger.reader.pendingCounts().total == 0)
            let files = try await ledger.reader.recentFiles(limit: 10)
            #expect(files.count == 2, "seed \(seed): each file recorded once")
            #expect(files.allSatisfy { $0.outcome == .applied && $0.duplicatesSeen == 0 })
        }
    }
}
