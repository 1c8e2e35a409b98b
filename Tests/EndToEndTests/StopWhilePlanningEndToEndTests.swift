import Foundation
import Testing
import TikTokEmulator
import TestFixtures

@Suite("a stop never waits for a large file to be planned", .serialized)
struct StopWhilePlanningEndToEndTests {
    static let rows = 6_000_000
    static let distinctMembers = 2_000

    /// 6M rows of plain emails (each hashed as it is read): seconds of planning on any machine,
    /// over a few distinct members, so that applying it in the end costs TikTok little.
    static func writeLargeFile(to path: String) async throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let written = await onOwnThread {
            let block = Data((0..<distinctMembers).map { "member\($0)@example.com,123456\n" }.joined().utf8)
            guard FileManager.default.createFile(atPath: path, contents: Data("email,segment_id\n".utf8)),
                let handle = FileHandle(forWritingAtPath: path)
            else { return false }
            handle.seekToEndOfFile()
            for _ in 0..<(rows / distinctMembers) { handle.write(block) }
            handle.closeFile()
            return true
        }
        try #require(written)
    }

    static var expectedMembers: Set<String> {
        Set((0..<distinctMembers).map { sha256Hex("member\($0)@example.com") })
    }

    @Test("SIGTERM while a 6M-row file is planned: run exits 0, once exits 75, the file stays; the next run applies it exactly")
    func stopWhilePlanning() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try Workspace(emulator: emulator)
            try await Self.writeLargeFile(to: workspace.inbox + "/acme/large.csv")
            let notify = try NotifyListener(directory: workspace.root)
            let daemon = try RunningCommand(
                ["run", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token", "NOTIFY_SOCKET": notify.path])
            #expect(await notify.waitFor { messages in messages.contains { $0.hasPrefix("STATUS=planning acme/large.csv") } })
            try await Task.sleep(for: .milliseconds(500))
            daemon.signal(SIGTERM)
            let stopped = ContinuousClock.now
            let result = await daemon.wait()
            let took = ContinuousClock.now - stopped
            #expect(result.status == 0, "\(result.output.suffix(2_000))")
            // Planning gave up: had the daemon waited for it, the file would be archived by now.
            #expect(workspace.files(under: "inbox") == ["acme/large.csv"], "stopped after \(took)")
            #expect(workspace.files(under: "state/archive").isEmpty)
            #expect(await emulator.state.mappingRequestCount == 0)

            // `once` stopped the same way: 75 (work left), the file still waits.
            let once = try RunningCommand(["once", "--config", workspace.configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
            try await Task.sleep(for: .milliseconds(1_500))
            once.signal(SIGTERM)
            let onceResult = await once.wait()
            #expect(onceResult.status == 75, "\(onceResult.output.suffix(2_000))")
            #expect(workspace.files(under: "inbox") == ["acme/large.csv"])

            // The next run takes the file whole, and TikTok ends as it says.
            let final = try await workspace.once()
            #expect(final.status == 0, "\(final.output.suffix(2_000))")
            #expect(workspace.files(under: "inbox").isEmpty)
            #expect(Set(await emulator.state.members(of: "123456").map(\.id)) == Self.expectedMembers)
        }
    }
}
