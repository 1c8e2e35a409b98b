import Foundation
import Testing
import TikTokEmulator
import TestFixtures

@Suite("run: the daemon against the emulator, with real signals", .serialized)
struct DaemonEndToEndTests {
    func hashes(_ prefix: String, _ count: Int) -> [String] { (0..<count).map { sha256Hex("\(prefix)\($0)@example.com") } }

    func startDaemon(_ workspace: Workspace, notify: NotifyListener? = nil, extraEnvironment: [String: String] = [:]) throws -> RunningCommand {
        var environment = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
        if let notify { environment["NOTIFY_SOCKET"] = notify.path }
        environment.merge(extraEnvironment) { $1 }
        return try RunningCommand(["run", "--config", workspace.configPath], environment: environment)
    }

    /// Renames a finished file into place, as partners are told to upload.
    func upload(_ workspace: Workspace, _ relativePath: String, _ text: String) throws {
        let final = workspace.inbox + "/" + relativePath
        let directory = (final as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = directory + "/." + (final as NSString).lastPathComponent + ".part"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary, final) == 0)
    }

    @Test("tells systemd READY, STATUS and watchdog; a renamed-in file is synced with its receipt; SIGTERM exits 0")
    func notifyAndRenamedFile() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "30")
            // The partner's folder exists before the daemon starts, as on a configured server.
            try FileManager.default.createDirectory(atPath: workspace.inbox + "/acme", withIntermediateDirectories: true)
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try startDaemon(workspace, notify: notify, extraEnvironment: ["WATCHDOG_USEC": "300000"])
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            let extended = notify.messages.firstIndex { $0.hasPrefix("EXTEND_TIMEOUT_USEC=") }
            let ready = notify.messages.firstIndex(of: "READY=1")
            #expect(extended.flatMap { first in ready.map { first < $0 } } == true,
                    "asks for start-up time before opening (and perhaps upgrading) the ledger")
            let people = hashes("renamed", 3)
            try upload(workspace, "acme/list.csv", "email_hash,segment_id\n" + people.map { "\($0),123456" }.joined(separator: "\n") + "\n")
            // settle_seconds is 30: only the rename can make this fast.
            #expect(await emulator.state.waitUntil(timeout: .seconds(15)) { state in state.members(of: "123456").count == 3 })
            #expect(await eventually { workspace.receiptFiles().count == 1 })
            #expect(await notify.waitFor { messages in messages.contains("STATUS=idle, 0 pending") })
            #expect(await notify.waitFor { messages in messages.filter { $0 == "WATCHDOG=1" }.count >= 2 }, "pings every WATCHDOG_USEC/2")
            daemon.signal(SIGTERM)
            let result = await daemon.wait()
            #expect(result.status == 0, "\(result.output)")
            #expect(notify.messages.contains { $0.hasPrefix("STATUS=") })
        }
    }

    @Test("planning a large file while confirmations come in does not silence the watchdog")
    func watchdogWhilePlanning() async throws {
        // 1.5M distinct members: seconds of planning on any machine that runs this suite. Built
        // first, so that it lands while the first file's answers are still on their way.
        let big = await onOwnThread {
            var big = "email_hash,segment_id,action\n"
            big.reserveCapacity(1_500_000 * 76 + 64)
            let zeros = String(repeating: "0", count: 64)
            for index in 1...1_500_000 {
                let hex = String(index, radix: 16)
                big += zeros.dropLast(hex.count) + hex + ",654321,add\n"
            }
            return big
        }
        try await TikTokEmulator.withRunning { [big] emulator in
            let workspace = try Workspace(emulator: emulator)
            // The first file's answers take 4 s: its confirmations arrive while the big file holds
            // the ledger is busy with the big file.
            await emulator.state.enqueue(Array(repeating: .delay(.seconds(4)), count: 8))
            let notify = try NotifyListener(directory: workspace.root)
            // systemd would kill a daemon silent for 1.5 s; it pings every 0.75 s.
            let daemon = try startDaemon(workspace, notify: notify, extraEnvironment: ["WATCHDOG_USEC": "1500000"])
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            let first = hashes("confirmed", 80_000)
            try upload(workspace, "first.csv", "email_hash,segment_id\n" + first.map { "\($0),123456" }.joined(separator: "\n") + "\n")
            #expect(await emulator.state.waitUntil { state in state.mappingRequestCount >= 1 })
            try upload(workspace, "big.csv", big)
            #expect(await notify.waitFor { messages in messages.contains { $0.hasPrefix("STATUS=planning big.csv") } })
            #expect(await emulator.state.appliedMappingRequestCount == 0, "the first file's answers were still out when planning began")
            let receipts = { workspace.receiptFiles().filter { !($0 as NSString).lastPathComponent.hasPrefix(".") } }
            #expect(await eventually(timeout: .seconds(120)) { receipts().count == 2 })
            #expect(await emulator.state.waitUntil { state in state.memberCounts()["123456"] == 80_000 })
            let silence = notify.longestSilence(between: "WATCHDOG=1")
            #expect(silence < .milliseconds(1_500), "longest time without WATCHDOG=1: \(silence)")
            daemon.signal(SIGTERM)
            let result = await daemon.wait()
            #expect(result.status == 0, "\(result.output.suffix(2_000))")
        }
    }

    @Test("a file written slowly under its final name is applied once, whole")
    func slowWriter() async throws {
        try await TikTokEmulator.withRunning { emulator in
            // Pauses of 0.4 s between writes, settle_seconds 8. The writer has a thread of its own:
            // on the shared test pool, other tests' work could stall it past the settle time (with
            // 3 s it was once read half-way during a full parallel run, under other tests' disk load).
            let workspace = try Workspace(emulator: emulator, settle: "8")
            let daemon = try startDaemon(workspace)
            let people = hashes("slow", 40)
            let path = workspace.inbox + "/slow.csv"
            // Created in place, not renamed in (FileManager.createFile writes atomically: a rename,
            // which the daemon rightly takes as a finished upload).
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0o644)
            try #require(descriptor >= 0)
            let chunks = ["email_hash,segment_id\n"]
                + stride(from: 0, to: 40, by: 8).map { people[$0..<$0 + 8].map { "\($0),123456\n" }.joined() }
            let written = await onOwnThread {
                var total = 0
                for (index, chunk) in chunks.enumerated() {
                    if index > 0 { usleep(400_000) }
                    total += chunk.utf8CString.withUnsafeBufferPointer { write(descriptor, $0.baseAddress, $0.count - 1) }
                }
                close(descriptor)
                return total
            }
            #expect(written == chunks.reduce(0) { $0 + $1.utf8.count })
            let whole = await eventually(timeout: .seconds(30)) { await emulator.state.members(of: "123456").count == 40 }
            let held = await emulator.state.members(of: "123456").count
            #expect(whole, "\(held) of 40 members; daemon said: \(daemon.outputSoFar)")
            #expect(workspace.receiptFiles().count == 1, "applied once: \(workspace.receiptFiles()); daemon said: \(daemon.outputSoFar)")
            #expect(await emulator.state.appliedMappingRequestCount == 1)
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
        }
    }

    @Test("an upload killed half-way is never applied, and is moved aside as incomplete")
    func abortedUpload() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "0.5", extraYAML: "incomplete_upload_seconds: 2")
            let daemon = try startDaemon(workspace)
            let people = hashes("cut", 10)
            let full = "email_hash,segment_id\n" + people.map { "\($0),123456" }.joined(separator: "\n") + "\n"
            // What a killed `sftp put` leaves: the first part of the file, cut mid-line, under its final name.
            try workspace.drop("acme/cut.csv", String(full.prefix(full.count / 2)))
            #expect(await eventually { workspace.files(under: "state/rejected").contains("acme/cut.csv.reason.txt") })
            let reason = try String(contentsOfFile: workspace.state + "/rejected/acme/cut.csv.reason.txt", encoding: .utf8)
            #expect(reason.contains("incomplete upload"))
            #expect(await emulator.state.mappingRequestCount == 0)
            #expect(await emulator.state.members(of: "123456").isEmpty)
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
        }
    }

    @Test("a new partner folder is watched at once")
    func newPartnerFolder() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, settle: "30", extraYAML: "rescan_seconds: 3600")
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try startDaemon(workspace, notify: notify)
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            try FileManager.default.createDirectory(atPath: workspace.inbox + "/newcomer", withIntermediateDirectories: true)
            try await Task.sleep(for: .milliseconds(300))
            try upload(workspace, "newcomer/first.csv", "email_hash,segment_id\n\(hashes("new", 1)[0]),654321\n")
            #expect(await emulator.state.waitUntil(timeout: .seconds(5)) { state in state.members(of: "654321").count == 1 })
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
        }
    }

    @Test("SIGTERM during a send exits 0, and a restart ends in the exact membership")
    func sigtermDuringSend() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(400)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  max_in_flight: 1")
            let people = hashes("term", 30_000)
            try workspace.drop("big.csv", "email_hash,segment_id,action\n" + people.map { "\($0),123456,add" }.joined(separator: "\n") + "\n")
            let first = try startDaemon(workspace)
            #expect(await emulator.state.waitUntil { state in state.mappingRequestCount >= 1 })
            first.signal(SIGTERM)
            let stopped = await first.wait()
            #expect(stopped.status == 0, "\(stopped.output)")
            let sentBeforeStop = await emulator.state.members(of: "123456").count
            #expect(sentBeforeStop < 30_000, "the daemon stopped before finishing")
            let second = try startDaemon(workspace)
            #expect(await emulator.state.waitUntil(timeout: .seconds(30)) { state in state.members(of: "123456").count == 30_000 })
            second.signal(SIGTERM)
            #expect(await second.wait().status == 0)
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == Set(people))
        }
    }

    @Test("a refused token pauses run with everything pending; a renewed token file resumes it without a restart or signal")
    func tokenRenewedWhilePaused() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let tokenFile = FileManager.default.temporaryDirectory.path + "/token-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: tokenFile) }
            try "stale-token-value\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  access_token_file: \(tokenFile)")
            let people = hashes("renew", 40)
            try workspace.drop("list.csv", "email_hash,segment_id,action\n" + people.map { "\($0),123456,add" }.joined(separator: "\n") + "\n")
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try RunningCommand(
                ["run", "--config", workspace.configPath], environment: ["NOTIFY_SOCKET": notify.path])
            #expect(await notify.waitFor(timeout: .seconds(15)) { messages in messages.contains { $0.hasPrefix("STATUS=") && $0.contains("token refused") } })
            #expect(await emulator.state.members(of: "123456").isEmpty)
            let status = try await runCommand(["status", "--json", "--config", workspace.configPath])
            #expect(status.status == 78, "paused on a refused token: an operator must renew it")
            let document = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            let running = document?["daemon"] as? [String: Any]
            #expect(running?["running"] as? Bool == true, "\(status.stdout)")
            #expect(running?["pid"] as? Int == Int(daemon.pid))
            #expect((document?["problems"] as? [String])?.first?.contains("sending is paused") == true, "\(status.stdout)")
            #expect((document?["pending"] as? [String: Any])?["adds"] as? Int == 40, "\(status.stdout)")
            // What `auth` does: replace the file. No SIGHUP: the paused daemon notices by itself.
            try "emulator-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            #expect(await emulator.state.waitUntil(timeout: .seconds(15)) { state in state.members(of: "123456").count == 40 })
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == Set(people))
            daemon.signal(SIGTERM)
            let result = await daemon.wait()
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("stale-token-value") && !result.output.contains("emulator-token"))
        }
    }

    @Test("a token renewed while the refused request is still out is used at once, not after the back-off")
    func tokenRenewedDuringTheRefusedRequest() async throws {
        var configuration = EmulatorConfiguration()
        configuration.latency = .milliseconds(1_500)
        try await TikTokEmulator.withRunning(configuration) { emulator in
            let tokenFile = FileManager.default.temporaryDirectory.path + "/token-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: tokenFile) }
            try "stale-token-value\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let workspace = try Workspace(emulator: emulator, tiktokYAML: "  access_token_file: \(tokenFile)")
            let people = hashes("during", 20)
            try workspace.drop("list.csv", "email_hash,segment_id,action\n" + people.map { "\($0),123456,add" }.joined(separator: "\n") + "\n")
            let daemon = try RunningCommand(["run", "--config", workspace.configPath])
            // The stale token's request is at TikTok, its refusal 1.5 s away: `auth` saves a new one now.
            #expect(await emulator.state.waitUntil(timeout: .seconds(30)) { $0.requestsInProgress >= 1 })
            try "emulator-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            // The first wait after a refusal is 30 s: well inside it, the members are at TikTok.
            #expect(await emulator.state.waitUntil(timeout: .seconds(15)) { $0.members(of: "123456").count == 20 })
            daemon.signal(SIGTERM)
            let result = await daemon.wait()
            #expect(result.status == 0, "\(result.output)")
        }
    }

    @Test("a new partner's first upload waits until SIGHUP adds the partner, then both its files are taken")
    func reloadPartners() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\"]")
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try startDaemon(workspace, notify: notify)
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            try upload(workspace, "beta/early.csv", "email_hash,segment_id\n\(hashes("b", 1)[0]),654321\n")
            #expect(await eventually {
                let status = try? await runCommand(["status", "--config", workspace.configPath])
                return status?.stdout.contains("beta/early.csv: folder beta is not a partner under partners: yet") == true
            }, "the early file waits, and status says why")
            #expect(workspace.files(under: "inbox").contains("beta/early.csv"))
            var yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            yaml += "\n  beta:\n    segments: [\"654321\"]\n"
            try yaml.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(await notify.waitFor { messages in messages.contains { $0.hasPrefix("RELOADING=1") } })
            #expect(await notify.waitFor { messages in messages.filter { $0 == "READY=1" }.count >= 2 })
            try upload(workspace, "beta/later.csv", "email_hash,segment_id,action\n\(hashes("b", 2)[1]),654321,add\n")
            #expect(await emulator.state.waitUntil { state in state.members(of: "654321").count == 2 }, "the early file and the later one")
            #expect(!workspace.files(under: "state/rejected").contains("beta/early.csv"))
            daemon.signal(SIGTERM)
            #expect(await daemon.wait().status == 0)
        }
    }

    @Test("a reload with an unknown key is refused and said so in STATUS until a good one; losing partners: is warned of")
    func refusedReload() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator, extraYAML: "partners:\n  acme:\n    segments: [\"123456\"]")
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try startDaemon(workspace, notify: notify)
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            let good = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
            try (good + "\nsetle_seconds: 3\n").write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(await notify.waitFor { messages in messages.contains { $0.hasPrefix("STATUS=reload refused") && $0.contains("setle_seconds") } })
            #expect(notify.messages.allSatisfy { $0.contains("=") }, "every notify line is KEY=value: no raw newline in STATUS")
            try upload(workspace, "acme/a.csv", "email_hash,segment_id\n\(hashes("r", 1)[0]),123456\n")
            #expect(await emulator.state.waitUntil { state in state.members(of: "123456").count == 1 }, "the configuration in force still works")
            #expect(notify.messages.last { $0.hasPrefix("STATUS=") }?.contains("reload refused") == true, "said until a good reload")

            let withoutPartners = good.components(separatedBy: "partners:")[0]
            try withoutPartners.write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            #expect(await notify.waitFor { messages in messages.filter { $0 == "READY=1" }.count >= 3 })
            #expect(await notify.waitFor { messages in messages.last { $0.hasPrefix("STATUS=") }?.contains("reload refused") == false })
            daemon.signal(SIGTERM)
            let result = await daemon.wait()
            #expect(result.status == 0)
            #expect(result.output.contains("partners: is gone from the configuration"), "\(result.output)")
        }
    }
}
