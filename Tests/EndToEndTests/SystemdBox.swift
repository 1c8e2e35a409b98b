import Foundation
import Testing

/// A Debian box booted by scripts/systemd-box (systemd as PID 1, its own users, packages and units,
/// the host's network), with the package built from this tree at hand. Everything the tests do to
/// it (dpkg, users, units, the journal) stays in the box and is gone when it stops: the host gets
/// no user, package or unit of ours.
final class SystemdBox: Sendable {
    static let script = DeploymentFixture.repositoryRoot + "/scripts/systemd-box"
    static let package = "tiktok-audience-sync"

    let name: String
    /// A host folder seen in the box as /exchange: files to put into the box go through it.
    let exchange: String

    /// Root, with systemd-nspawn and debootstrap (scripts/install-dependencies installs them as
    /// root), and the package tools.
    static var isUsable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: script)
            && ["/usr/bin/systemd-nspawn", "/usr/sbin/debootstrap", "/usr/bin/dpkg-deb", "/usr/bin/nsenter"].allSatisfy {
                FileManager.default.isExecutableFile(atPath: $0)
            }
    }

    private init(name: String, exchange: String) {
        self.name = name
        self.exchange = exchange
    }

    /// Boots a box, runs `body` with it, and always stops it (even when `body` throws). `binds`
    /// and `readOnlyBinds`: host folders the box sees at the same paths.
    static func with<T>(
        binds: [String] = [], readOnlyBinds: [String] = [], _ body: (SystemdBox) async throws -> T
    ) async throws -> T {
        let packages = try await BoxPackages.shared.built()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let name = "tas-" + String((0..<8).map { _ in alphabet.randomElement()! })
        let exchange = try DeploymentFixture.temporaryDirectory("box-exchange")
        var readOnly = ["\(packages.folder):/packages"] + readOnlyBinds
        // A debug build links Swift's runtime from the toolchain: the box sees the same folder.
        if let runtime = packages.runtimeFolder { readOnly.append(runtime) }
        let booted = try await ToolProcess(
            script, ["boot", name],
            environment: ["BOX_BIND": (["\(exchange):/exchange"] + binds).joined(separator: " "), "BOX_BIND_RO": readOnly.joined(separator: " ")]
        ).wait(timeout: .seconds(120))
        let box = SystemdBox(name: name, exchange: exchange)
        guard booted.status == 0 else {
            await box.stop()
            throw BoxError("the box did not boot: \(booted.output)")
        }
        let result: T
        do {
            if let runtime = packages.runtimeFolder {
                try await box.must("echo \(runtime) >/etc/ld.so.conf.d/swift-runtime.conf && ldconfig")
            }
            result = try await body(box)
        } catch {
            await box.stop()
            throw error
        }
        await box.stop()
        return result
    }

    private func stop() async {
        _ = await (try? ToolProcess(Self.script, ["stop", name]).wait(timeout: .seconds(60)))
        try? FileManager.default.removeItem(atPath: exchange)
    }

    /// Runs a command in the box, as root.
    func run(_ arguments: [String], timeout: Duration = .seconds(120)) async throws -> CommandResult {
        try await ToolProcess(Self.script, ["exec", name] + arguments).wait(timeout: timeout)
    }

    /// Runs a shell script in the box.
    func shell(_ script: String, timeout: Duration = .seconds(120)) async throws -> CommandResult {
        try await run(["/bin/sh", "-c", script], timeout: timeout)
    }

    /// Runs a shell script in the box that must succeed; its standard output.
    @discardableResult
    func must(_ script: String, timeout: Duration = .seconds(120)) async throws -> String {
        let result = try await shell(script, timeout: timeout)
        guard result.status == 0 else { throw BoxError("in the box, `\(script)` exited \(result.status):\n\(result.output)") }
        return result.stdout
    }

    /// Puts `text` at `path` in the box, with this mode, owner and group.
    func write(_ path: String, _ text: String, mode: String = "0644", owner: String = "root", group: String = "root") async throws {
        let staged = exchange + "/" + UUID().uuidString
        try text.write(toFile: staged, atomically: false, encoding: .utf8)
        try await must(
            "install -D -m \(mode) -o \(owner) -g \(group) /exchange/\((staged as NSString).lastPathComponent) '\(path)'")
        try? FileManager.default.removeItem(atPath: staged)
    }

    /// Uploads `text` into a partner's inbox folder as partners are told to: under a temporary
    /// name, then renamed into place.
    func upload(_ folder: String, _ name: String, _ text: String) async throws {
        try await write("\(folder)/.\(name).part", text, mode: "0640", group: Self.package)
        try await must("mv '\(folder)/.\(name).part' '\(folder)/\(name)'")
    }

    /// `systemctl show` of a unit, as a dictionary.
    func properties(_ unit: String) async throws -> [String: String] {
        let shown = try await must(
            "systemctl show -p MainPID,ActiveState,SubState,StatusText,NRestarts,Result,ExecMainStatus,ExecMainCode \(unit)")
        var properties: [String: String] = [:]
        for line in shown.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            properties[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return properties
    }

    /// What the unit's process wrote to the journal (`journalctl -u UNIT -o cat`), for failure messages.
    func journal(_ unit: String) async throws -> String {
        try await shell("journalctl -u \(unit) -o cat --no-pager").output
    }

    /// An expectation whose failure is reported with these units' journals (read only then).
    func expect(_ condition: Bool, _ comment: String, journalOf units: String..., sourceLocation: SourceLocation = #_sourceLocation) async {
        guard !condition else { return }
        var text = comment
        for unit in units { text += "\n--- journalctl -u \(unit):\n" + ((try? await journal(unit)) ?? "(no journal)") }
        Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
    }

    /// Installs the package and sets up the main unit as docs/operations.md tells operators: the
    /// configuration (pointed at `baseURL`), the token, the partners' folders.
    func installAndConfigure(package: String, baseURL: String, partners: [String: [String]] = ["acme": ["123456", "654321"]]) async throws {
        try await must("dpkg -i /packages/\(package)")
        try await configure(
            config: "/etc/\(Self.package)/config.yaml", inbox: "/srv/audience-inbox", state: "/var/lib/\(Self.package)",
            token: "/etc/\(Self.package)/token", baseURL: baseURL, partners: partners)
    }

    /// A configuration, token and partner folders for one advertiser.
    func configure(
        config: String, inbox: String, state: String, token: String, baseURL: String,
        advertiser: String = "7000000000000000001", tokenText: String = "emulator-token", partners: [String: [String]]
    ) async throws {
        try await write(
            config, Self.configuration(inbox: inbox, state: state, baseURL: baseURL, advertiser: advertiser, partners: partners),
            mode: "0640", group: Self.package)
        try await write(token, tokenText + "\n", mode: "0600")
        for partner in partners.keys.sorted() {
            // As scripts/add-partner leaves it: the daemon's group may read and move the uploads.
            try await must("install -d -m 2770 -o root -g \(Self.package) \(inbox)/\(partner)")
        }
    }

    static func configuration(inbox: String, state: String, baseURL: String, advertiser: String, partners: [String: [String]]) -> String {
        let partnerLines = partners.keys.sorted().map { name in
            "  \(name):\n    segments: [\(partners[name]!.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        }.joined()
        return """
            inbox: \(inbox)
            state_directory: \(state)
            settle_seconds: 1
            rescan_seconds: 5
            tiktok:
              base_url: \(baseURL)
              advertiser_id: "\(advertiser)"
            partners:

            """ + partnerLines
    }
}

struct BoxError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The packages the box tests install, built once per test run from the built executable: the
/// current one, and the same build under an earlier version number to upgrade from.
actor BoxPackages {
    static let shared = BoxPackages()

    struct Built: Sendable {
        /// Holds both .deb files; the box sees it as /packages.
        let folder: String
        let current: String
        let previous: String
        /// The folder of Swift's runtime libraries a debug build links, if it does.
        let runtimeFolder: String?
    }

    private var building: Task<Built, Error>?

    func built() async throws -> Built {
        if let building { return try await building.value }
        let task = Task { try await Self.build() }
        building = task
        return try await task.value
    }

    private static func build() async throws -> Built {
        // The box's root file system, made once per machine (minutes) and kept.
        let created = try await ToolProcess(SystemdBox.script, ["create"]).wait(timeout: .seconds(900))
        guard created.status == 0 else { throw BoxError("scripts/systemd-box create: \(created.output)") }

        let folder = DeploymentFixture.repositoryRoot + "/.build/systemd-box-packages"
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let built = try await ToolProcess(
            DeploymentFixture.repositoryRoot + "/scripts/package-deb", ["--binary", Binary.path, "--output", folder, "--compress", "gzip"]
        ).wait(timeout: .seconds(600))
        guard built.status == 0, let current = built.stdout.split(separator: "\n").last.map(String.init) else {
            throw BoxError("scripts/package-deb: \(built.output)")
        }
        // The same files as an earlier version, for the upgrade.
        let tree = folder + "/previous-tree"
        _ = try await DeploymentFixture.run("/usr/bin/dpkg-deb", ["--raw-extract", current, tree])
        let control = tree + "/DEBIAN/control"
        let text = try String(contentsOfFile: control, encoding: .utf8)
        try text.replacingOccurrences(of: "\nVersion: ", with: "\nVersion: 0.0.1~").write(toFile: control, atomically: true, encoding: .utf8)
        let previous = folder + "/previous.deb"
        let packed = try await DeploymentFixture.run("/usr/bin/dpkg-deb", ["--root-owner-group", "-Zgzip", "-z1", "--build", tree, previous])
        guard packed.status == 0 else { throw BoxError("dpkg-deb --build: \(packed.output)") }
        try? FileManager.default.removeItem(atPath: tree)

        let dynamic = try await DeploymentFixture.run("/usr/bin/readelf", ["-d", Binary.path]).output
        let runtime = dynamic.split(separator: "\n").first { $0.contains("(RUNPATH)") || $0.contains("(RPATH)") }
            .flatMap { line -> String? in
                guard let open = line.lastIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
                return line[line.index(after: open)..<close].split(separator: ":").map(String.init)
                    .first { FileManager.default.fileExists(atPath: $0 + "/libswiftCore.so") }
            }
        return Built(folder: folder, current: (current as NSString).lastPathComponent, previous: "previous.deb", runtimeFolder: runtime)
    }
}
