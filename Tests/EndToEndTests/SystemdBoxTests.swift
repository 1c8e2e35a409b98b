import Foundation
import Testing
import TestFixtures
import TikTokEmulator
@testable import AudienceLedger

/// The Debian package and its units under a real systemd (PID 1 in a box booted by
/// scripts/systemd-box), against the emulator on the host: what an operator does, and what systemd
/// does with the daemon. Each test boots its own box from the cached root file system, so nothing
/// one does is seen by another, and nothing reaches the host.
@Suite(
    "under a real systemd: the package, the units, the sandbox and the journal",
    .serialized, .enabled(if: SystemdBox.isUsable, "needs root, systemd-nspawn (systemd-container) and debootstrap"))
struct SystemdBoxTests {
    static let unit = "tiktok-audience-sync"
    static let inbox = "/srv/audience-inbox/acme"
    static let state = "/var/lib/tiktok-audience-sync"
    static let config = "/etc/tiktok-audience-sync/config.yaml"

    func csv(_ people: [String], segment: String = "123456") -> String {
        "email_hash,segment_id\n" + people.map { "\($0),\(segment)\n" }.joined()
    }

    func hashes(_ prefix: String, _ count: Int) -> [String] { (0..<count).map { sha256Hex("\(prefix)\($0)@example.com") } }

    func members(_ emulator: RunningEmulator, _ segment: String = "123456") async -> Set<String> {
        Set(await emulator.state.members(of: segment).map(\.id))
    }

    /// The emulator, and a box with the package installed, configured for it (partner acme) and
    /// its main unit started, as an operator leaves it; `beforeStart` adds drop-ins first.
    func withService(
        beforeStart: (SystemdBox) async throws -> Void = { _ in },
        _ body: (SystemdBox, RunningEmulator) async throws -> Void
    ) async throws {
        try await TikTokEmulator.withRunning { emulator in
            try await SystemdBox.with { box in
                let packages = try await BoxPackages.shared.built()
                try await box.installAndConfigure(package: packages.current, baseURL: emulator.baseURL)
                try await beforeStart(box)
                // Type=notify: `systemctl start` returns once the daemon said READY=1.
                try await box.must("systemctl daemon-reload && systemctl enable --now \(Self.unit)")
                try await body(box, emulator)
            }
        }
    }

