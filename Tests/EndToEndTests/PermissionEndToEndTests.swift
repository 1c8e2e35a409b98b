import Foundation
import Testing
import TikTokEmulator
import TestFixtures

/// Commands run by root, and by other users, against a state directory the service's user owns.
/// The service's user is a uid without a user entry (as under systemd's DynamicUser=), so that
/// the test adds no user to the machine. Needs root (to own files as another uid) and setpriv.
@Suite(
    "Permissions: no command leaves root's files in the service's state directory",
    .serialized, .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
struct PermissionEndToEndTests {
    static let service: uid_t = 54_321
    static let stranger: uid_t = 54_322

    /// A workspace whose inbox and state directory belong to the service's uid, with the token in
    /// a file only root may read (as the guide sets it up).
    func serviceWorkspace(_ emulator: RunningEmulator) throws -> Workspace {
        let workspace = try Workspace(emulator: emulator)
        chmod(workspace.root, 0o755)
        let tokenFile = workspace.root + "/token"
        try "emulator-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        chmod(tokenFile, 0o600)
        let yaml = try String(contentsOfFile: workspace.configPath, encoding: .utf8)
        try yaml.replacingOccurrences(of: "\ntiktok:\n", with: "\ntiktok:\n  access_token_file: \(tokenFile)\n")
            .write(toFile: workspace.configPath, atomically: true, encoding: .utf8)
        chmod(workspace.configPath, 0o644)
        try FileManager.default.createDirectory(atPath: workspace.state, withIntermediateDirectories: true)
        chown(workspace.state, Self.service, Self.service)
        chown(workspace.inbox, Self.service, Self.service)
        return workspace
    }

    /// Every path below `folder` that does not belong to `uid`, but for the uploads it archived
    /// (a move keeps the uploader's ownership).
    func notOwned(by uid: uid_t, under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [folder] }
        return walker.compactMap { $0 as? String }.filter { $0 != "archive/acme/add.csv" }.filter { name in
            var info = stat()
            return lstat(folder + "/" + name, &info) == 0 && info.st_uid != uid
        }
    }

    /// The built executable run as `uid` (its own group, no others).
    func run(as uid: uid_t, _ arguments: [String]) async throws -> CommandResult {
        try await ToolProcess(
            "/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", Binary.path] + arguments
        ).wait()
    }

    @Test("root's once, status and check act as the owner: every file they make is the service's, the root-only token is still read")
    func rootActsAsOwner() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try serviceWorkspace(emulator)
            try workspace.drop("acme/add.csv", "email_hash,segment_id\n\(sha256Hex("owner@example.com")),123456\n")
            // The partner's folder, which the service may write to (in the guide: acme:tiktok-audience-sync 2770).
            chown(workspace.inbox + "/acme", Self.service, Self.service)
            let once = try await workspace.once(token: nil)
            #expect(once.status == 0, "\(once.output)")
            #expect(once.stderr.contains("acting as uid \(Self.service), the owner of \(workspace.state)"), "\(once.stderr)")
            #expect(await emulator.state.members(of: "123456").count == 1, "the token only root may read was read before")
            let status = try await runCommand(["status", "--config", workspace.configPath])
            #expect(status.status == 0, "\(status.output)")
            #expect(notOwned(by: Self.service, under: workspace.state).isEmpty, "\(notOwned(by: Self.service, under: workspace.state))")
            #expect(workspace.files(under: "state/archive") .count == 1)

            // The daemon, as its own user, goes on where root's runs left off.
            try workspace.drop("acme/remove.csv", "email_hash,segment_id,action\n\(sha256Hex("owner@example.com")),123456,remove\n")
            let daemonOnce = try await ToolProcess(
                "/usr/bin/setpriv", ["--reuid=\(Self.service)", "--regid=\(Self.service)", "--clear-groups", Binary.path, "once", "--config", workspace.configPath],
                environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            ).wait()
            #expect(daemonOnce.status == 0, "\(daemonOnce.output)")
            #expect(await emulator.state.members(of: "123456").isEmpty)

            // check, run by root, checks what the service's user can do.
            chmod(workspace.inbox, 0o700)
            chown(workspace.inbox, 0, 0)
            let check = try await runCommand(["check", "--config", workspace.configPath])
            #expect(check.status == 78, "\(check.output)")
            #expect(check.stdout.contains("\(workspace.inbox) is not writable by uid \(Self.service)"), "\(check.stdout)")
            #expect(check.stdout.contains("\(workspace.state) is writable by uid \(Self.service)"), "\(check.stdout)")
        }
    }

    @Test("another user who cannot read there is refused with the exact command; a folder root left behind is refused with the chown")
    func othersAreToldWhatToRun() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try serviceWorkspace(emulator)
            chmod(workspace.state, 0o750)  // as the package makes it
            let refused = try await run(as: Self.stranger, ["status", "--config", workspace.configPath])
            #expect(refused.status == 78, "\(refused.output)")
            #expect(
                refused.stderr.contains("run: sudo -u '#\(Self.service)' \(Binary.path) status --config \(workspace.configPath)"),
                "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: workspace.state + "/ledger.sqlite"), "nothing was created")

            // An earlier root run (before this version) left archive/acme as root's.
            try FileManager.default.createDirectory(atPath: workspace.state + "/archive/acme", withIntermediateDirectories: true)
            chown(workspace.state + "/archive", Self.service, Self.service)
            chmod(workspace.state + "/archive/acme", 0o755)
            let blocked = try await run(as: Self.service, ["once", "--config", workspace.configPath])
            #expect(blocked.status == 78, "\(blocked.output)")
            #expect(
                blocked.stderr.contains("cannot write to \(workspace.state)/archive/acme") &&
                    blocked.stderr.contains("run as root: chown -R \(Self.service):\(Self.service) \(workspace.state)"),
                "\(blocked.stderr)")
        }
    }

    @Test("a file applied while its folder refused the move gets, once moved, a receipt with its change per segment")
    func receiptAfterAPermissionError() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let workspace = try serviceWorkspace(emulator)
            // The partner's folder is readable but not writable by the service: the file is read
            // and applied, then cannot be moved out of the inbox.
            try workspace.drop("acme/add.csv", "email_hash,segment_id\n\(sha256Hex("moved@example.com")),123456\n")
            let environment = ["TIKTOK_ACCESS_TOKEN": "emulator-token"]
            let arguments = ["--reuid=\(Self.service)", "--regid=\(Self.service)", "--clear-groups", Binary.path, "once", "--config", workspace.configPath]
            let refused = try await ToolProcess("/usr/bin/setpriv", arguments, environment: environment).wait()
            #expect(refused.status == 78, "\(refused.output)")
            #expect(refused.output.contains("Permission denied"), "\(refused.output)")
            #expect(await emulator.state.members(of: "123456").count == 1, "applied and sent though not moved")

            chown(workspace.inbox + "/acme", Self.service, Self.service)
            let mended = try await ToolProcess("/usr/bin/setpriv", arguments, environment: environment).wait()
            #expect(mended.status == 0, "\(mended.output)")
            let receipt = try #require(workspace.receiptFiles().first)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: workspace.state + "/receipts/" + receipt))) as? [String: Any]
            let segments = json?["segments"] as? [String: [String: Int]]
            #expect(segments?["123456"]?["adds"] == 1, "\(String(describing: json))")
            #expect(json?["outcome"] as? String == "applied")
        }
    }
}
