import Logging
import AudienceConfig
import AudienceLedger
import AudienceSupport

/// The intake's bookkeeping that blocks on the disk: retention's walks and deletions, and the
/// status file written with fsync after every look. On a thread of its own, so that none of it
/// holds one of Swift's two cooperative threads (the watchdog and the sender's answers need them).
actor IntakeChores {
    private nonisolated let executor = ThreadExecutor(label: "tiktok-audience-sync.intake-chores")
    private var retention = RetentionKeeper()
    private let ledger: Ledger
    private let logger: Logger

    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(ledger: Ledger, logger: Logger) {
        self.ledger = ledger
        self.logger = logger
    }

    /// Applies `retention:` when an hour has passed since the last sweep (at the first look too).
    func sweepRetentionIfDue(_ configuration: Configuration) async {
        var keeper = retention
        await keeper.sweepIfDue(configuration, ledger: ledger, logger: logger)
        retention = keeper
    }

    /// What the intake last saw, for `status`.
    func writeStatus(_ file: DaemonStatusFile, stateDirectory: String) {
        file.write(stateDirectory: stateDirectory)
    }
}
