import Foundation
import Testing
import TestFixtures
import TikTokEmulator

/// `once` and `run` are one pipeline with two ways to finish: fed the same arrivals, in two waves,
/// they take the same files the same way and leave TikTok holding the same members, which are
/// what the files say.
@Suite("once and run agree on the same arrivals", .serialized)
struct OnceAndRunAgreeTests {
    /// What a run leaves behind, to compare: TikTok's members per segment, and each file's outcome.
    struct Result: Equatable {
        var membership: [String: Set<EmulatorMember>]
        var outcomes: [String: String]
    }

    @Test("the same files, arriving in two waves, end the same in once and in run", arguments: [UInt64(11), 23, 37])
    func sameArrivals(seed: UInt64) async throws {
        let files = ModelHistory(seed: seed).files
        try #require(!files.isEmpty)
        let waves = [Array(files.prefix(files.count / 2)), Array(files.dropFirst(files.count / 2))]
        let once = try await Self.once(waves)
        let run = try await Self.run(waves)
        let oracle = ModelHistory(seed: seed).oracle.filter { !$0.value.isEmpty }
        #expect(once.membership == oracle, "seed \(seed): once")
        #expect(run.membership == once.membership, "seed \(seed): run and once")
        #expect(run.outcomes == once.outcomes, "seed \(seed)")
        #expect(once.outcomes.count == files.count)
    }

    static var emulatorConfiguration: EmulatorConfiguration {
        var configuration = EmulatorConfiguration()
        configuration.audienceIDs = ModelHistory.segments
        return configuration
    }

    static func workspace(_ emulator: RunningEmulator) throws -> Workspace {
        try Workspace(emulator: emulator, extraYAML: "max_snapshot_removal_percent: 100\nidentifiers:\n  maid_type: idfa")
    }

    /// Writes the file under a temporary name and renames it into place, as partners are told
    /// to upload: the daemon never sees it half-written. Renames a few milliseconds apart arrive
    /// one after the other.
    static func upload(_ file: ModelHistory.AudienceFile, to workspace: Workspace) throws {
        let temporary = workspace.inbox + "/." + file.name + ".part"
        try file.text.write(toFile: temporary, atomically: false, encoding: .utf8)
        usleep(10_000)
        try #require(rename(temporary, workspace.inbox + "/" + file.name) == 0)
    }

    static func once(_ waves: [[ModelHistory.AudienceFile]]) async throws -> Result {
        try await TikTokEmulator.withRunning(emulatorConfiguration) { emulator in
            let workspace = try Self.workspace(emulator)
            for wave in waves {
                for file in wave { try Self.upload(file, to: workspace) }
                let result = try await workspace.once()
                #expect(result.status == 0 || result.status == 65, "\(result.output)")
            }
            return await Self.result(workspace, emulator)
        }
    }

    static func run(_ waves: [[ModelHistory.AudienceFile]]) async throws -> Result {
        try await TikTokEmulator.withRunning(emulatorConfiguration) { emulator in
            let workspace = try Self.workspace(emulator)
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try RunningCommand(
                ["run", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "NOTIFY_SOCKET": notify.path])
            #expect(await notify.waitFor { messages in messages.contains("READY=1") })
            var dropped = 0
            for wave in waves {
                for file in wave { try Self.upload(file, to: workspace) }
                dropped += wave.count
                let expected = dropped
                // Done when every file has its receipt and `status` says all is confirmed (the status
                // line alone can read "idle, 0 pending" between a file's planning and the next pass).
                #expect(await eventually(timeout: .seconds(60)) {
                    guard workspace.files(under: "inbox").isEmpty && Self.receipts(workspace).count == expected else { return false }
                    return (try? await runCommand(["status", "--config", workspace.configPath]).status) == 0
                })
            }
            daemon.signal(SIGTERM)
            let stopped = await daemon.wait()
            #expect(stopped.status == 0, "\(stopped.output.suffix(2_000))")
            return await Self.result(workspace, emulator)
        }
    }

    static func receipts(_ workspace: Workspace) -> [String] {
        workspace.receiptFiles().filter { !($0 as NSString).lastPathComponent.hasPrefix(".") }
    }

    static func result(_ workspace: Workspace, _ emulator: RunningEmulator) async -> Result {
        var membership: [String: Set<EmulatorMember>] = [:]
        for segment in ModelHistory.segments {
            let members = await emulator.state.members(of: segment)
            if !members.isEmpty { membership[segment] = members }
        }
        var outcomes: [String: String] = [:]
        for path in receipts(workspace) {
            guard let data = FileManager.default.contents(atPath: workspace.state + "/receipts/" + path),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let file = object["file"] as? String, let outcome = object["outcome"] as? String
            else { continue }
            outcomes[file] = outcome
        }
        return Result(membership: membership, outcomes: outcomes)
    }
}