    @Test("start: READY and the status line; dropped files applied and confirmed; journald fields; status; a clean journal; stop exits 0 and loses nothing")
    func startWorkAndStop() async throws {
        try await withService { box, emulator in
            let started = try await box.properties(Self.unit)
            #expect(started["ActiveState"] == "active" && started["SubState"] == "running", "\(started)")
            await box.expect(started["StatusText"]?.hasSuffix(", 0 pending") == true, "STATUS at READY: \(started)", journalOf: Self.unit)

            // Six files, as a partner sends them over a day: snapshots and deltas, both segments.
            let first = hashes("first", 40), second = hashes("second", 25)
            try await box.upload(Self.inbox, "1-snapshot.csv", csv(first))
            try await box.upload(Self.inbox, "2-other.csv", csv(second, segment: "654321"))
            try await box.upload(Self.inbox, "3-delta.csv", "email_hash,segment_id,action\n\(first[0]),123456,remove\n\(second[0]),123456,add\n")
            try await box.upload(Self.inbox, "4-snapshot.csv", csv(Array(second.prefix(20)), segment: "654321"))
            try await box.upload(Self.inbox, "5-delta.csv", "email_hash,segment_id,action\n\(first[1]),123456,remove\n")
            try await box.upload(Self.inbox, "6-snapshot.csv", csv(Array(first.prefix(30))))
            let wanted = Set(first.prefix(30))
            let applied = await eventually(timeout: .seconds(60)) {
                let first = await members(emulator), other = await members(emulator, "654321")
                return first == wanted && other == Set(second.prefix(20))
            }
            await box.expect(applied, "the six files applied", journalOf: Self.unit)
            let receipts = try await box.must("ls \(Self.state)/receipts/acme | wc -l")
            #expect(receipts.trimmingCharacters(in: .whitespacesAndNewlines) == "6")
            let confirmed = await eventually(timeout: .seconds(30)) {
                (try? await box.must("grep -L confirmed_at \(Self.state)/receipts/acme/*.json || true"))?.isEmpty == true
            }
            #expect(confirmed, "every receipt says TikTok confirmed its file")
            #expect(await eventually { (try? await box.properties(Self.unit)["StatusText"])?.contains("idle, 0 pending") == true })

            // The journal's own fields: an operator finds a partner's or a segment's lines.
            let partnerLines = try await box.must("journalctl PARTNER=acme -o verbose --no-pager")
            #expect(partnerLines.contains("3-delta.csv"), "\(partnerLines)")
            let segmentLines = try await box.must("journalctl SEGMENT=654321 -o cat --no-pager")
            await box.expect(!segmentLines.isEmpty, "journalctl SEGMENT=654321 finds lines", journalOf: Self.unit)

            // status, run by root as an operator would, acts as the service's user.
            let status = try await box.shell("tiktok-audience-sync status --config \(Self.config)")
            #expect(status.status == 0, "\(status.output)")
            #expect(status.stdout.contains("pending: 0 adds, 0 removes"), "\(status.output)")

            // A clean journal under normal work: nothing at warning or above, and no line that
            // did not come from the daemon's own logging (a library writing to stderr).
            let serious = try await box.must("journalctl _SYSTEMD_UNIT=\(Self.unit).service -p warning -o cat --no-pager")
            #expect(serious.isEmpty, "warnings or errors under normal work:\n\(serious)")
            let stray = try await box.must("journalctl _SYSTEMD_UNIT=\(Self.unit).service _TRANSPORT=stdout -o cat --no-pager")
            let dispatch = stray.split(separator: "\n").filter { $0.hasPrefix("Failed to set thread priority for worker thread") }
            #expect(stray.split(separator: "\n").count == dispatch.count, "lines written to stderr rather than logged:\n\(stray)")
            // Refused by the system call filter, Dispatch logged this at every start and for
            // every new worker thread (errno=1); with setpriority allowed, once remains at
            // start (errno=13): a worker thread of user-interactive work may not raise its
            // priority, and where that work comes from is not found yet.
            withKnownIssue("Dispatch's one thread-priority line at start", isIntermittent: true) {
                #expect(dispatch.isEmpty, "\(dispatch)")
            }

            // Stop: exit 0 well inside TimeoutStopSec; nothing lost across the restart.
            let requests = await emulator.state.mappingRequestCount
            try await box.must("systemctl stop \(Self.unit)")
            let stopped = try await box.properties(Self.unit)
            #expect(stopped["Result"] == "success" && stopped["ExecMainStatus"] == "0", "\(stopped)")
            try await box.must("systemctl start \(Self.unit)")
            let after = try await box.shell("tiktok-audience-sync status --config \(Self.config)")
            #expect(after.stdout.contains("pending: 0 adds, 0 removes"), "\(after.output)")
            #expect(after.stdout.contains("acme/6-snapshot.csv: applied, confirmed"), "\(after.output)")
            #expect(await emulator.state.mappingRequestCount == requests, "nothing is sent again after a clean stop")
            #expect(await members(emulator) == wanted)
        }
    }

    @Test("systemctl reload: a good configuration is taken; a refused one is said in STATUS and the one in force kept")
    func reload() async throws {
        try await withService { box, emulator in
            let pid = try await box.properties(Self.unit)["MainPID"]

            // A new partner, added and reloaded: its files are taken.
            try await box.configure(
                config: Self.config, inbox: "/srv/audience-inbox", state: Self.state, token: "/etc/tiktok-audience-sync/token",
                baseURL: emulator.baseURL, partners: ["acme": ["123456"], "globex": ["654321"]])
            try await box.must("systemctl reload \(Self.unit)")
            let globex = hashes("globex", 3)
            try await box.upload("/srv/audience-inbox/globex", "list.csv", csv(globex, segment: "654321"))
            let reloaded = await eventually(timeout: .seconds(30)) { await members(emulator, "654321") == Set(globex) }
            await box.expect(reloaded, "the new partner's file applied after the reload", journalOf: Self.unit)

            // A misspelt key: refused, said in STATUS, the configuration in force kept.
            let good = try await box.must("cat \(Self.config)")
            try await box.write(Self.config, good.replacingOccurrences(of: "settle_seconds:", with: "setle_seconds:"),
                                mode: "0640", group: "tiktok-audience-sync")
            try await box.must("systemctl reload \(Self.unit)")
            let refused = await eventually {
                (try? await box.properties(Self.unit)["StatusText"])?.contains("reload refused, previous configuration kept") == true
            }
            let properties = try await box.properties(Self.unit)
            #expect(refused, "\(properties)")
            #expect(properties["ActiveState"] == "active" && properties["MainPID"] == pid, "still the same process: \(properties)")
            let more = hashes("globex-more", 2)
            try await box.upload(
                "/srv/audience-inbox/globex", "more.csv", "email_hash,segment_id,action\n" + more.map { "\($0),654321,add\n" }.joined())
            let kept = await eventually(timeout: .seconds(30)) { await members(emulator, "654321") == Set(globex + more) }
            await box.expect(kept, "globex, known only to the configuration in force, is still read", journalOf: Self.unit)
        }
    }

