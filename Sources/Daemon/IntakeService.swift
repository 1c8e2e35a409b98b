import Glibc
import Logging
import ServiceLifecycle
import AudienceInbox
import AudienceLedger
import AudienceReading
import AudienceSupport

/// Takes files from the inbox as they arrive: woken by inotify events, by files that are due to
/// settle, and every `rescan_seconds` regardless. On a graceful shutdown it takes no new file,
/// and the planning of a large file gives up at once (nothing is committed; the file stays).
///
/// With ``PipelineFinish/whenDrained`` (`once`), it ends once no file in the inbox will be
/// ready soon: every ready file is taken, and files still settling were waited for.
public struct IntakeService: Service {
    let settings: DaemonSettings
    let ledger: Ledger
    let watcher: InboxWatcher?
    let inboxBell: Doorbell
    let senderBell: Doorbell
    let status: DaemonStatus
    let logger: Logger
    let finish: PipelineFinish
    let outcome: PipelineOutcome
    /// Set when the pipeline stops (see ``Pipeline``): planning gives up, no new file is taken.
    let pipelineStop: StopFlag
    let progress: (@Sendable (ReadProgress) -> Void)?

    /// `watcher`: nil for `once`, which does not wait for events. `progress`: how planning goes,
    /// besides the status line.
    public init(
        settings: DaemonSettings, ledger: Ledger, watcher: InboxWatcher?, inboxBell: Doorbell, senderBell: Doorbell,
        status: DaemonStatus, logger: Logger, finish: PipelineFinish = .whenStopped, outcome: PipelineOutcome = PipelineOutcome(.whenStopped),
        pipelineStop: StopFlag = StopFlag(), progress: (@Sendable (ReadProgress) -> Void)? = nil
    ) {
        self.settings = settings
        self.ledger = ledger
        self.watcher = watcher
        self.inboxBell = inboxBell
        self.senderBell = senderBell
        self.status = status
        self.logger = logger
        self.finish = finish
        self.outcome = outcome
        self.pipelineStop = pipelineStop
        self.progress = progress
    }

    public func run() async throws {
        let stopping = StopFlag()
        var warned: [String: String] = [:]
        var notedRules: String?
        var retention = RetentionKeeper()
        let pipelineStop = pipelineStop
        await withGracefulShutdownHandler {
            while !stopping.isSet && !pipelineStop.isSet && !Task.isCancelled {
                let configuration = settings.current
                var wait = configuration.rescanSeconds
                var drained = false
                do {
                    // Bookkeeping only: a busy or full disk here must not stop the intake.
                    do {
                        // Once at start, and again only when a reload changed the rules.
                        let rules = configuration.identifiers.hashingKey
                        if rules != notedRules, let earlier = try await ledger.noteHashingRules(rules) {
                            let changes = configuration.identifiers.changes(since: earlier)
                            if !changes.isEmpty { logger.warning("\(HashingRulesChange.message(changes))") }
                        }
                        notedRules = rules
                    } catch {
                        logger.warning("could not record the identifier rules in the ledger", metadata: ["error": "\(error)"])
                    }
                    // Before the look: the space it frees counts for the files waiting for some.
                    await retention.sweepIfDue(configuration, ledger: ledger, logger: logger)
                    let engine = Intake(
                        configuration: configuration, ledger: ledger, logger: logger,
                        progress: { [status, progress, inbox = configuration.inbox] reading in
                            let name = reading.path.hasPrefix(inbox + "/") ? String(reading.path.dropFirst(inbox.count + 1)) : reading.path
                            status.intake("planning \(name): \(reading.rows.formatted()) rows, \(Int(reading.fraction * 100))%")
                            progress?(reading)
                        })
                    // A shutdown stops the planning of a large file at once (nothing is committed;
                    // the file stays in the inbox), so that SIGTERM never waits for it.
                    let pass = try await engine.processReadyFiles(
                        renamedIn: { [watcher] in watcher?.wasRenamedIn($0) ?? false },
                        onFile: { [status] file in status.intake("planning \(file.relativePath)") },
                        shouldStop: { stopping.isSet || pipelineStop.isSet })
                    outcome.intake(pass)
                    DaemonMetrics.intake(pass, now: clockSeconds())
                    watcher?.watch(pass.folders)
                    for receipt in pass.receipts { _ = watcher?.takeRenamedIn(configuration.inbox + "/" + receipt.file) }
                    if let failure = pass.failures.first {
                        status.intake("inbox error: \(pass.failures.count) file(s) could not be taken (\(failure.error))")
                    } else {
                        status.intake(pass.waiting.isEmpty ? "" : "\(pass.waiting.count) file(s) waiting in the inbox")
                    }
                    // Say once per file why it waits (unreadable, looks cut short), not at every rescan.
                    var stillWaiting: [String: String] = [:]
                    for (file, reason) in pass.waiting where reason != "still being written" {
                        stillWaiting[file] = reason
                        if warned[file] != reason {
                            logger.warning("file left in the inbox: \(reason)", metadata: ["file": "\(file)"])
                        }
                    }
                    warned = stillWaiting
                    DaemonStatusFile(
                        lastScanAt: clockSeconds(), status: status.intakeLine,
                        inboxError: pass.failures.first.map { "\($0.file): \($0.error)" }
                    ).write(stateDirectory: configuration.stateDirectory)
                    if pass.receipts.contains(where: { $0.outcome == .applied }) { senderBell.ring() }
                    if let next = pass.nextCheck {
                        wait = max(0.05, min(wait, next - clockSeconds()))
                    }
                    if finish == .whenDrained, let next = pass.settledAt {
                        wait = max(0.05, next - clockSeconds() + 0.05)
                    }
                    // `once` waits for files still being written, not for ones that look abandoned.
                    drained = pass.settledAt == nil
                } catch {
                    logger.error("cannot take files from the inbox; trying again", metadata: ["error": "\(error)"])
                    status.intake("inbox error: \(error)")
                    outcome.intakeFailed(error)
                    DaemonStatusFile(lastScanAt: clockSeconds(), status: status.intakeLine, inboxError: "\(error)")
                        .write(stateDirectory: configuration.stateDirectory)
                    drained = true
                }
                if stopping.isSet || pipelineStop.isSet || (finish == .whenDrained && drained) { break }
                await inboxBell.wait(timeout: .milliseconds(Int64(wait * 1000)))
            }
            if stopping.isSet || pipelineStop.isSet { outcome.stop() }
            outcome.intakeFinished()
            senderBell.ring()
            // Stopped with the pipeline before being told: the group shuts its services down one
            // by one and takes a service that ends before its turn for a failure.
            while pipelineStop.isSet && !stopping.isSet && !Task.isCancelled {
                await inboxBell.wait(timeout: .seconds(1))
            }
        } onGracefulShutdown: {
            stopping.set()
            pipelineStop.set()
            inboxBell.ring()
        }
    }
}
