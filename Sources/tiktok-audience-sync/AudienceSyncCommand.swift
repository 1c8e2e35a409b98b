import ArgumentParser

@main
struct AudienceSyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tiktok-audience-sync",
        abstract: "Keeps TikTok audience segments in step with audience files dropped into an inbox folder.",
        discussion: """
            Files (CSV, optionally gzip) name members by email_hash, phone_hash, email, phone or maid, and
            a segment_id; with an action column they are deltas, without one they are snapshots. Each file is
            read once, recorded in a SQLite ledger, and only the net changes are sent to TikTok.

            Exit codes: 0 done, 65 input rejected, 70 a defect (please report it), 75 work left pending
            (try again later), 78 an operator must act (bad configuration; for status, also a refused
            token, a parked segment or a held snapshot).
            """,
        version: "0.1.0",
        subcommands: [Run.self, Once.self, Validate.self, Plan.self, Status.self, Check.self, Segments.self, Hash.self, Lookup.self, Retry.self, Approve.self, Backup.self, Auth.self]
    )

    static func main() async {
        ProcessMemory.useOneMallocArena()
        // `run` and `once` stop gracefully on SIGTERM from their first moment; the other commands
        // keep the default (Ctrl-C ends them at once).
        if let command = CommandLine.arguments.dropFirst().first, ["run", "once"].contains(command) {
            await StopSignals.trapAtStart(hangups: command == "run")
        }
        await main(nil)
    }
}

/// Options every command that reads the configuration takes.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
    var config: String = "/etc/tiktok-audience-sync/config.yaml"

    @Option(name: .long, help: "Log level: debug, info, notice, warning, error (default: info; warning for once on a terminal, where its summary says the rest).")
    var logLevel: String?
}
