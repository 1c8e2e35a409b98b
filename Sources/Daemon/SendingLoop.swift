import Logging
import ServiceLifecycle
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceSending
import AudienceSupport
import AudienceTikTok

/// Sends pending work whenever the intake has applied a file, and retries on a timer while TikTok
/// refuses or is unreachable. With ``PipelineFinish/whenDrained`` (`once`) it ends instead: when
/// the intake is done and nothing is left to send, or when sending cannot go on now. The token is
/// looked up again before every pass; while TikTok refuses, a change to the token file ends the
/// wait at once, so a token renewed by `tiktok-audience-sync auth` is used without a restart. On
/// a graceful shutdown the requests in flight finish and their answers are recorded; nothing new
/// is sent.
struct SendingLoop: Sendable {
    let settings: DaemonSettings
    let ledger: Ledger
    let bell: Doorbell
    let status: DaemonStatus
    let logger: Logger
    let environment: [String: String]
    let redactor: Redactor
    let finish: PipelineFinish
    let outcome: PipelineOutcome

    func run() async {
        var wait: Duration = .zero
        var refusals = 0
        var usedToken: AccessToken?
        // One for the life of the daemon: what TikTok's rate limits taught one pass holds for the next.
        var limiter = RateLimiter(requestsPerSecond: settings.current.tiktok.requestsPerSecond)
        var window = InFlightWindow(ceiling: settings.current.tiktok.maxInFlight)
        while !isStopping {
            if refusals > 0 {
                await waitWhileRefused(wait, refused: usedToken)
            } else {
                _ = await cancelWhenGracefulShutdown { [bell, wait] in await bell.wait(timeout: wait) }
            }
            if isStopping { return }
            let configuration = settings.current
            let idle = Duration.milliseconds(Int64(configuration.rescanSeconds * 1000))
            if limiter.ceiling != max(0.1, configuration.tiktok.requestsPerSecond) {
                limiter = RateLimiter(requestsPerSecond: configuration.tiktok.requestsPerSecond)  // reloaded
            }
            if window.ceiling != max(1, configuration.tiktok.maxInFlight) {
                window = InFlightWindow(ceiling: configuration.tiktok.maxInFlight)  // reloaded
            }
            // What the intake had done before this pass: a file applied during it gets another.
            let intakeWasDone = outcome.intakeDone
            do {
                let result = try await sendOnce(configuration, limiter: limiter, window: window, usedToken: &usedToken)
                if finish == .whenDrained {
                    switch result {
                    case .morePending:
                        wait = .zero
                        continue
                    case .settled where !intakeWasDone, .refused(.refusedBatches) where !intakeWasDone,
                        .refused(nil) where !intakeWasDone:
                        wait = .seconds(3600)  // until the intake rings: a file applied, or done
                        continue
                    case .settled:
                        outcome.senderEnded(nil)
                    case .refused(let stop):
                        outcome.senderEnded(stop)
                    }
                    return
                }
                switch result {
                case .settled:
                    refusals = 0
                    wait = idle
                case .morePending:
                    refusals = 0
                    wait = .zero
                case .refused:
                    refusals += 1
                    // 30 s, 1 min, 2 min … up to 10 min between passes while TikTok refuses.
                    wait = min(.seconds(600), .seconds(30) * (1 << min(refusals - 1, 5)))
                }
                wait = try await untilNextRecheck(atMost: wait)
            } catch {
                logger.error("sending failed; trying again", metadata: ["error": "\(error)"])
                if finish == .whenDrained {
                    outcome.senderEnded(nil, error: error)
                    return
                }
                wait = .seconds(30)
            }
        }
    }

    /// A graceful shutdown (or a cancellation) has begun: nothing new is sent.
    private var isStopping: Bool { Task.isShuttingDownGracefully || Task.isCancelled }

    private enum PassResult {
        case settled
        case morePending
        /// Nothing more can be sent now; nil: the pass was stopped.
        case refused(SenderStop?)
    }

    /// `wait`, or less when a recheck of members whose request got no sure answer falls due sooner.
    private func untilNextRecheck(atMost wait: Duration) async throws -> Duration {
        let rechecks = try await ledger.reader.pendingRechecks()
        guard let next = rechecks.next else { return wait }
        let due = Duration.milliseconds(max(0, (Double(next) - clockSeconds()) * 1000) + 50)
        return min(wait, due)
    }

    /// The token a pass would use now (nil: none, or unreadable).
    private func currentToken(_ configuration: Configuration) -> AccessToken? {
        (try? TokenSource.resolve(configuration: configuration, environment: environment))?.token
    }