    @Test("SIGKILL: systemd restarts the daemon and nothing is lost; a hung daemon is restarted by the watchdog")
    func restartsAfterKillAndHang() async throws {
        // Restart sooner than the shipped 10 s, for the test's sake; all else as shipped.
        try await withService(beforeStart: { box in
            try await box.write("/etc/systemd/system/\(Self.unit).service.d/restart.conf", "[Service]\nRestartSec=1\n")
        }) { box, emulator in
            let before = try await box.properties(Self.unit)

            try await box.must("systemctl kill -s KILL \(Self.unit)")
            let restarted = await eventually(timeout: .seconds(30)) {
                guard let now = try? await box.properties(Self.unit) else { return false }
                return now["NRestarts"] == "1" && now["ActiveState"] == "active" && now["MainPID"] != before["MainPID"]
            }
            await box.expect(restarted, "restarted after SIGKILL", journalOf: Self.unit)
            let people = hashes("after-kill", 5)
            try await box.upload(Self.inbox, "after-kill.csv", csv(people))
            #expect(await eventually(timeout: .seconds(30)) { await members(emulator) == Set(people) })

            // The fault switch: the daemon stops at its third watchdog ping, as if deadlocked.
            // With WatchdogSec=4 it pings every 2 s; systemd must kill and restart it.
            try await box.write(
                "/etc/systemd/system/\(Self.unit).service.d/hang.conf",
                "[Service]\nWatchdogSec=4\nEnvironment=TIKTOK_AUDIENCE_SYNC_HANG_AT=watchdog-ping:3\n")
            try await box.must("systemctl daemon-reload && systemctl restart \(Self.unit)")
            let hungPID = try await box.properties(Self.unit)["MainPID"]
            let watchdogRestart = await eventually(timeout: .seconds(60)) {
                guard let now = try? await box.properties(Self.unit) else { return false }
                return now["MainPID"] != hungPID && now["ActiveState"] == "active"
            }
            let journal = try await box.shell("journalctl -u \(Self.unit) -o cat --no-pager | grep -i 'watchdog timeout'").output
            await box.expect(watchdogRestart && journal.contains("Watchdog timeout"), "the watchdog restarted it", journalOf: Self.unit)
            try await box.must("rm /etc/systemd/system/\(Self.unit).service.d/hang.conf && systemctl daemon-reload && systemctl restart \(Self.unit)")
            let later = hashes("after-hang", 3)
            try await box.upload(Self.inbox, "after-hang.csv", "email_hash,segment_id,action\n" + later.map { "\($0),123456,add\n" }.joined())
            #expect(await eventually(timeout: .seconds(30)) { await members(emulator) == Set(people + later) })
        }
    }

