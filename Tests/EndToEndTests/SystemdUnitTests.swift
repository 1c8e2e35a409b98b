import Foundation
import Testing
import AudienceReading
import AudienceSupport

/// The deployment files: the systemd unit (and its hardening score), the sshd drop-in for the
/// SFTP-only partner group, and scripts/install / scripts/add-partner in their safe modes.
/// Each check runs external commands, awaited without holding a cooperative thread.
@Suite("deployment: systemd unit, sshd drop-in, install scripts")
struct SystemdUnitTests {
    static let unitPath = DeploymentFixture.repositoryRoot + "/systemd/tiktok-audience-sync.service"
    static let dropInPath = DeploymentFixture.repositoryRoot + "/etc/sshd_config.d/audience-partners.conf"
    static let systemdAnalyze = "/usr/bin/systemd-analyze"
    static let maximumExposure = 1.5

    @Test("the unit is Type=notify, takes the token as a credential and has a state directory")
    func unitDeclaresTheDaemonsInterface() async throws {
        let directives = try DeploymentFixture.directives(ofUnit: Self.unitPath)
        #expect(directives["Type"] == ["notify"])
        #expect(directives["LoadCredential"]?.contains { $0.hasPrefix("tiktok-access-token:") } == true)
        #expect(directives["StateDirectory"] == ["tiktok-audience-sync"])
        #expect(directives["ExecStart"] == [
            "/usr/local/bin/tiktok-audience-sync run --config /etc/tiktok-audience-sync/config.yaml",
        ])
        #expect(directives["ExecReload"] == ["/bin/kill -HUP $MAINPID"])
        #expect(directives["WatchdogSec"] == ["60"])
        #expect(directives["RestartPreventExitStatus"] == ["78"])
        #expect(directives["User"] == ["tiktok-audience-sync"])
        // Of @resources, setpriority alone comes back (Dispatch's worker threads; see the unit).
        #expect(directives["SystemCallFilter"] == ["@system-service", "~@privileged @resources", "setpriority"])
        #expect(directives["ReadWritePaths"] == ["/srv/audience-inbox"])
        #expect(directives["MemoryDenyWriteExecute"] == ["yes"])
        #expect(directives["CapabilityBoundingSet"] == [""])
    }

    @Test(
        "systemd-analyze security scores the unit at most 1.5",
        .enabled(if: FileManager.default.isExecutableFile(atPath: SystemdUnitTests.systemdAnalyze), "systemd-analyze is not installed"))
    func hardeningScore() async throws {
        let result = try await DeploymentFixture.run(
            Self.systemdAnalyze, ["security", "--offline=true", "--no-pager", Self.unitPath],
            environment: ["SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"])
        #expect(result.status == 0, "\(result.output)")
        let exposure = try #require(
            DeploymentFixture.overallExposure(in: result.output),
            "no \"Overall exposure level\" line in:\n\(result.output)")
        #expect(exposure <= Self.maximumExposure, "exposure \(exposure) is above \(Self.maximumExposure):\n\(result.output)")
        // The lines still marked ✗ are the deliberate ones (network, fixed user, setpriority for
        // Dispatch); anything else is a regression worth a look even while the total stays under
        // the limit.
        let unexpected = result.output.split(separator: "\n").filter { $0.hasPrefix("✗") }.filter { line in
            !["RootDirectory=", "SupplementaryGroups=", "RestrictAddressFamilies=", "PrivateNetwork=",
              "DeviceAllow=", "IPAddressDeny=", "UMask=", "(e.g. setpriority is allowed)"].contains { line.contains($0) }
        }
        #expect(unexpected.isEmpty, "new exposures:\n\(unexpected.joined(separator: "\n"))")
    }

    /// The template unit, as scripts/template-unit makes it, saved for an instance named acme.
    static func instanceUnit() async throws -> String {
        let made = try await DeploymentFixture.run(DeploymentFixture.repositoryRoot + "/scripts/template-unit", [])
        try #require(made.status == 0, "\(made.output)")
        let directory = try DeploymentFixture.temporaryDirectory("template")
        let path = directory + "/tiktok-audience-sync@acme.service"
        try made.output.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the template unit gives each advertiser its own configuration, state, inbox, credential and log name")
    func templateUnitSeparatesInstances() async throws {
        let unit = try await Self.instanceUnit()
        let directives = try DeploymentFixture.directives(ofUnit: unit)
        let main = try DeploymentFixture.directives(ofUnit: Self.unitPath)
        #expect(directives["ExecStart"] == ["/usr/local/bin/tiktok-audience-sync run --config /etc/tiktok-audience-sync/%i.yaml"])
        #expect(directives["StateDirectory"] == ["tiktok-audience-sync/%i"])
        #expect(directives["WorkingDirectory"] == ["/var/lib/tiktok-audience-sync/%i"])
        #expect(directives["ReadWritePaths"] == ["/srv/audience-inbox/%i"])
        #expect(directives["LoadCredential"] == ["tiktok-access-token:/etc/tiktok-audience-sync/%i.token"])
        #expect(directives["SyslogIdentifier"] == ["tiktok-audience-sync-%i"])
        #expect(directives["RequiresMountsFor"] == ["/srv/audience-inbox/%i /var/lib/tiktok-audience-sync/%i"])
        // Everything else, the sandbox included, is the main unit's.
        let differing = Set(directives.keys).union(main.keys).filter { directives[$0] != main[$0] }
        #expect(differing == [
            "Description", "ExecStart", "StateDirectory", "WorkingDirectory", "ReadWritePaths", "LoadCredential",
            "SyslogIdentifier", "RequiresMountsFor",
        ])
    }

    @Test(
        "systemd-analyze security scores an instance of the template unit at most 1.5",
        .enabled(if: FileManager.default.isExecutableFile(atPath: SystemdUnitTests.systemdAnalyze), "systemd-analyze is not installed"))
    func templateHardeningScore() async throws {
        let result = try await DeploymentFixture.run(
            Self.systemdAnalyze, ["security", "--offline=true", "--no-pager", try await Self.instanceUnit()],
            environment: ["SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"])
        #expect(result.status == 0, "\(result.output)")
        let exposure = try #require(DeploymentFixture.overallExposure(in: result.output), "\(result.output)")
        #expect(exposure <= Self.maximumExposure, "exposure \(exposure):\n\(result.output)")
    }

    @Test(
        "sshd accepts a configuration that includes the partners' drop-in",
        .enabled(if: DeploymentFixture.sshd != nil && DeploymentFixture.sshKeygen != nil, "sshd or ssh-keygen is not installed"))
    func sshdAcceptsTheDropIn() async throws {
        let sshd = try #require(DeploymentFixture.sshd)
        let directory = try DeploymentFixture.temporaryDirectory("sshd")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let hostKey = directory + "/host_ed25519_key"
        let keygen = try await DeploymentFixture.run(
            try #require(DeploymentFixture.sshKeygen), ["-q", "-t", "ed25519", "-N", "", "-f", hostKey])
        try #require(keygen.status == 0, "\(keygen.output)")
        DeploymentFixture.ensurePrivilegeSeparationDirectory()

        let good = directory + "/sshd_config"
        try "HostKey \(hostKey)\nPidFile none\nInclude \(Self.dropInPath)\n"
            .write(toFile: good, atomically: true, encoding: .utf8)
        let accepted = try await DeploymentFixture.run(sshd, ["-t", "-f", good])
        #expect(accepted.status == 0, "sshd -t rejected the drop-in:\n\(accepted.output)")

        // The same check must fail on a broken drop-in, or the one above proves nothing.
        let brokenDropIn = directory + "/broken.conf"
        try (String(contentsOfFile: Self.dropInPath, encoding: .utf8) + "    NoSuchDirective yes\n")
            .write(toFile: brokenDropIn, atomically: true, encoding: .utf8)
        let broken = directory + "/broken_config"
        try "HostKey \(hostKey)\nPidFile none\nInclude \(brokenDropIn)\n"
            .write(toFile: broken, atomically: true, encoding: .utf8)
        let rejected = try await DeploymentFixture.run(sshd, ["-t", "-f", broken])
        #expect(rejected.status != 0, "sshd -t accepted a bogus directive:\n\(rejected.output)")
    }

    @Test("the sshd drop-in confines the sftp-partners group")
    func dropInConfinesPartners() async throws {
        let text = try String(contentsOfFile: Self.dropInPath, encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(lines.first == "Match Group sftp-partners")
        for expected in [
            "ChrootDirectory /srv/sftp/%u", "PasswordAuthentication no", "AllowTcpForwarding no",
            "X11Forwarding no", "PermitTunnel no", "AllowAgentForwarding no",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        #expect(lines.contains { $0.hasPrefix("ForceCommand internal-sftp -u 0007") })
    }

    @Test("scripts/install --destdir stages every file and touches nothing outside it")
    func installStagesWithoutTouchingTheSystem() async throws {
        let work = try DeploymentFixture.temporaryDirectory("install")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let stage = work + "/stage"
        let marker = work + "/system-commands-called"
        let fakes = try DeploymentFixture.fakeSystemCommands(in: work + "/fake-bin", marker: marker)
        let binary = work + "/tiktok-audience-sync"
        try DeploymentFixture.writeExecutable(binary, """
            #!/bin/sh
            # Stands in for the real binary: knows swift-argument-parser's completion flag.
            if [ "$1" = --generate-completion-script ]; then echo "# $2 completion"; exit 0; fi
            echo "fake tiktok-audience-sync $*"
            """)
        let environment = ["PATH": fakes + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        let script = DeploymentFixture.repositoryRoot + "/scripts/install"

        let first = try await DeploymentFixture.run(
            script, ["--destdir", stage, "--no-build", "--binary", binary], environment: environment)
        try #require(first.status == 0, "\(first.output)")

        let manager = FileManager.default
        #expect(manager.isExecutableFile(atPath: stage + "/usr/local/bin/tiktok-audience-sync"))
        let unit = try String(contentsOfFile: stage + "/etc/systemd/system/tiktok-audience-sync.service", encoding: .utf8)
        #expect(unit == (try String(contentsOfFile: Self.unitPath, encoding: .utf8)))
        let template = try DeploymentFixture.directives(ofUnit: stage + "/etc/systemd/system/tiktok-audience-sync@.service")
        #expect(template["ExecStart"] == ["/usr/local/bin/tiktok-audience-sync run --config /etc/tiktok-audience-sync/%i.yaml"])
        let config = stage + "/etc/tiktok-audience-sync/config.yaml"
        #expect(manager.contents(atPath: config) == manager.contents(atPath: DeploymentFixture.repositoryRoot + "/etc/config.yaml"))
        #expect(manager.fileExists(atPath: stage + "/etc/ssh/sshd_config.d/audience-partners.conf"))
        #expect(manager.fileExists(atPath: stage + "/usr/local/share/doc/tiktok-audience-sync/operations.md"))
        #expect(manager.fileExists(atPath: stage + "/usr/local/share/bash-completion/completions/tiktok-audience-sync"))
        #expect(manager.fileExists(atPath: stage + "/usr/local/share/zsh/site-functions/_tiktok-audience-sync"))
        #expect(manager.fileExists(atPath: stage + "/usr/local/share/fish/vendor_completions.d/tiktok-audience-sync.fish"))
        #expect(
            manager.contents(atPath: stage + "/usr/local/share/man/man1/tiktok-audience-sync.1")
                == manager.contents(atPath: DeploymentFixture.repositoryRoot + "/docs/tiktok-audience-sync.1"))
        var isDirectory: ObjCBool = false
        #expect(manager.fileExists(atPath: stage + "/srv/audience-inbox", isDirectory: &isDirectory) && isDirectory.boolValue)

        // An operator's configuration survives a second install.
        try "# edited by the operator\n".write(toFile: config, atomically: true, encoding: .utf8)
        let second = try await DeploymentFixture.run(
            script, ["--destdir", stage, "--no-build", "--binary", binary], environment: environment)
        try #require(second.status == 0, "\(second.output)")
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "# edited by the operator\n")

        // --prefix moves the binary, and the unit's ExecStart follows it.
        let prefixed = try await DeploymentFixture.run(
            script, ["--destdir", work + "/opt-stage", "--prefix", "/opt/tas", "--no-build", "--binary", binary],
            environment: environment)
        try #require(prefixed.status == 0, "\(prefixed.output)")
        #expect(manager.isExecutableFile(atPath: work + "/opt-stage/opt/tas/bin/tiktok-audience-sync"))
        let prefixedUnit = try DeploymentFixture.directives(
            ofUnit: work + "/opt-stage/etc/systemd/system/tiktok-audience-sync.service")
        #expect(prefixedUnit["ExecStart"] == ["/opt/tas/bin/tiktok-audience-sync run --config /etc/tiktok-audience-sync/config.yaml"])

        // --uninstall takes away what was installed and keeps the operator's and the daemon's data.
        let removed = try await DeploymentFixture.run(script, ["--destdir", stage, "--uninstall"], environment: environment)
        try #require(removed.status == 0, "\(removed.output)")
        #expect(!manager.fileExists(atPath: stage + "/usr/local/bin/tiktok-audience-sync"))
        #expect(!manager.fileExists(atPath: stage + "/etc/systemd/system/tiktok-audience-sync.service"))
        #expect(!manager.fileExists(atPath: stage + "/etc/systemd/system/tiktok-audience-sync@.service"))
        #expect(!manager.fileExists(atPath: stage + "/usr/local/share/man/man1/tiktok-audience-sync.1"))
        #expect(!manager.fileExists(atPath: stage + "/usr/local/share/doc/tiktok-audience-sync"))
        #expect(try String(contentsOfFile: config, encoding: .utf8) == "# edited by the operator\n", "the configuration stays")
        #expect(manager.fileExists(atPath: stage + "/var/lib/tiktok-audience-sync"), "the state directory stays")
        #expect(removed.output.contains("Kept"))

        let called = (try? String(contentsOfFile: marker, encoding: .utf8)) ?? ""
        #expect(called.isEmpty, "a staged install ran system commands:\n\(called)")
    }

    @Test("scripts/add-partner --dry-run shows the layout for temporary folders and changes nothing")
    func addPartnerDryRun() async throws {
        let work = try DeploymentFixture.temporaryDirectory("add-partner")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let key = work + "/acme.pub"
        try "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBC7vPZHkbH1X6t2+ezg6sdPsK5LZ+DJrRjA8ITRTqRe partner@example.com\n"
            .write(toFile: key, atomically: true, encoding: .utf8)
        let marker = work + "/system-commands-called"
        let fakes = try DeploymentFixture.fakeSystemCommands(in: work + "/fake-bin", marker: marker)
        let environment = ["PATH": fakes + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")]
        // root exists everywhere: it stands in for the daemon's user and the partners' group.
        let arguments = [
            "--dry-run", "--daemon-user", "root", "--partners-group", "root",
            "--inbox-root", work + "/inbox", "--sftp-root", work + "/sftp", "--state-directory", work + "/state",
            "--keys-directory", work + "/keys", "--fstab", work + "/fstab", "--segments", "123456,654321",
            "tas-test-partner", key,
        ]
        let script = DeploymentFixture.repositoryRoot + "/scripts/add-partner"
        let result = try await DeploymentFixture.run(script, arguments, environment: environment)
        try #require(result.status == 0, "\(result.output)")
        #expect(result.output.contains("\(work)/inbox/tas-test-partner \(work)/sftp/tas-test-partner/upload none bind"))
        #expect(result.output.contains("\(work)/state/receipts/tas-test-partner \(work)/sftp/tas-test-partner/receipts none bind,ro"))
        #expect(result.output.contains("-m 2770 \(work)/inbox/tas-test-partner"))
        #expect(result.output.contains("segments: [\"123456\", \"654321\"]"))
        let created = try FileManager.default.contentsOfDirectory(atPath: work).sorted()
        #expect(created == ["acme.pub", "fake-bin"], "a dry run created \(created)")

        let badName = try await DeploymentFixture.run(
            script, ["--dry-run", "--daemon-user", "root", "--partners-group", "root", "../etc", key],
            environment: environment)
        #expect(badName.status != 0)
    }

    @Test("the scripts pass bash -n, and shellcheck when it is installed")
    func scriptsAreCleanShell() async throws {
        let shellcheck = ["/usr/bin/shellcheck", "/usr/local/bin/shellcheck"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        for name in ["install", "add-partner"] {
            let path = DeploymentFixture.repositoryRoot + "/scripts/" + name
            let syntax = try await DeploymentFixture.run("/bin/bash", ["-n", path])
            #expect(syntax.status == 0, "\(name): \(syntax.output)")
            if let shellcheck {
                let lint = try await DeploymentFixture.run(shellcheck, [path])
                #expect(lint.status == 0, "\(name):\n\(lint.output)")
            }
        }
    }
}

/// Helpers for the deployment tests: paths, running a command, reading a unit file.
enum DeploymentFixture {
    struct Result {
        var status: Int32
        var output: String
    }

    /// The package root, found from this file's path (Tests/EndToEndTests/ThisFile.swift).
    static let repositoryRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let sshd: String? = ["/usr/sbin/sshd", "/usr/bin/sshd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let sshKeygen: String? = ["/usr/bin/ssh-keygen", "/usr/local/bin/ssh-keygen"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Runs a short command to its end, stdout and stderr merged. Synchronous on purpose.
    /// Runs a tool without holding one of Swift's cooperative threads while it works (other tests'
    /// tasks must not wait behind systemd-analyze or an install script on a 2-core machine).
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        let result = try await ToolProcess(executable, arguments, environment: environment).wait()
        return Result(status: result.status, output: result.output)
    }

    /// The same, blocking: only where awaiting is impossible (a `defer`).
    static func runBlocking(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Every `Key=value` of a unit file, in order, comments and section headers left out.
    static func directives(ofUnit path: String) throws -> [String: [String]] {
        var directives: [String: [String]] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.hasPrefix("#"), !text.hasPrefix(";"), !text.hasPrefix("["),
                  let equals = text.firstIndex(of: "=") else { continue }
            directives[String(text[..<equals]), default: []].append(String(text[text.index(after: equals)...]))
        }
        return directives
    }

    /// The number in "→ Overall exposure level for NAME.service: 1.1 OK 🙂".
    static func overallExposure(in output: String) -> Double? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Overall exposure level") }),
              let colon = line.lastIndex(of: ":") else { return nil }
        let words = line[line.index(after: colon)...].split(separator: " ")
        return words.first.flatMap { Double($0) }
    }

    static func temporaryDirectory(_ name: String) throws -> String {
        var template = Array((NSTemporaryDirectory() + "audience-sync-\(name)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        return String(cString: made)
    }

    static func writeExecutable(_ path: String, _ text: String) throws {
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    }

    /// A folder of stand-ins for commands that change the system; each records its call in
    /// `marker` and fails. Put it first in PATH.
    static func fakeSystemCommands(in directory: String, marker: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for command in ["useradd", "groupadd", "usermod", "userdel", "chown", "chgrp", "mount", "umount", "systemctl", "swift"] {
            try writeExecutable(directory + "/" + command, "#!/bin/sh\necho \"\(command) $*\" >> '\(marker)'\nexit 1")
        }
        return directory
    }

    /// `sshd -t` run as root insists on its privilege-separation directory, which the ssh
    /// service normally creates at boot (RuntimeDirectory=sshd). Create it the same way when it is
    /// missing, as root only; without root, sshd does not check it.
    static func ensurePrivilegeSeparationDirectory() {
        guard geteuid() == 0, !FileManager.default.fileExists(atPath: "/run/sshd") else { return }
        try? FileManager.default.createDirectory(
            atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    }
}
