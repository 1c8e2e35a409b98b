import Dispatch

/// A serial executor with a thread of its own, for an actor whose work blocks: SQLite calls,
/// reading and sorting a file. Jobs run one at a time, in order, off Swift's cooperative pool.
///
/// Why: the cooperative pool has one thread per core (two here). Planning a large file holds its
/// thread for tens of seconds; on the pool, the watchdog, status and shutdown tasks got no thread
/// at all (measured before: no watchdog ping for 6.3 s while a 1.5M-row file was planned).
public final class ThreadExecutor: SerialExecutor {
    private let queue: DispatchQueue

    public init(label: String) {
        queue = DispatchQueue(label: label)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // The block holds the executor: a job may release the actor that owns it (an isolated
        // deinit does), and the executor must outlive the job that runs on it.
        queue.async { withExtendedLifetime(self) { job.runSynchronously(on: self.asUnownedSerialExecutor()) } }
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func checkIsolated() {
        dispatchPrecondition(condition: .onQueue(queue))
    }

    /// Runs `work` on the executor's thread outside any actor, for what must happen before the
    /// actor exists (opening the ledger, which may migrate it for minutes).
    package func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
