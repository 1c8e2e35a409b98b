import Logging
import AudienceConfig
import AudienceInbox
import AudienceLedger
import AudienceModel
import AudienceSupport

/// Applies `retention:`: at the first look at the inbox, then at most once an hour. What the
/// folders kept too long is deleted; the ledger forgets old file records. A failure is said and
/// tried again at the next sweep: it never stops the intake.
struct RetentionKeeper {
    static let interval = 3_600.0
    private var nextSweep = 0.0

    mutating func sweepIfDue(_ configuration: Configuration, ledger: Ledger, logger: Logger, now: Double = clockSeconds()) async {
        guard now >= nextSweep else { return }
        nextSweep = now + Self.interval
        let retention = configuration.retention
        let report = StateRetention(stateDirectory: configuration.stateDirectory, retention: retention).sweep(now: now)
        if !report.removed.isEmpty {
            let limits = report.removed.keys.sorted { $0.rawValue < $1.rawValue }
                .map { "\($0.rawValue)_days=\(retention.days[$0] ?? 0)" }.joined(separator: " ")
            logger.info("retention: removed \(report.summary), kept longer than \(limits)")
        }
        for failure in report.failures.prefix(3) {
            logger.warning("retention: cannot remove an old file; tried again in an hour", metadata: ["error": "\(failure)"])
        }
        guard retention.fileHistoryDays > 0 else { return }
        do {
            let forgotten = try await ledger.forgetFiles(takenBefore: Int64(now) - Int64(retention.fileHistoryDays) * 86_400)
            if forgotten > 0 {
                logger.info(
                    "retention: the ledger forgot \(forgotten) file record(s) older than file_history_days=\(retention.fileHistoryDays); a re-upload of those bytes now counts as a new file")
            }
        } catch {
            logger.warning("retention: cannot forget old file records; tried again in an hour", metadata: ["error": "\("\(error)".replacingNewlines())"])
        }
    }
}
