import Logging
import ServiceLifecycle
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceReading
import AudienceSupport

/// Takes files from the inbox as they arrive: woken by inotify events, by files that are due to
/// settle, and every `rescan_seconds` regardless. A graceful shutdown cancels it: no new file is
/// taken, and the planning of a large file gives up at once (nothing is committed; the file stays).
///
/// With ``PipelineFinish/whenDrained`` (`once`), it ends once no file in the inbox will be
/// ready soon: every ready file is taken, and files still settling were waited for.
struct IntakeLoop: Sendable {
    let settings: DaemonSettings
    let ledger: Ledger
    let watcher: InboxWatcher?
    let inboxBell: Doorbell
    let senderBell: Doorbell
    let status: DaemonStatus
    let logger: Logger
    let finish: PipelineFinish
    let outcome: PipelineOutcome
    let progress: (@Sendable (ReadProgress) -> Void)?

    func run() async {
        await cancelWhenGracefulShutdown { await looks() }
        if Task.isShuttingDownGracefully || Task.isCancelled { outcome.stop() }
        outcome.intakeFinished()
        senderBell.ring()
    }

    /// One look after another, until cancelled (or drained, for `once`).
    private func looks() async {
        let intake = Intake(configuration: settings.current, ledger: ledger, logger: logger, progress: planningProgress)
        let chores = IntakeChores(ledger: ledger, logger: logger)
        var memory = LookMemory()
        while !Task.isCancelled {
            let configuration = settings.current
            await intake.use(configuration)
            await noteHashingRules(configuration, in: &memory)
            // Before the look: the space it frees counts for the files waiting for some.
            await chores.sweepRetentionIfDue(configuration)
            let next: NextLook
            do {
                let pass = try await intake.processReadyFiles(
                    renamedIn: { [watcher] in watcher?.wasRenamedIn($0) ?? false },
                    onFile: { [status] file in status.intake("planning \(file.relativePath)") })
                report(pass, configuration, memory: &memory)
                await chores.writeStatus(
                    DaemonStatusFile(
                        lastScanAt: clockSeconds(), status: status.intakeLine,
                        inboxError: pass.failures.first.map { "\($0.file): \($0.error)" }),
                    stateDirectory: configuration.stateDirectory)
                next = nextLook(after: pass, configuration)
            } catch {
                logger.error("cannot take files from the inbox; trying again", metadata: ["error": "\(error)"])
                status.intake("inbox error: \(error)")
                outcome.intakeFailed(error)
                await chores.writeStatus(
                    DaemonStatusFile(lastScanAt: clockSeconds(), status: status.intakeLine, inboxError: "\(error)"),
                    stateDirectory: configuration.stateDirectory)
                next = NextLook(afterSeconds: configuration.rescanSeconds, drained: true)
            }
            if Task.isCancelled || (finish == .whenDrained && next.drained) { return }
            await inboxBell.wait(timeout: .milliseconds(Int64(next.afterSeconds * 1000)))
        }
    }

    /// What one look remembers for the next: what was said about waiting files (said once per
    /// file and reason, not at every rescan) and the identifier rules last recorded.
    private struct LookMemory {
        var warned: [String: WaitReason] = [:]
        var notedRules: String?
    }

    /// When to look again, and whether `once` may end (no file is still being written).
    private struct NextLook {
        var afterSeconds: Double
        var drained: Bool
    }

    /// How planning goes, on the status line and to whoever asked (`once`'s progress).
    private var planningProgress: @Sendable (ReadProgress) -> Void {
        { [status, progress, inbox = settings.current.inbox] reading in
            let name = reading.path.hasPrefix(inbox + "/") ? String(reading.path.dropFirst(inbox.count + 1)) : reading.path
            status.intake("planning \(name): \(reading.rows.formatted()) rows, \(Int(reading.fraction * 100))%")
            progress?(reading)
        }
    }

    /// Records the identifier rules in the ledger at start, and again only when a reload changed
    /// them; says what changed. Bookkeeping: a busy or full disk here must not stop the intake.
    private func noteHashingRules(_ configuration: Configuration, in memory: inout LookMemory) async {
        let rules = configuration.identifiers.hashingKey
        guard rules != memory.notedRules else { return }
        do {
            if let earlier = try await ledger.noteHashingRules(rules) {
                let changes = configuration.identifiers.changes(since: earlier)
                if !changes.isEmpty { logger.warning("\(HashingRulesChange.message(changes))") }
            }
            memory.notedRules = rules
        } catch {
            logger.warning("could not record the identifier rules in the ledger", metadata: ["error": "\(error)"])
        }
    }

    /// Tells what a look did: `once`'s outcome, the metrics, the watcher (new folders, renames
    /// taken), the status line, the sender (a file applied), and the journal (once per waiting
    /// file and reason).
    private func report(_ pass: IntakePass, _ configuration: Configuration, memory: inout LookMemory) {
        outcome.intake(pass)
        DaemonMetrics.intake(pass, now: clockSeconds())
        watcher?.watch(pass.folders)
        for receipt in pass.receipts { _ = watcher?.takeRenamedIn(configuration.inbox + "/" + receipt.file) }
        if let failure = pass.failures.first {
            status.intake("inbox error: \(pass.failures.count) file(s) could not be taken (\(failure.error))")
        } else {
            status.intake(pass.waiting.isEmpty ? "" : "\(pass.waiting.count) file(s) waiting in the inbox")
        }
        var stillWaiting: [String: WaitReason] = [:]
        for (file, reason) in pass.waiting where !reason.isSettling {
            stillWaiting[file] = reason
            if memory.warned[file] != reason {
                logger.warning("file left in the inbox: \(reason)", metadata: ["file": "\(file)"])
            }
        }
        memory.warned = stillWaiting
        if pass.receipts.contains(where: { $0.outcome == .applied }) { senderBell.ring() }
    }

    /// The next look: at `rescan_seconds`, or sooner when a file is due to have settled (or to
    /// count as abandoned); `once` waits for files still being written, not for abandoned ones.
    private func nextLook(after pass: IntakePass, _ configuration: Configuration) -> NextLook {
        var wait = configuration.rescanSeconds
        if let next = pass.nextCheck { wait = max(0.05, min(wait, next - clockSeconds())) }
        if finish == .whenDrained, let next = pass.settledAt { wait = max(0.05, next - clockSeconds() + 0.05) }
        return NextLook(afterSeconds: wait, drained: pass.settledAt == nil)
    }
}
