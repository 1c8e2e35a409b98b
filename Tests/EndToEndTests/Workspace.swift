import Foundation
import TikTokEmulator

/// A temporary inbox, state directory and configuration pointed at a running emulator.
final class Workspace {
    let root: String
    var inbox: String { root + "/inbox" }
    var state: String { root + "/state" }
    var configPath: String { root + "/config.yaml" }

    init(emulator: RunningEmulator, settle: String = "0", extraYAML: String = "", tiktokYAML: String = "") throws {
        let template = NSTemporaryDirectory() + "audience-sync-e2e-XXXXXX"
        var bytes = Array(template.utf8CString)
        guard let made = mkdtemp(&bytes) else { throw CocoaError(.fileWriteUnknown) }
        root = String(cString: made)
        try FileManager.default.createDirectory(atPath: root + "/inbox", withIntermediateDirectories: true)
        let yaml = """
            inbox: \(root)/inbox
            state_directory: \(root)/state
            settle_seconds: \(settle)
            tiktok:
              base_url: \(emulator.baseURL)
              advertiser_id: "7000000000000000001"
              requests_per_second: 500
              initial_backoff_ms: 5
            \(tiktokYAML.contains("request_timeout_seconds") ? "" : "  request_timeout_seconds: 30")
            \(tiktokYAML)
            \(extraYAML)
            """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Keeps the folder after the test (for a failure to be looked into).
    var keep = false

    deinit { if !keep { try? FileManager.default.removeItem(atPath: root) } }

    /// Drops a file into the inbox with a modification time `age` seconds in the past, so that
    /// arrival order is explicit.
    @discardableResult
    func drop(_ relativePath: String, _ text: String, age: Double = 0) throws -> String {
        try drop(relativePath, bytes: Array(text.utf8), age: age)
    }

    @discardableResult
    func drop(_ relativePath: String, bytes: [UInt8], age: Double = 0) throws -> String {
        try drop(relativePath, bytes: bytes, modified: Date().addingTimeInterval(-age - 10))
    }

    /// Drops a file with this modification time: its place in the arrival order.
    @discardableResult
    func drop(_ relativePath: String, _ text: String, modified: Date) throws -> String {
        try drop(relativePath, bytes: Array(text.utf8), modified: modified)
    }

    @discardableResult
    func drop(_ relativePath: String, bytes: [UInt8], modified: Date) throws -> String {
        // Arrival is the change time when first seen, which the kernel keeps in clock ticks of a
        // few milliseconds: files dropped one after the other arrive one after the other.
        usleep(10_000)
        let path = inbox + "/" + relativePath
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: path)
        return path
    }

    func files(under folder: String) -> [String] {
        let base = root + "/" + folder
        guard let walker = FileManager.default.enumerator(atPath: base) else { return [] }
        return walker.compactMap { $0 as? String }.filter { name in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: base + "/" + name, isDirectory: &isDirectory) && !isDirectory.boolValue
        }.sorted()
    }

    /// The receipts below `state/receipts`, not the temporary file a receipt is written to before
    /// it is renamed into place (a running daemon rewrites a receipt when TikTok confirms its file).
    func receiptFiles() -> [String] {
        files(under: "state/receipts").filter { path in
            path.hasSuffix(".json") && !(path.split(separator: "/").last ?? "").hasPrefix(".")
        }
    }

    /// For tests that wait for rechecks: requests time out after 3 s, and members of a request
    /// without a sure answer are sent again 3 s after it.
    static let quickRecheckYAML = "  request_timeout_seconds: 3\n  resend_unanswered_after_seconds: 3"

    /// `once`, run again while it exits 75 only because changes that got no sure answer wait for
    /// their recheck (``quickRecheckYAML``): what a cron job sees over its next runs.
    func onceUntilRechecked(token: String? = "emulator-token") async throws -> CommandResult {
        var result = try await once(token: token)
        for _ in 0..<4 where result.status == 75 && result.output.contains("got no sure answer") {
            try await Task.sleep(for: .milliseconds(3_200))
            result = try await once(token: token)
        }
        return result
    }

    /// Starts `once` and sends it `signal` as soon as TikTok has a request it did not have before.
    func once(signalledAtNextRequest signal: Int32, of emulator: RunningEmulator) async throws -> CommandResult {
        let before = await emulator.state.mappingRequestCount
        let process = try RunningCommand(["once", "--config", configPath], environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
        _ = await emulator.state.waitUntil(timeout: .seconds(60)) { $0.mappingRequestCount != before }
        process.signal(signal)
        return await process.wait()
    }

    func once(token: String? = "emulator-token", extraArguments: [String] = []) async throws -> CommandResult {
        var environment: [String: String] = [:]
        if let token { environment["TIKTOK_ACCESS_TOKEN"] = token }
        return try await runCommand(["once", "--config", configPath] + extraArguments, environment: environment)
    }
}