    @Test("the sandbox is in force: the daemon's view of the system is read-only but for its state directory and inbox; exposure at most 1.5")
    func sandbox() async throws {
        try await withService { box, _ in
            let pid = try #require(try await box.properties(Self.unit)["MainPID"])
            // In the running service's namespaces, as its user: what it sees of the system.
            func asService(_ script: String) async throws -> CommandResult {
                try await box.shell(
                    "nsenter -t \(pid) -m -U -S \"$(id -u tiktok-audience-sync)\" -G \"$(id -g tiktok-audience-sync)\" sh -c '\(script)'")
            }
            func canWrite(_ folder: String) async throws -> Bool {
                try await asService("touch \(folder)/.probe && rm \(folder)/.probe").status == 0
            }
            #expect(try await canWrite(Self.state))
            #expect(try await canWrite(Self.inbox))
            for folder in ["/etc", "/etc/tiktok-audience-sync", "/usr/bin", "/srv", "/var/lib", "/var/log", "/root", "/home", "/run"] {
                #expect(try await !canWrite(folder), "the service could write to \(folder)")
            }
            // Of the processes, it sees its own only: not the box's PID 1, nor journald.
            let journald = try await box.must("systemctl show -p MainPID --value systemd-journald").trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await asService("test -e /proc/1 || test -e /proc/\(journald)").status != 0)
            #expect(try await asService("test -e /proc/\(pid)").status == 0)

            // The loaded unit, scored by the systemd that runs it.
            let score = try await box.shell("SYSTEMD_COLORS=0 systemd-analyze security --no-pager \(Self.unit)")
            let exposure = try #require(DeploymentFixture.overallExposure(in: score.output), "\(score.output)")
            #expect(exposure <= SystemdUnitTests.maximumExposure, "\(score.output)")
            // A forbidden system call is refused with EPERM, not a kill: the daemon is still up.
            #expect(try await box.properties(Self.unit)["ActiveState"] == "active")
        }
    }

    @Test("two advertisers side by side: template instances with their own state, inbox, token, TikTok and journal")
    func twoInstances() async throws {
        var northwindEmulator = EmulatorConfiguration()
        northwindEmulator.advertiserID = "7000000000000000001"
        northwindEmulator.accessToken = "northwind-token"
        var contosoEmulator = EmulatorConfiguration()
        contosoEmulator.advertiserID = "7000000000000000002"
        contosoEmulator.accessToken = "contoso-token"
        try await TikTokEmulator.withRunning(northwindEmulator) { northwind in
            try await TikTokEmulator.withRunning(contosoEmulator) { contoso in
                try await SystemdBox.with { box in
                    let packages = try await BoxPackages.shared.built()
                    try await box.must("dpkg -i /packages/\(packages.current)")
                    for (name, emulator, advertiser) in [("northwind", northwind, "7000000000000000001"), ("contoso", contoso, "7000000000000000002")] {
                        // As the guide's agency example: NAME.yaml, NAME.token, an inbox and state of its own.
                        try await box.must("install -d -m 2750 -o tiktok-audience-sync -g tiktok-audience-sync /srv/audience-inbox/\(name)")
                        try await box.configure(
                            config: "/etc/tiktok-audience-sync/\(name).yaml", inbox: "/srv/audience-inbox/\(name)",
                            state: "\(Self.state)/\(name)", token: "/etc/tiktok-audience-sync/\(name).token", baseURL: emulator.baseURL,
                            advertiser: advertiser, tokenText: "\(name)-token", partners: ["acme": ["123456"]])
                    }
                    try await box.must("systemctl enable --now \(Self.unit)@northwind \(Self.unit)@contoso")
                    let north = hashes("northwind", 4), south = hashes("contoso", 6)
                    try await box.upload("/srv/audience-inbox/northwind/acme", "list.csv", csv(north))
                    try await box.upload("/srv/audience-inbox/contoso/acme", "list.csv", csv(south))
                    let synced = await eventually(timeout: .seconds(60)) {
                        let first = await members(northwind), second = await members(contoso)
                        return first == Set(north) && second == Set(south)
                    }
                    await box.expect(synced, "each advertiser's file at its own TikTok", journalOf: "\(Self.unit)@northwind", "\(Self.unit)@contoso")
                    for name in ["northwind", "contoso"] {
                        try await box.must("test -s \(Self.state)/\(name)/ledger.sqlite && test -d \(Self.state)/\(name)/archive/acme")
                        let journal = try await box.journal("\(Self.unit)@\(name)")
                        let other = name == "northwind" ? "contoso" : "northwind"
                        #expect(journal.contains("acme/list.csv") && !journal.contains(other), "\(name):\n\(journal)")
                        let identifiers = try await box.must("journalctl -u \(Self.unit)@\(name) -o verbose --no-pager | grep '^ *SYSLOG_IDENTIFIER=' | sort -u")
                        #expect(!identifiers.isEmpty && !identifiers.contains(other), "\(identifiers)")
                    }
                    #expect(!FileManager.default.fileExists(atPath: "/var/lib/tiktok-audience-sync/northwind"), "the host is untouched")
                }
            }
        }
    }

    @Test("upgrade from the previous package: the running daemon is restarted on the new one, an older ledger copied before its schema step; purge")
    func upgradeAndPurge() async throws {
        try await TikTokEmulator.withRunning { emulator in
            try await SystemdBox.with { box in
                let packages = try await BoxPackages.shared.built()
                try await box.installAndConfigure(package: packages.previous, baseURL: emulator.baseURL)
                // sysusers.d and tmpfiles.d made the user, the state directory and the inbox root.
                try await box.must(
                    "id tiktok-audience-sync && test \"$(stat -c %U \(Self.state))\" = tiktok-audience-sync && test -d /srv/audience-inbox "
                        + "&& test -f /lib/systemd/system/\(Self.unit)@.service")
                try await box.must("systemctl enable --now \(Self.unit)")
                let people = hashes("before-upgrade", 5)
                try await box.upload(Self.inbox, "before.csv", csv(people))
                #expect(await eventually(timeout: .seconds(30)) { await members(emulator) == Set(people) })
                let before = try await box.properties(Self.unit)

                // An instance whose ledger an older version wrote (schema step 2), stopped.
                let old = try Self.ledgerFromSchemaStep2(folder: box.exchange, member: people[0])
                try await box.must("install -d -m 2750 -o tiktok-audience-sync -g tiktok-audience-sync /srv/audience-inbox/legacy")
                try await box.configure(
                    config: "/etc/tiktok-audience-sync/legacy.yaml", inbox: "/srv/audience-inbox/legacy", state: "\(Self.state)/legacy",
                    token: "/etc/tiktok-audience-sync/legacy.token", baseURL: emulator.baseURL, partners: ["acme": ["123456", "654321"]])
                try await box.must(
                    "install -d -m 0750 -o tiktok-audience-sync -g tiktok-audience-sync \(Self.state)/legacy && "
                        + "install -m 0640 -o tiktok-audience-sync -g tiktok-audience-sync /exchange/\(old) \(Self.state)/legacy/ledger.sqlite")

                let upgraded = try await box.shell("dpkg -i /packages/\(packages.current)")
                #expect(upgraded.status == 0, "\(upgraded.output)")
                let after = try await box.properties(Self.unit)
                #expect(after["ActiveState"] == "active" && after["MainPID"] != before["MainPID"], "try-restarted: \(before) → \(after)")
                let version = try await box.must("dpkg-query -W -f '${Version}' tiktok-audience-sync")
                #expect(!version.hasPrefix("0.0.1~"), "\(version)")
                let later = hashes("after-upgrade", 3)
                try await box.upload(Self.inbox, "after.csv", "email_hash,segment_id,action\n" + later.map { "\($0),123456,add\n" }.joined())
                #expect(await eventually(timeout: .seconds(30)) { await members(emulator) == Set(people + later) })

                // The older ledger: copied beside it before its schema is brought up to date; its
                // pending add goes out.
                try await box.must("systemctl start \(Self.unit)@legacy")
                try await box.must("test -s \(Self.state)/legacy/ledger.sqlite.before-upgrade-from-step-2")
                let sent = await eventually(timeout: .seconds(30)) { await members(emulator, "654321").contains(people[0]) }
                await box.expect(sent, "the older ledger's pending add sent", journalOf: "\(Self.unit)@legacy")

                // Purge: the services stop, the configuration and the access tokens go, the ledgers stay.
                let purged = try await box.shell("dpkg --purge tiktok-audience-sync")
                #expect(purged.status == 0, "\(purged.output)")
                #expect(!purged.output.contains("not empty"), "\(purged.output)")
                #expect(purged.output.contains("is kept"), "\(purged.output)")
                let left = try await box.shell("ls -A /etc/tiktok-audience-sync 2>&1; systemctl is-active \(Self.unit) \(Self.unit)@legacy")
                #expect(left.stdout.contains("No such file") || left.output.contains("No such file"), "\(left.output)")
                #expect(!left.stdout.contains("token"), "\(left.output)")
                #expect(!left.stdout.contains("\nactive"), "\(left.output)")
                try await box.must(
                    "test -s \(Self.state)/ledger.sqlite && test -s \(Self.state)/legacy/ledger.sqlite && id tiktok-audience-sync "
                        + "&& ! test -e /usr/bin/tiktok-audience-sync")
            }
        }
    }

    /// A ledger as a version at schema step 2 left it: `member` confirmed in 123456 and wished,
    /// not yet confirmed, in 654321. Written to `folder`; its file name.
    static func ledgerFromSchemaStep2(folder: String, member: String) throws -> String {
        let name = "ledger-step-2.sqlite"
        let connection = try SQLiteConnection(path: folder + "/" + name)
        for step in Migrations.steps.prefix(2) { try connection.execute(step.sql) }
        try connection.execute(
            """
            PRAGMA user_version = 2;
            INSERT INTO segment (id, audience_id) VALUES (1, '123456'), (2, '654321');
            INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen) VALUES
                (1, 1, x'\(member)', 1, 1, 1, 1), (2, 1, x'\(member)', 1, 0, 1, 1);
            """)
        return name
    }
}
