import Logging
import ServiceLifecycle
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceReading
import AudienceSupport

/// The intake and the sender, wired together: what `run` keeps going and `once` runs until the
/// inbox is drained. Both commands build their services here, so that they cannot differ.
public struct Pipeline: Sendable {
    public let settings: DaemonSettings
    public let ledger: Ledger
    public let inboxBell = Doorbell()
    public let senderBell = Doorbell()
    public let status: DaemonStatus
    /// Set by the first service told to shut down (the sender): the intake's planning gives up at
    /// once, so that the sender's last confirmations never wait for a large file's transaction.
    let stopping = StopFlag()
    let logger: Logger
    let environment: [String: String]
    let redactor: Redactor

    public init(
        configuration: Configuration, ledger: Ledger, logger: Logger, environment: [String: String], redactor: Redactor,
        status: DaemonStatus = DaemonStatus(notifier: SystemdNotifier()), settings: DaemonSettings? = nil
    ) {
        self.settings = settings ?? DaemonSettings(configuration)
        self.ledger = ledger
        self.status = status
        self.logger = logger
        self.environment = environment
        self.redactor = redactor
    }

    /// The intake, then the sender: a graceful shutdown stops them the other way round (nothing
    /// new is sent, answers in flight are recorded; then the planning gives up).
    public func services(
        finish: PipelineFinish, outcome: PipelineOutcome, watcher: InboxWatcher?,
        progress: (@Sendable (ReadProgress) -> Void)? = nil
    ) -> [any Service] {
        senderBell.ring()
        return [
            IntakeService(
                settings: settings, ledger: ledger, watcher: watcher, inboxBell: inboxBell, senderBell: senderBell,
                status: status, logger: logger, finish: finish, outcome: outcome, pipelineStop: stopping, progress: progress),
            SenderService(
                settings: settings, ledger: ledger, bell: senderBell, status: status, logger: logger,
                environment: environment, redactor: redactor, finish: finish, outcome: outcome, pipelineStop: stopping,
                inboxBell: inboxBell),
        ]
    }
}
