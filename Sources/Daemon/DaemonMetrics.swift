import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceModel
import AudienceSending

/// The daemon's metrics, named by Prometheus' conventions (`tiktok_audience_sync_` prefix, base
/// units, `_total` counters), through swift-metrics; swift-prometheus renders them.
public enum DaemonMetrics {
    static let prefix = "tiktok_audience_sync_"

    /// Makes swift-metrics record into `registry`, with buckets that suit TikTok's answer times.
    public static func bootstrap(_ registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[SendingMetrics.requestDuration] = [
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        MetricsSystem.bootstrap(factory)
        // Every outcome from the start, so that the first rejection is an increase from 0.
        for outcome in ["applied", "duplicate", "rejected", "incomplete", "held"] {
            Counter(label: prefix + "files_total", dimensions: [("outcome", outcome)]).increment(by: 0)
        }
    }

    /// What one look at the inbox found and took.
    static func intake(_ pass: IntakePass, now: Double) {
        for receipt in pass.receipts {
            Counter(label: prefix + "files_total", dimensions: [("outcome", receipt.outcome.rawValue)]).increment()
            Counter(label: prefix + "rows_read_total").increment(by: receipt.rowsRead)
            Counter(label: prefix + "rows_rejected_total").increment(by: receipt.rowsRejected)
        }
        Gauge(label: prefix + "inbox_files_waiting").record(pass.waiting.count)
        Gauge(label: prefix + "inbox_oldest_file_age_seconds").record(pass.oldestWaitingArrival.map { max(0, now - $0) } ?? 0)
    }
}

/// Keeps the gauges that describe the ledger and the state directory current (every 15 s; the
/// directory's size every minute): pending changes per segment and action, parked segments, held
/// files, sending paused and why, the last confirmation, and sizes on disk.
public struct MetricsRefresher: Service {
    let ledger: Ledger
    let settings: DaemonSettings
    let logger: Logger
    static let interval: Duration = .seconds(15)

    public init(ledger: Ledger, settings: DaemonSettings, logger: Logger) {
        self.ledger = ledger
        self.settings = settings
        self.logger = logger
    }

    public func run() async throws {
        var reported = Reported()
        var tick = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await refresh(&reported, sizes: tick % 4 == 0)
            } catch {
                logger.debug("metrics not refreshed", metadata: ["error": "\(error)"])
            }
            tick += 1
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.interval) }
        }
    }

    /// Label values set before: a series that goes away is set to 0, not left at its last value.
    struct Reported {
        var pending: Set<[String]> = []
        var pauses: Set<String> = []
    }

    func refresh(_ reported: inout Reported, sizes: Bool) async throws {
        let prefix = DaemonMetrics.prefix
        let configuration = settings.current
        let counts = try await ledger.reader.pendingCounts()
        var pending: Set<[String]> = []
        for (segment, change) in counts.bySegment {
            for (action, count) in [("add", change.adds), ("remove", change.removes)] {
                Gauge(label: prefix + "pending_changes", dimensions: [("segment", segment), ("action", action)]).record(count)
                pending.insert([segment, action])
            }
        }
        for gone in reported.pending.subtracting(pending) {
            Gauge(label: prefix + "pending_changes", dimensions: [("segment", gone[0]), ("action", gone[1])]).record(0)
        }
        reported.pending = pending
        Gauge(label: prefix + "parked_segments").record(try await ledger.reader.parkedSegments().count)
        let health = try await ledger.reader.tiktokHealth()
        // Absent until TikTok first confirms something: 0 would read as "fifty years ago".
        if let last = health.lastSuccessAt { Gauge(label: SendingMetrics.lastConfirmed).record(last) }
        let pause = health.pausedReason == nil ? nil : (health.pausedKind ?? "unknown")
        for kind in reported.pauses.union(pause.map { [$0] } ?? []) {
            Gauge(label: prefix + "sending_paused", dimensions: [("reason", kind)]).record(kind == pause ? 1 : 0)
        }
        if let pause { reported.pauses.insert(pause) }
        Gauge(label: prefix + "held_files").record(InboxLook.heldFiles(stateDirectory: configuration.stateDirectory).count)
        Gauge(label: prefix + "ledger_bytes").record(await ledger.reader.sizeOnDisk())
        if sizes {
            // A walk of archive/ and receipts/ can take a while: off Swift's cooperative threads.
            let directory = configuration.stateDirectory
            let bytes = await withCheckedContinuation { continuation in
                DispatchQueue.global(qos: .utility).async { continuation.resume(returning: Self.bytes(under: directory)) }
            }
            Gauge(label: prefix + "state_directory_bytes").record(bytes)
        }
    }

    static func bytes(under folder: String) -> Int64 {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return 0 }
        var total: Int64 = 0
        while walker.nextObject() != nil {
            total += (walker.fileAttributes?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return total
    }
}

/// Serves `GET /metrics` in Prometheus' text format. A listener that cannot bind (the port is
/// taken) is logged and the daemon goes on without metrics: they must never stop the sync.
public struct MetricsEndpoint: Service {
    let registry: PrometheusCollectorRegistry
    let address: Configuration.ListenAddress
    let logger: Logger

    public init(registry: PrometheusCollectorRegistry, address: Configuration.ListenAddress, logger: Logger) {
        self.registry = registry
        self.address = address
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        router.get("/metrics") { [registry] _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        var quiet = logger
        quiet.logLevel = .warning
        let application = Application(
            router: router, configuration: .init(address: .hostname(address.host, port: address.port)),
            onServerRunning: { [logger, address] _ in logger.notice("metrics at http://\(address.description)/metrics") },
            logger: quiet)
        do {
            try await application.run()
        } catch {
            logger.error("metrics are off: cannot listen on \(address.description) (\(error)); check metrics.listen")
            try? await gracefulShutdown()
        }
    }
}
