import Foundation
import Testing

/// scripts/package-deb: the .deb is built from the built executable, inspected, and checked by
/// lintian when it is installed. Installing, upgrading and purging it happen in a box under a real
/// systemd (SystemdBoxTests), never on the machine that runs the tests.
@Suite("Debian package: build, inspect, lintian", .serialized)
struct PackageTests {
    static let name = "tiktok-audience-sync"

    @Test(
        "the package holds the binary, both units, the conffile, man page, completions and sysusers/tmpfiles; lintian finds no error",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-deb"), "dpkg-deb is not installed"))
    func packageBuildsInstallsAndPurges() async throws {
        let work = try DeploymentFixture.temporaryDirectory("package")
        defer { try? FileManager.default.removeItem(atPath: work) }
        let built = try await Self.run(
            DeploymentFixture.repositoryRoot + "/scripts/package-deb",
            ["--binary", Binary.path, "--output", work, "--compress", "gzip"])
        try #require(built.status == 0, "\(built.output)")
        let package = try #require(built.stdout.split(separator: "\n").last.map(String.init))
        let architecture = try await Self.run("/usr/bin/dpkg", ["--print-architecture"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try await Self.run(Binary.path, ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(package.hasSuffix("/\(Self.name)_\(version)-1_\(architecture).deb"), "\(package)")

        let info = try await Self.run("/usr/bin/dpkg-deb", ["--info", package])
        #expect(info.output.contains("Package: \(Self.name)"))
        #expect(info.output.contains("Depends: libc6 (>= 2.34), libsqlite3-0 (>= 3.37), zlib1g, libsystemd0"))
        let contents = try await Self.run("/usr/bin/dpkg-deb", ["--contents", package]).output
        for path in [
            "./usr/bin/\(Self.name)", "./lib/systemd/system/\(Self.name).service", "./lib/systemd/system/\(Self.name)@.service",
            "./etc/\(Self.name)/config.yaml", "./usr/share/man/man1/\(Self.name).1.gz",
            "./usr/share/bash-completion/completions/\(Self.name)", "./usr/share/zsh/vendor-completions/_\(Self.name)",
            "./usr/share/fish/vendor_completions.d/\(Self.name).fish", "./usr/lib/sysusers.d/\(Self.name).conf",
            "./usr/lib/tmpfiles.d/\(Self.name).conf", "./usr/share/doc/\(Self.name)/examples/sshd-audience-partners.conf",
            "./usr/share/doc/\(Self.name)/copyright", "./usr/share/doc/\(Self.name)/changelog.Debian.gz",
        ] {
            #expect(contents.contains(" \(path)\n"), "\(path) is not in the package")
        }
        #expect(!contents.contains("./srv/"), "folders in /srv come from tmpfiles.d, not the package")
        let extracted = work + "/extracted"
        _ = try await Self.run("/usr/bin/dpkg-deb", ["--raw-extract", package, extracted])
        #expect(try String(contentsOfFile: extracted + "/DEBIAN/conffiles", encoding: .utf8) == "/etc/\(Self.name)/config.yaml\n")
        let unit = try DeploymentFixture.directives(ofUnit: extracted + "/lib/systemd/system/\(Self.name).service")
        #expect(unit["ExecStart"] == ["/usr/bin/\(Self.name) run --config /etc/\(Self.name)/config.yaml"])
        let template = try DeploymentFixture.directives(ofUnit: extracted + "/lib/systemd/system/\(Self.name)@.service")
        #expect(template["ExecStart"] == ["/usr/bin/\(Self.name) run --config /etc/\(Self.name)/%i.yaml"])
        let readelf = try await Self.run("/usr/bin/readelf", ["-d", extracted + "/usr/bin/\(Self.name)"])
        #expect(!readelf.output.contains("RUNPATH") && !readelf.output.contains("RPATH"), "no toolchain search path in a package")
        let postinst = try String(contentsOfFile: extracted + "/DEBIAN/postinst", encoding: .utf8)
        let commands = postinst.split(separator: "\n").filter { $0.contains("systemctl") || $0.contains("deb-systemd-") }
        #expect(
            commands.allSatisfy { !$0.contains(" start ") && !$0.contains("enable") && !$0.contains("restart ") || $0.contains("try-restart") },
            "nothing is started or enabled on install; an upgrade only restarts what runs:\n\(commands.joined(separator: "\n"))")

        if FileManager.default.isExecutableFile(atPath: "/usr/bin/lintian") {
            let lint = try await Self.run("/usr/bin/lintian", ["--tag-display-limit", "0", package])
            // Errors and warnings alike (what is overridden carries its reason in the package).
            let tags = lint.output.split(separator: "\n").filter { $0.hasPrefix("E:") || $0.hasPrefix("W:") }
            #expect(tags.isEmpty, "lintian:\n\(tags.joined(separator: "\n"))")
        }
    }

    /// Runs a tool without holding one of Swift's cooperative threads while it works (lintian
    /// takes seconds): other tests' tasks keep running.
    static func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String, stdout: String) {
        let result = try await ToolProcess(executable, arguments).wait()
        return (result.status, result.output, result.stdout)
    }
}
