import AudienceConfig
import AudienceReading
import AudienceSupport

// Partners upload through a real OpenSSH server, set up the way docs/operations.md tells operators
// to: scripts/add-partner creates the partner, the project's own sshd drop-in
// (etc/sshd_config.d/audience-partners.conf) confines it, and the OpenSSH `sftp` client uploads.
//
// How it is put together, and why:
//
// * scripts/sftp-test-harness does the root-only setup and runs sshd. It re-executes itself under
//   `unshare --mount --propagation private`, so the bind mounts of upload/ and receipts/ into the
//   chroot exist only in that private mount namespace and vanish with it; nothing is mounted on the
//   host. The network namespace is shared, so sshd listens on 127.0.0.1:PORT for clients started
//   from here.
// * Users cannot be namespaced, and sshd needs real ones: the harness runs in a box of its own
//   (scripts/systemd-box, a Debian container that shares this machine's network), where it
//   creates, with unique names, a partners group (the drop-in's `Match Group sftp-partners`,
//   rewritten), the daemon's system user (as scripts/install would) and, through
//   scripts/add-partner, the partner; they exist in the box only and go with it. The workspace and
//   the work folder are bound into the box at the same paths.
// * sshd demands that every component of a chroot path be root-owned and not group/other-writable,
//   which rules out /tmp and /var/tmp (1777). The chroots, keys, sshd_config and sshd.log live in a
//   root-owned 0755 folder under /run (/run/audience-sftp-e2e.XXXXXX), removed at the end. sshd also
//   needs /run/sshd; the harness creates it if missing and removes what it created.
// * The drop-in is used verbatim except for three rewrites (chroot root, AuthorizedKeysFile folder,
//   group name), which the harness checks took effect, so a change to the drop-in is exercised here.
//   The surrounding sshd_config is laid out like Debian's (drop-ins included first) with UsePAM no,
//   so no PAM stack is needed in CI (add-partner's '*' password is what makes that work).
// * The daemon runs outside the namespace: the inbox folders are ordinary host directories, bind-
//   mounted into the chroot only inside the namespace, so it watches the very files sshd writes. It
//   runs as the unprivileged daemon user (setpriv, umask 0027 like the unit's UMask=), so the file
//   modes and groups that add-partner and `internal-sftp -u 0007` produce are really tested: as root,
//   every permission problem would be invisible. If that user cannot execute the built binary (a
//   checkout under /root, say), the daemon runs as root instead and the mode checks are skipped.
//
// Skipped unless root with the box's tools (systemd-nspawn, debootstrap), sftp, ssh, ssh-keygen and
// setpriv; scripts/install-dependencies installs them, and CI runs as root. The daemon runs here
// as the box's user id, so the file modes and groups are checked as they are.
import Foundation
import Glibc
import Testing
import TestFixtures
import TikTokEmulator

@Suite(
    "sftp: partners upload through a real OpenSSH server into a chroot",
    .serialized,
    .enabled(if: SFTPTestEnvironment.isUsable, "needs root, the systemd box (systemd-nspawn, debootstrap), sftp, ssh and setpriv")
)
struct SFTPEndToEndTests {
    static let segment = "123456"

    func csv(_ people: [String]) -> String {
        "email_hash,segment_id\n" + people.map { "\($0),\(Self.segment)\n" }.joined()
    }

    func hashes(_ prefix: String, _ count: Int) -> [String] { (0..<count).map { sha256Hex("\(prefix)\($0)@example.com") } }

    func makeWorkspace(_ emulator: RunningEmulator, partner: String) throws -> Workspace {
        try Workspace(
            emulator: emulator, settle: "0.5",
            extraYAML: """
                rescan_seconds: 2
                incomplete_upload_seconds: 2
                partners:
                  \(partner):
                    segments: ["\(Self.segment)"]
                """)
    }

