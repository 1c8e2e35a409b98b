import Logging
import ServiceLifecycle
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceReading
import AudienceSupport

/// The intake and the sender, as one service: what `run` keeps going and `once` runs until the
/// inbox is drained. Both commands build it here, so that they cannot differ.
///
/// Both run as child tasks and learn of a graceful shutdown at the same moment: the intake is
/// cancelled (no new file is taken; the planning of a large file gives up at once, nothing is
/// committed and the file stays), and the sender sends nothing new, finishes the requests in
/// flight and records their answers, which then never wait for a large file's transaction.
public struct Pipeline: Service {
    public let settings: DaemonSettings
    public let ledger: Ledger
    /// Rung by the inbox's watcher and by a reload: look at the inbox now.
    public let inboxBell: Doorbell
    /// Rung when a file was applied, by a reload, and when the intake ends: send now.
    public let senderBell = Doorbell()
    public let status: DaemonStatus
    /// What the pipeline did, for `once`'s summary and exit code.
    public let outcome: PipelineOutcome
    let finish: PipelineFinish
    let watcher: InboxWatcher?
    let progress: (@Sendable (ReadProgress) -> Void)?
    let logger: Logger
    let environment: [String: String]
    let redactor: Redactor

    /// `watcher`: the inbox's (`run`), ringing `inboxBell`; nil for `once`, which does not wait
    /// for events. `progress`: how planning goes, besides the status line.
    public init(
        configuration: Configuration, ledger: Ledger, finish: PipelineFinish, logger: Logger, environment: [String: String],
        redactor: Redactor, inboxBell: Doorbell = Doorbell(), watcher: InboxWatcher? = nil,
        status: DaemonStatus = DaemonStatus(notifier: SystemdNotifier()), progress: (@Sendable (ReadProgress) -> Void)? = nil
    ) {
        settings = DaemonSettings(configuration)
        self.ledger = ledger
        self.finish = finish
        outcome = PipelineOutcome(finish)
        self.inboxBell = inboxBell
        self.watcher = watcher
        self.status = status
        self.progress = progress
        self.logger = logger
        self.environment = environment
        self.redactor = redactor
    }

    public func run() async {
        let intake = IntakeLoop(
            settings: settings, ledger: ledger, watcher: watcher, inboxBell: inboxBell, senderBell: senderBell,
            status: status, logger: logger, finish: finish, outcome: outcome, progress: progress)
        let sender = SendingLoop(
            settings: settings, ledger: ledger, bell: senderBell, status: status, logger: logger,
            environment: environment, redactor: redactor, finish: finish, outcome: outcome)
        senderBell.ring()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await intake.run() }
            group.addTask { await sender.run() }
        }
    }
}

/// The inbox's inotify watch as a service: listed before the pipeline, it is shut down after it,
/// so the intake has its events for as long as it runs. Events that come between the first
/// watches (made before READY=1) and the start are kept by the kernel.
public struct InboxWatcherService: Service {
    let watcher: InboxWatcher

    public init(_ watcher: InboxWatcher) {
        self.watcher = watcher
    }

    public func run() async {
        watcher.start()
        defer { watcher.stop() }
        try? await gracefulShutdown()
    }
}
