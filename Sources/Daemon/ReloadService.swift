import Logging
import ServiceLifecycle
import UnixSignals
import AudienceConfig
import AudienceSupport

/// SIGHUP reloads the configuration (partners, settle time, TikTok settings; the token is looked
/// up again on every sending pass anyway). A configuration that does not load is refused and the
/// one in force stays, so a typo never stops the daemon.
public struct ReloadService: Service {
    let settings: DaemonSettings
    let notifier: SystemdNotifier
    let status: DaemonStatus
    let inboxBell: Doorbell
    let senderBell: Doorbell
    let logger: Logger
    let load: @Sendable () async throws -> Configuration
    let hangups: UnixSignalsSequence

    /// `hangups`: SIGHUP, trapped before READY=1 is sent (a reload asked for at once must not
    /// find SIGHUP's default action, which ends the process).
    public init(
        settings: DaemonSettings, notifier: SystemdNotifier, status: DaemonStatus, inboxBell: Doorbell, senderBell: Doorbell,
        logger: Logger, hangups: UnixSignalsSequence, load: @escaping @Sendable () async throws -> Configuration
    ) {
        self.hangups = hangups
        self.settings = settings
        self.notifier = notifier
        self.status = status
        self.inboxBell = inboxBell
        self.senderBell = senderBell
        self.logger = logger
        self.load = load
    }

    public func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            notifier.reloading()
            do {
                let next = try await load()
                if settings.current.partners != nil && next.partners == nil {
                    logger.warning("partners: is gone from the configuration: every folder of the inbox is now read and may change any segment")
                }
                if let exposure = TokenSource.exposure(configuration: next) { logger.warning("\(exposure)") }
                let kept = settings.replace(with: next)
                status.configuration("")
                if !kept.isEmpty {
                    logger.warning("configuration reloaded; \(kept.joined(separator: " and ")) change only on restart")
                } else {
                    logger.notice("configuration reloaded", metadata: [
                        "partners": "\(next.partners.map { $0.keys.sorted().joined(separator: ",") } ?? "any")",
                    ])
                }
            } catch {
                logger.error("configuration not reloaded, keeping the one in force: \(error)")
                // Said in the status line until a reload succeeds: READY=1 alone would read as success.
                status.configuration("reload refused, previous configuration kept: \(error)")
            }
            notifier.ready(status: status.line)
            inboxBell.ring()
            senderBell.ring()
        }
    }
}