    @Test("put as .part, rename: the daemon applies it, and the partner fetches its receipt over sftp")
    func uploadRenameAndReceipt() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let partner = SFTPServer.uniquePartnerName()
            let workspace = try makeWorkspace(emulator, partner: partner)
            try await SFTPServer.with(workspace: workspace, partner: partner) { server in
                try await server.withDaemon { daemon in
                    // The upload, exactly as docs/operations.md tells partners (the session starts in
                    // upload/: `internal-sftp -d /upload`).
                    let people = hashes("sftp", 5)
                    let text = csv(people)
                    let local = try server.localFile("data.csv", text, mode: 0o644)
                    let upload = try await server.sftp(["pwd", "put \(local) .data.csv.part", "rename .data.csv.part data.csv"])
                    #expect(upload.status == 0, "\(upload.output)")
                    #expect(upload.stdout.contains("Remote working directory: /upload"), "\(upload.output)")

                    let synced = await eventually { await emulator.state.members(of: Self.segment).map(\.id).sorted() == people.sorted() }
                    let memberCount = await emulator.state.members(of: Self.segment).count
                    #expect(synced, "membership: \(memberCount) of \(people.count); daemon: \(daemon.outputSoFar)")

                    let fingerprint = sha256Hex(text)
                    let receiptName = "data.csv.\(fingerprint.prefix(12)).json"
                    let receiptOnDisk = workspace.state + "/receipts/\(partner)/" + receiptName
                    let confirmed = await eventually {
                        ((try? String(contentsOfFile: receiptOnDisk, encoding: .utf8)) ?? "").contains("confirmed_at")
                    }
                    #expect(confirmed, "receipts: \(workspace.receiptFiles()); daemon: \(daemon.outputSoFar)")

                    // What the upload became: taken out of upload/, archived with the mode and group
                    // that `-u 0007` and the setgid inbox folder give it.
                    #expect(!FileManager.default.fileExists(atPath: workspace.inbox + "/\(partner)/data.csv"))
                    let archived = workspace.files(under: "state/archive").filter { $0.hasPrefix("\(partner)/data.csv") }
                    #expect(archived.count == 1, "\(workspace.files(under: "state"))")
                    if let archived = archived.first {
                        var info = stat()
                        #expect(stat(workspace.state + "/archive/" + archived, &info) == 0)
                        #expect(info.st_mode & 0o777 == 0o640, "mode \(String(info.st_mode & 0o777, radix: 8))")
                        #expect(info.st_gid == server.daemonGroupID, "group \(info.st_gid)")
                    }

                    // The partner fetches its receipt from the read-only receipts/ folder.
                    let fetched = server.workDirectory + "/fetched-receipt.json"
                    let listing = try await server.sftp(["ls -l /receipts", "get /receipts/\(receiptName) \(fetched)"])
                    #expect(listing.status == 0, "\(listing.output)")
                    #expect(listing.stdout.contains(receiptName), "\(listing.output)")
                    let receipt = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fetched))) as? [String: Any]
                    #expect(receipt?["outcome"] as? String == "applied", "\(String(describing: receipt))")
                    #expect(receipt?["file"] as? String == "\(partner)/data.csv")
                    #expect(receipt?["partner"] as? String == partner)
                    #expect(receipt?["fingerprint"] as? String == fingerprint)
                    #expect(receipt?["confirmed_at"] != nil)

                    // A file the daemon cannot read (OpenSSH's put keeps a local 0600) stays in
                    // upload/ with a warning until the partner chmods it, as the guide says.
                    if daemon.runsAsDaemonUser {
                        let more = hashes("private", 2)
                        let privateFile = try server.localFile("private.csv", csv(people + more), mode: 0o600)
                        let sent = try await server.sftp(["put \(privateFile) .private.csv.part", "rename .private.csv.part private.csv"])
                        #expect(sent.status == 0, "\(sent.output)")
                        let warned = await eventually(timeout: .seconds(10)) { daemon.outputSoFar.contains("file=\(partner)/private.csv") }
                        #expect(warned, "\(daemon.outputSoFar)")
                        #expect(daemon.outputSoFar.contains("cannot read"), "\(daemon.outputSoFar)")
                        #expect(FileManager.default.fileExists(atPath: workspace.inbox + "/\(partner)/private.csv"))
                        #expect(await emulator.state.members(of: Self.segment).count == people.count)
                        let fixed = try await server.sftp(["chmod 640 private.csv"])
                        #expect(fixed.status == 0, "\(fixed.output)")
                        let applied = await eventually(timeout: .seconds(10)) { await emulator.state.members(of: Self.segment).count == people.count + more.count }
                        #expect(applied, "\(daemon.outputSoFar)")
                    }
                }
            }
        }
    }

    @Test("the partner is confined: no writes outside upload/, receipts/ read-only, no shell, no password")
    func confinement() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let partner = SFTPServer.uniquePartnerName()
            let workspace = try makeWorkspace(emulator, partner: partner)
            try await SFTPServer.with(workspace: workspace, partner: partner) { server in
                let local = try server.localFile("probe.csv", csv(hashes("probe", 1)), mode: 0o644)
                let listing = try await server.sftp(["ls -a /"])
                #expect(listing.status == 0, "\(listing.output)")
                let entries = listing.stdout.split(separator: "\n").filter { !$0.hasPrefix("sftp>") }.flatMap { $0.split(separator: " ") }
                #expect(Set(entries) == ["/.", "/..", "/receipts", "/upload"], "the chroot shows only upload/ and receipts/: \(listing.output)")
                // `-` lets sftp's batch mode carry on after a command fails.
                let result = try await server.sftp([
                    "-put \(local) /escape.csv",
                    "-put \(local) /receipts/forged.json",
                    "-mkdir /receipts/forged",
                    "-get /etc/passwd \(server.workDirectory)/leaked-passwd",
                    "-cd /..",
                    "pwd",
                ])
                #expect(result.status == 0, "\(result.output)")
                #expect(result.stderr.contains("dest open \"/escape.csv\": Permission denied"), "\(result.output)")
                #expect(result.stderr.contains("\"/receipts/forged.json\""), "\(result.output)")
                #expect(!FileManager.default.fileExists(atPath: server.workDirectory + "/leaked-passwd"))
                #expect(result.stdout.contains("Remote working directory: /\n"), "cd .. stays in the chroot: \(result.output)")
                let chroot = server.workDirectory + "/sftp/\(partner)"
                #expect(!FileManager.default.fileExists(atPath: chroot + "/escape.csv"))
                #expect(workspace.receiptFiles().isEmpty)

                // ForceCommand internal-sftp: a command is never run.
                let shell = try await server.ssh(["echo", "shell-access-granted"])
                #expect(shell.status != 0 && !shell.output.contains("shell-access-granted"), "\(shell.output)")
                // Keys only.
                let password = try await server.ssh(
                    ["true"], options: ["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"])
                #expect(password.status == 255 && password.stderr.contains("Permission denied"), "\(password.output)")
                // No forwarding (here: stdio forwarding to sshd's own port).
                let forward = try await server.ssh([], options: ["-W", "127.0.0.1:\(server.port)"])
                #expect(forward.status == 255 && forward.stderr.contains("forwarding failed"), "\(forward.output)")
            }
        }
    }

    @Test("an sftp upload killed half-way under the final name is never applied")
    func killedUpload() async throws {
        try await TikTokEmulator.withRunning { emulator in
            let partner = SFTPServer.uniquePartnerName()
            let workspace = try makeWorkspace(emulator, partner: partner)
            try await SFTPServer.with(workspace: workspace, partner: partner) { server in
                try await server.withDaemon { daemon in
                    // 10,000 rows (100 members over and over) of 72 bytes after a 22-byte header.
                    // sftp writes whole 32 KiB blocks in order (-B), and no multiple of 32768 is
                    // 22 + 72 k (mod 8 it is 6), so the cut file never ends in a newline. At -l 1000
                    // (kbit/s) the whole file would take about 6 s; it is killed after 64 KiB.
                    let distinct = hashes("killed", 100)
                    let people = (0..<10_000).map { distinct[$0 % distinct.count] }
                    let local = try server.localFile("big.csv", csv(people), mode: 0o644)
                    let sftp = try server.startSFTP(["put \(local) big.csv"], options: ["-B", "32768", "-l", "1000"])
                    let inboxFile = workspace.inbox + "/\(partner)/big.csv"
                    let started = await eventually(timeout: .seconds(20)) {
                        ((try? FileManager.default.attributesOfItem(atPath: inboxFile)[.size] as? Int) ?? 0) >= 65_536
                    }
                    sftp.signal(SIGKILL)
                    let killed = await sftp.wait()
                    #expect(started, "the upload never got going: \(killed.output)")
                    let size = (try? FileManager.default.attributesOfItem(atPath: inboxFile)[.size] as? Int) ?? 0
                    #expect(size > 0 && size < csv(people).utf8.count, "a partial file is left under the final name (\(size) bytes)")

                    // incomplete_upload_seconds is 2: it goes to rejected/ as incomplete, untouched.
                    let rejected = await eventually { workspace.files(under: "state/rejected").contains("\(partner)/big.csv") }
                    #expect(rejected, "\(workspace.files(under: "state")); daemon: \(daemon.outputSoFar)")
                    #expect(await emulator.state.mappingRequestCount == 0)
                    #expect(await emulator.state.members(of: Self.segment).isEmpty)
                    // The receipt is written just after the move (as NAME.json.tmp-PID, then renamed).
                    let receipts: () -> [String] = { workspace.files(under: "state/receipts/\(partner)").filter { $0.hasSuffix(".json") } }
                    #expect(await eventually { receipts().count == 1 }, "\(workspace.receiptFiles())")
                    #expect(receipts().allSatisfy { $0.hasPrefix("big.csv") }, "\(receipts())")
                    if let name = receipts().first {
                        let fetched = server.workDirectory + "/incomplete-receipt.json"
                        let got = try await server.sftp(["get /receipts/\(name) \(fetched)"])
                        #expect(got.status == 0, "\(got.output)")
                        let receipt = try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fetched))) as? [String: Any]
                        #expect(receipt?["outcome"] as? String == "incomplete", "\(String(describing: receipt))")
                    }
                }
            }
        }
    }
}

