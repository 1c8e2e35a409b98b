import ArgumentParser
import UnixSignals
import Prometheus
import Foundation
import Logging
import ServiceLifecycle
import AudienceConfig
import AudienceDaemon
import AudienceInbox
import AudienceSupport

extension AudienceSyncCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the daemon: watch the inbox, apply each file once, keep TikTok in step.",
            discussion: """
                Meant for systemd (Type=notify): READY=1 once the ledger is open and the inbox listed,
                STATUS= lines for `systemctl status`, watchdog pings, SIGTERM finishes the request in
                flight and exits 0, SIGHUP reloads the configuration.
                Example: tiktok-audience-sync run --config /etc/tiktok-audience-sync/config.yaml
                """)

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            try await StopSignals.trapping { relay in try await work(relay) }
        }

        private func work(_ relay: StopSignals.Relay) async throws {
            var context = try await CommandContext.load(options)
            try context.useStateDirectory()
            let configuration = context.configuration
            let lock = try context.lockStateDirectory()
            defer { withExtendedLifetime(lock) {} }
            let notifier = SystemdNotifier()
            notifier.extendStartup(by: .seconds(3600), status: "opening the ledger (upgrading it if an older version wrote it)")
            let ledger = try await context.openLedger(holdingLock: true)
            let environment = context.environment
            let inboxBell = Doorbell()
            let watcher: InboxWatcher
            let pipeline: Pipeline
            let hangups: UnixSignalsSequence
            do {
                watcher = try InboxWatcher(doorbell: inboxBell, excluded: [configuration.stateDirectory], logger: context.logger)
                pipeline = Pipeline(
                    configuration: configuration, ledger: ledger, finish: .whenStopped, logger: context.logger,
                    environment: environment, redactor: context.redactor, inboxBell: inboxBell, watcher: watcher,
                    status: DaemonStatus(notifier: notifier))
                // A walk of the whole inbox: off Swift's cooperative threads, as every walk is.
                let scanner = InboxScanner(
                    root: configuration.inbox, excluded: [configuration.stateDirectory], settleSeconds: configuration.settleSeconds)
                let listing = try await ThreadExecutor(label: "tiktok-audience-sync.startup").run { try scanner.list() }
                // Watched before READY=1: events from here on are kept until the watcher's service reads them.
                watcher.watch(listing.folders)
                let waiting = listing.files.count
                let pending = try await ledger.reader.pendingCounts().total
                hangups = await StopSignals.hangups()
                notifier.ready(status: "started: \(waiting) file(s) in the inbox, \(pending) pending")
                context.logger.notice("started", metadata: [
                    "inbox": "\(configuration.inbox)", "files": "\(waiting)", "pending": "\(pending)",
                    "token": "\(context.tokenOrigin ?? "none")",
                ])
                if let exposure = TokenSource.exposure(configuration: configuration) { context.logger.warning("\(exposure)") }
                if configuration.partners == nil {
                    context.logger.notice("no partners: in the configuration: every folder of the inbox is read and may change any segment")
                }
            } catch {
                throw fail(error, redactor: context.redactor)
            }
            let path = options.config
            // A graceful shutdown stops services from the last to the first: the pipeline first
            // (the intake gives up its planning at once; nothing new is sent, the answers in
            // flight are recorded), then the inbox's watcher, the reload, the watchdog, metrics.
            var metrics: [any Service] = []
            if let address = configuration.metricsListen {
                let registry = PrometheusCollectorRegistry()
                DaemonMetrics.bootstrap(registry)
                metrics = [
                    MetricsEndpoint(registry: registry, address: address, logger: context.logger),
                    MetricsRefresher(ledger: ledger, settings: pipeline.settings, logger: context.logger),
                ]
                if !address.isLoopback {
                    context.logger.warning("metrics.listen \(address.description) is not a loopback address: anyone who can reach it reads the metrics")
                }
            }
            let services: [any Service] = metrics + [
                WatchdogService(notifier: notifier),
                ReloadService(
                    settings: pipeline.settings, notifier: notifier, status: pipeline.status, inboxBell: pipeline.inboxBell,
                    senderBell: pipeline.senderBell, logger: context.logger, hangups: hangups,
                    load: { try await ConfigurationLoader.load(path: path, environment: environment) }),
                InboxWatcherService(watcher),
                pipeline,
            ]
            var group = ServiceGroupConfiguration(services: services.map {
                ServiceGroupConfiguration.ServiceConfiguration(service: $0, successTerminationBehavior: .gracefullyShutdownGroup)
            }, logger: context.logger)
            group.maximumGracefulShutdownDuration = .seconds(60)
            do {
                try await relay.run(ServiceGroup(configuration: group))
            } catch {
                let ending = PipelineEnding.run(groupError: error)
                throw fail(ending.message ?? "stopped: \(error)", Exit.code(for: ending), redactor: context.redactor)
            }
            notifier.stopping()
            context.logger.notice("stopped")
        }
    }
}