    /// While TikTok refuses: waits for the bell or `duration`, and also returns as soon as the
    /// token file holds a token other than the one refused, so a token renewed by
    /// `tiktok-audience-sync auth` is used at once, without a restart. (A token from the
    /// environment or a systemd credential cannot change while the process runs.) The file is
    /// watched from here on, and looked at once first: it may have been renewed while the refused
    /// request was out. Where its folder cannot be watched (not there yet), it is looked at every
    /// ``unwatchedTokenCheck`` instead.
    private func waitWhileRefused(_ duration: Duration, refused: AccessToken?) async {
        let path = settings.current.tiktok.accessTokenFile
        let tokenFile = path.flatMap { FileChangeWatch(path: $0) }
        let clock = ContinuousClock()
        let end = clock.now + duration
        var look = path != nil
        while !isStopping {
            if look, currentToken(settings.current)?.value != refused?.value {
                logger.notice("a new access token is in place; sending again")
                return
            }
            guard clock.now < end else { return }
            let slice = path != nil && tokenFile == nil ? min(end - clock.now, Self.unwatchedTokenCheck) : end - clock.now
            let wake = await cancelWhenGracefulShutdown { [bell] in
                await Wake.first(bell: bell, tokenFile: tokenFile, timeout: slice)
            }
            if wake == .rung { return }
            look = path != nil
        }
    }

    /// How often a token file whose folder cannot be watched is looked at while TikTok refuses.
    static let unwatchedTokenCheck: Duration = .seconds(30)

    /// What ended a wait while TikTok refuses.
    private enum Wake: Sendable, Equatable {
        case rung
        case tokenFileChanged
        case timedOut

        /// Whichever comes first; a ring that comes at the same moment as another wake is never lost.
        static func first(bell: Doorbell, tokenFile: FileChangeWatch?, timeout: Duration) async -> Wake {
            await withTaskGroup(of: Wake.self) { group in
                group.addTask { await bell.wait(timeout: timeout) ? .rung : .timedOut }
                if let tokenFile {
                    group.addTask { await tokenFile.changes.wait(timeout: timeout) ? .tokenFileChanged : .timedOut }
                }
                var wakes: [Wake] = []
                if let first = await group.next() { wakes.append(first) }
                group.cancelAll()
                for await other in group { wakes.append(other) }
                return wakes.contains(.rung) ? .rung : wakes.contains(.tokenFileChanged) ? .tokenFileChanged : .timedOut
            }
        }
    }

    private func sendOnce(
        _ configuration: Configuration, limiter: RateLimiter, window: InFlightWindow, usedToken: inout AccessToken?
    ) async throws -> PassResult {
        // Sends a dead process left unfinished, and due rechecks, become pending work first.
        try await Sender.reclaimInFlight(ledger, options: configuration.senderOptions, logger: logger)
        guard try await ledger.reader.hasPendingWork() else {
            status.sender("idle, 0 pending")
            return .settled
        }
        let resolved: (token: AccessToken, origin: String)?
        do {
            resolved = try TokenSource.resolve(configuration: configuration, environment: environment)
        } catch {
            usedToken = nil
            status.sender("paused: \(error)")
            logger.critical("sending paused: \(error)")
            return .refused(.tokenUnreadable("\(error)"))
        }
        guard let resolved else {
            usedToken = nil
            status.sender("paused: no access token")
            logger.critical("sending paused: no access token; set the systemd credential tiktok-access-token, TIKTOK_ACCESS_TOKEN or tiktok.access_token_file")
            return .refused(.noToken)
        }
        resolved.token.register(in: redactor)
        usedToken = resolved.token
        status.sender("sending")
        let client = TikTokClient(
            baseURL: configuration.tiktok.baseURL, advertiserID: configuration.tiktok.advertiserID, token: resolved.token,
            timeout: configuration.tiktok.requestTimeout)
        let sender = Sender(ledger: ledger, client: client, options: configuration.senderOptions, limiter: limiter, window: window, logger: logger)
        let endBefore = try await ledger.reader.outboxEnd()
        let report = try await sender.sendPending()
        outcome.sent(report)
        // Stopping: what is left is counted by the next start. (Counting and confirming files
        // walk the whole outbox: seconds after a large file, which a shutdown must not wait for.)
        if isStopping { return .refused(nil) }
        try await Receipts(configuration: configuration, ledger: ledger, logger: logger).confirmSettled()
        let left = try await ledger.reader.pendingCounts().total
        if let pause = report.pause {
            status.sender("paused: \(pause.kind.rawValue), \(left) pending")
            return .refused(.paused(pause.message))
        }
        if !report.failures.isEmpty {
            status.sender("\(left) pending; TikTok refused \(report.failures.count) batch(es)")
            return .refused(.refusedBatches(report.failures.count))
        }
        // TikTok answered: what is left was planned meanwhile, or a newer file changed the rows
        // whose confirmation came back; go on at once.
        if left > 0 && (report.acknowledged > 0 || report.requests > 0) { return .morePending }
        // A file planned during the pass (its rows wait for the next pass) is no refusal.
        if left > 0, !isStopping, try await ledger.reader.outboxEnd() != endBefore { return .morePending }
        status.sender(left == 0 ? "idle, 0 pending" : "\(left) pending")
        return left == 0 ? .settled : .refused(nil)
    }
}