// MARK: - The environment

enum SFTPTestEnvironment {
    static let sshd = "/usr/sbin/sshd"
    static let harness = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/sftp-test-harness").path

    /// Where the chroots go: every component up to / must be root-owned and not group/other-writable.
    static let parent = "/run"

    static func tool(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in path + ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static var isUsable: Bool {
        guard SystemdBox.isUsable, FileManager.default.isExecutableFile(atPath: harness) else { return false }
        guard ["sftp", "ssh", "ssh-keygen", "setpriv"].allSatisfy({ tool($0) != nil }) else { return false }
        var info = stat()
        return stat(parent, &info) == 0 && info.st_uid == 0 && info.st_mode & 0o022 == 0
    }
}

// MARK: - sshd with one partner, through scripts/sftp-test-harness

final class SFTPServer: @unchecked Sendable {
    let workDirectory: String
    let port: Int
    let partner: String
    let workspace: Workspace
    private(set) var daemonUser = ""
    /// The daemon's user and groups, as numbers: the user exists in the box, not here.
    private(set) var daemonUserID: uid_t = 0
    private(set) var daemonGroupID: gid_t = 0
    private(set) var daemonGroups: [gid_t] = []
    private let harness: ToolProcess

    var key: String { workDirectory + "/partner_key" }

