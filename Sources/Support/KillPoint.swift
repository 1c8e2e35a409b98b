import Glibc
import Synchronization

/// Places where a crash matters, for the tests that prove nothing is lost whatever the moment.
/// With `TIKTOK_AUDIENCE_SYNC_KILL_AT=NAME` (or `NAME:N`) in the environment, the process sends
/// itself SIGKILL the first (or N-th) time it passes the point of that name: no handler runs,
/// nothing is flushed, as when the machine loses power. Without the variable a pass costs one
/// load of a value read once at start.
public enum KillPoint: String, Sendable, CaseIterable {
    /// A file's plan is committed; nothing of its receipt or its move is done yet.
    case afterPlanCommitted = "after-plan-committed"
    /// A file's receipt is written; the file is still in the inbox.
    case afterReceiptWritten = "after-receipt-written"
    /// A file has left the inbox (archived, set aside or, for a duplicate, removed); the ledger
    /// may not have recorded where yet.
    case afterFileMoved = "after-file-moved"
    /// A batch is recorded as possibly at TikTok; its request has not left.
    case afterInFlightRecorded = "after-in-flight-recorded"
    /// TikTok's answer to a request is in; nothing of it is recorded yet.
    case afterAnswer = "after-answer"
    /// A confirmation is committed to the ledger.
    case afterConfirmation = "after-confirmation"

    private static let armed: (point: KillPoint, passes: Int)? = armedPoint("TIKTOK_AUDIENCE_SYNC_KILL_AT")
    private static let passed = Atomic<Int>(0)

    /// Kills the process here if this is the armed point and its turn has come.
    @inline(__always)
    public func pass() {
        guard let armed = Self.armed, armed.point == self else { return }
        if Self.passed.add(1, ordering: .relaxed).newValue == armed.passes { kill(getpid(), SIGKILL) }
    }
}

/// A fault switch for the watchdog test, off unless `TIKTOK_AUDIENCE_SYNC_HANG_AT=NAME` (or
/// `NAME:N`) is in the environment: the first (or N-th) time the process passes the point of that
/// name, the thread passing it blocks for ever, as in a deadlock, and whatever that thread was to
/// do next never happens. Without the variable a pass costs one load of a value read once at start.
public enum HangPoint: String, Sendable, CaseIterable {
    /// Before a watchdog ping: the pings stop, and systemd's watchdog must restart the daemon.
    case watchdogPing = "watchdog-ping"

    private static let armed: (point: HangPoint, passes: Int)? = armedPoint("TIKTOK_AUDIENCE_SYNC_HANG_AT")
    private static let passed = Atomic<Int>(0)

    /// Blocks the calling thread for ever if this is the armed point and its turn has come.
    @inline(__always)
    public func pass() {
        guard let armed = Self.armed, armed.point == self else { return }
        if Self.passed.add(1, ordering: .relaxed).newValue >= armed.passes {
            while true { pause() }
        }
    }
}

/// The point `variable` names (`NAME` or `NAME:N`) and on which pass it acts, if it is set.
private func armedPoint<Point: RawRepresentable<String>>(_ variable: String) -> (point: Point, passes: Int)? {
    guard let value = getenv(variable).map({ String(cString: $0) }) else { return nil }
    let parts = value.split(separator: ":", maxSplits: 1)
    guard let point = parts.first.flatMap({ Point(rawValue: String($0)) }) else { return nil }
    return (point, parts.count > 1 ? max(1, Int(parts[1]) ?? 1) : 1)
}
