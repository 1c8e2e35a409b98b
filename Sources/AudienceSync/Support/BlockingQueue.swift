import Dispatch

/// A serial queue for blocking work (the ledger's SQLite behind its lock, planning a file), so
/// that it never holds one of Swift's cooperative threads.
///
/// Why: the cooperative pool has one thread per core. While a large file is planned, the ledger
/// stays locked for the whole transaction (tens of seconds at 10M rows); a sender recording a
/// confirmation meanwhile waited for that lock on the other thread, and the watchdog, status and
/// shutdown tasks got no thread at all. Measured before: no watchdog ping for 6.3 s while a
/// 1.5M-row file was planned during sending, on 2 cores; systemd kills a service that stays
/// silent for `WatchdogSec`.
public struct BlockingQueue: Sendable {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Runs `work` on the queue's own thread and waits for it without blocking the caller's thread.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