    /// A partner name that is also a fresh Unix user name ("e2e" and six random letters or digits).
    static func uniquePartnerName() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return "e2e" + String((0..<6).map { _ in alphabet.randomElement()! })
    }

    /// Starts the harness (sshd, users, chroot) for `partner` in a box of its own, runs `body`, and
    /// always tears it down. The users and sshd exist in the box only; the workspace and the work
    /// folder are bound into it at the same paths, so the daemon here watches the files sshd writes.
    static func with<T>(workspace: Workspace, partner: String, _ body: (SFTPServer) async throws -> T) async throws -> T {
        var template = Array((SFTPTestEnvironment.parent + "/audience-sftp-e2e.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SFTPTestError("mkdtemp under \(SFTPTestEnvironment.parent): \(String(cString: strerror(errno)))") }
        let shared = String(cString: made)
        chmod(shared, 0o755)
        defer { try? FileManager.default.removeItem(atPath: shared) }
        // The daemon's user must reach the inbox, the state directory and the configuration.
        chmod(workspace.root, 0o755)
        return try await SystemdBox.with(binds: [workspace.root, shared], readOnlyBinds: [DeploymentFixture.repositoryRoot]) { box in
            var server: SFTPServer
            var attempt = 1
            while true {
                do {
                    server = try await SFTPServer(box: box, workDirectory: shared + "/\(attempt)", workspace: workspace, partner: partner)
                    break
                } catch let error as SFTPTestError where error.description.contains("Address already in use") && attempt < 3 {
                    attempt += 1  // Someone took the free port before sshd did: another one.
                }
            }
            let result: T
            do {
                result = try await body(server)
            } catch {
                _ = await server.stop()
                throw error
            }
            let stopped = await server.stop()
            #expect(stopped.status == 0, "the harness failed to clean up: \(stopped.output)")
            return result
        }
    }

    private init(box: SystemdBox, workDirectory: String, workspace: Workspace, partner: String) async throws {
        self.workspace = workspace
        self.partner = partner
        self.workDirectory = workDirectory
        try FileManager.default.createDirectory(atPath: workDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        port = try freeLoopbackPort()
        do {
            harness = try ToolProcess(
                SystemdBox.script,
                [
                    "exec", box.name, "/bin/bash", SFTPTestEnvironment.harness, "--work-dir", workDirectory, "--port", "\(port)",
                    "--partner", partner, "--inbox-root", workspace.inbox, "--state-directory", workspace.state,
                    "--segments", SFTPEndToEndTests.segment,
                ], keepInputOpen: true)
        } catch {
            try? FileManager.default.removeItem(atPath: workDirectory)
            throw error
        }
        let harness = self.harness
        let ready = await eventually(timeout: .seconds(60)) { harness.outputSoFar.contains("READY") || !harness.isRunning }
        guard ready, let line = harness.outputSoFar.split(separator: "\n").first(where: { $0.hasPrefix("READY") }) else {
            let result = await stop()
            throw SFTPTestError("the harness did not get sshd going (status \(result.status)):\n\(result.output)")
        }
        daemonUser = String(line.split(separator: "=").last ?? "")
        let ids = try await box.shell("id -u \(daemonUser) && id -g \(daemonUser) && id -G \(daemonUser)")
        let lines = ids.stdout.split(separator: "\n")
        guard ids.status == 0, lines.count == 3, let user = uid_t(lines[0]), let group = gid_t(lines[1]) else {
            _ = await stop()
            throw SFTPTestError("no user \(daemonUser) in the box: \(ids.output)")
        }
        daemonUserID = user
        daemonGroupID = group
        daemonGroups = lines[2].split(separator: " ").compactMap { gid_t($0) }
        // As scripts/install leaves it: root:<daemon group> 0640.
        chown(workspace.configPath, 0, daemonGroupID)
        chmod(workspace.configPath, 0o640)
        // Pin sshd's host key instead of trusting whatever answers.
        let hostKey = try String(contentsOfFile: workDirectory + "/ssh_host_ed25519_key.pub", encoding: .utf8)
        try "[127.0.0.1]:\(port) \(hostKey)".write(toFile: workDirectory + "/known_hosts", atomically: true, encoding: .utf8)
    }

    /// Closes the harness's standard input (it then stops sshd, deletes the users and groups,
    /// unmounts and deletes the work folder) and waits for it. Should the harness not have deleted
    /// the work folder, deleting it from here is safe: the bind mounts exist only in the harness's
    /// namespace, so here the mount points are empty folders.
    func stop() async -> CommandResult {
        harness.closeInput()
        let result = await harness.wait(timeout: .seconds(60))
        try? FileManager.default.removeItem(atPath: workDirectory)
        return result
    }

    /// A file to upload, in the work folder, with the given mode (OpenSSH's put sends it along).
    func localFile(_ name: String, _ text: String, mode: mode_t) throws -> String {
        let path = workDirectory + "/local-" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    var clientOptions: [String] {
        [
            "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=\(workDirectory)/known_hosts",
            "-o", "ConnectTimeout=10",
        ]
    }

    /// Starts `sftp` in batch mode with these commands, as the partner.
    func startSFTP(_ commands: [String], options: [String] = []) throws -> ToolProcess {
        let batch = workDirectory + "/batch-\(UUID().uuidString)"
        try (commands.joined(separator: "\n") + "\n").write(toFile: batch, atomically: true, encoding: .utf8)
        return try ToolProcess(
            SFTPTestEnvironment.tool("sftp")!,
            clientOptions + options + ["-P", "\(port)", "-b", batch, "\(partner)@127.0.0.1"])
    }

    func sftp(_ commands: [String], options: [String] = []) async throws -> CommandResult {
        try await startSFTP(commands, options: options).wait(timeout: .seconds(30))
    }

    func ssh(_ command: [String], options: [String] = []) async throws -> CommandResult {
        try await ToolProcess(
            SFTPTestEnvironment.tool("ssh")!,
            clientOptions + options + ["-p", "\(port)", "\(partner)@127.0.0.1"] + command
        ).wait(timeout: .seconds(30))
    }

    /// Runs the daemon (`run`) for the body, as the daemon user if it can execute the binary, and
    /// stops it with SIGTERM afterwards (expecting exit 0), or with SIGKILL if the body threw.
    func withDaemon<T>(_ body: (DaemonProcess) async throws -> T) async throws -> T {
        let setpriv = SFTPTestEnvironment.tool("setpriv")!
        let groups = daemonGroups.map(String.init).joined(separator: ",")
        let asUser = [setpriv, "--reuid=\(daemonUserID)", "--regid=\(daemonGroupID)", "--groups=\(groups)", "--"]
        // UMask=0027 as in the unit. The probe goes through the same sh: setpriv keeps root's
        // capabilities until its own execve, so it can start a binary the user cannot reach.
        let shell = ["/bin/sh", "-c", "umask 0027 && exec \"$0\" \"$@\"", Binary.path]
        let probe = try await ToolProcess(asUser[0], Array(asUser.dropFirst()) + shell + ["--version"]).wait(timeout: .seconds(30))
        let runsAsDaemonUser = probe.status == 0
        if !runsAsDaemonUser {
            print("SFTPEndToEndTests: \(daemonUser) cannot run \(Binary.path) (\(probe.output.trimmingCharacters(in: .whitespacesAndNewlines))); the daemon runs as root and file modes go unchecked")
        }
        let daemonCommand = shell + ["run", "--config", workspace.configPath]
        let command = runsAsDaemonUser ? asUser + daemonCommand : daemonCommand
        let process = try ToolProcess(command[0], Array(command.dropFirst()), environment: ["TIKTOK_ACCESS_TOKEN": "emulator-token"])
        let daemon = DaemonProcess(process: process, runsAsDaemonUser: runsAsDaemonUser)
        let result: T
        do {
            result = try await body(daemon)
        } catch {
            process.signal(SIGKILL)
            _ = await process.wait()
            throw error
        }
        process.signal(SIGTERM)
        let stopped = await process.wait(timeout: .seconds(30))
        #expect(stopped.status == 0, "the daemon did not stop cleanly: \(stopped.output)")
        return result
    }
}

struct DaemonProcess {
    let process: ToolProcess
    let runsAsDaemonUser: Bool
    var outputSoFar: String { process.outputSoFar }
}

struct SFTPTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
