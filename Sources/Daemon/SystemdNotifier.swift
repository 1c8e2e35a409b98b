import CSystemd
import Glibc

/// Tells systemd how the daemon is doing (sd_notify(3)): READY=1, STATUS=…, WATCHDOG=1,
/// RELOADING=1, STOPPING=1. Harmless without systemd: with NOTIFY_SOCKET unset it does nothing.
public struct SystemdNotifier: Sendable {
    public init() {}

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    /// Asks systemd for more start-up time: opening a ledger written by an older version rewrites
    /// it once (minutes for tens of millions of members), longer than TimeoutStartSec's 90 s.
    public func extendStartup(by duration: Duration, status text: String) {
        send("EXTEND_TIMEOUT_USEC=\(duration.components.seconds * 1_000_000)\nSTATUS=\(text)")
    }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping() { send("STOPPING=1\nSTATUS=stopping: finishing the request in flight") }

    /// RELOADING=1 must carry the monotonic time for Type=notify-reload units.
    public func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let microseconds = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)\nSTATUS=reloading configuration")
    }

    /// Half of WATCHDOG_USEC when systemd asked for watchdog pings, else nil.
    public var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds / 2))
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}
