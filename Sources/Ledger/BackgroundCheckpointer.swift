import Foundation

/// Copies committed pages from the write-ahead log into the ledger file on a thread of its own.
///
/// Why: SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so after
/// a large file the committing thread spent ~0.6 s (2M rows, a 183 MiB log) copying pages and
/// syncing the ledger file before sending could start. Here the commit returns as soon as it is
/// durable in the log (`synchronous = FULL`), and the copy, mostly disk work, overlaps the
/// sending. A crash during a checkpoint loses nothing: SQLite replays the log on the next open.
///
/// The thread starts on the first request and uses its own connection; requests made while a
/// checkpoint runs are folded into one more pass.
final class BackgroundCheckpointer: @unchecked Sendable {
    /// SQLite's own default threshold for its automatic checkpoint.
    static let defaultPagesPerCheckpoint: Int32 = 1_000

    private let path: String
    /// A commit that leaves at least this many pages in the log asks for a checkpoint.
    let pagesPerCheckpoint: Int32
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var requested = false
    private var stopping = false
    private var running = false
    /// The thread's connection while it checkpoints, for ``stop()`` to interrupt.
    private var working: SQLiteConnection?

    init(path: String, pagesPerCheckpoint: Int32 = defaultPagesPerCheckpoint) {
        self.path = path
        self.pagesPerCheckpoint = pagesPerCheckpoint
    }

    /// Asks for a checkpoint soon; returns at once.
    func request() {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return }
        requested = true
        if !running {
            running = true
            let thread = Thread { [self] in self.work() }
            thread.name = "ledger-checkpoint"
            thread.start()
        }
        condition.broadcast()
    }

    /// Interrupts a checkpoint in progress (after a large file it copies for seconds, which a
    /// shutdown must not wait for; the pages stay safe in the log) and waits for the thread to
    /// end. Later requests are ignored.
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        // Kept by SQLite if no checkpoint runs yet: the next one ends at once.
        working?.interrupt()
        while running { condition.wait() }
    }

    private func work() {
        // The connection is opened, used and closed on this thread, before `stop()` returns. A
        // failed open or checkpoint is tried again on the next request: the pages stay safe in
        // the log meanwhile, and the last connection to close copies them anyway.
        var connection: SQLiteConnection?
        while nextRequest() {
            if connection == nil {
                connection = try? SQLiteConnection(path: path)
                connection?.leaveLogOnClose()
                // A connection finds the write-ahead log with its first read; until then SQLite's
                // checkpoint call has no log to copy from and does nothing.
                try? connection?.execute("PRAGMA schema_version")
                use(connection)
            }
            // A connection that found no log (its first read failed) is opened again next time.
            if (try? connection?.checkpointPassively()) == false {
                use(nil)
                connection = nil
            }
        }
        use(nil)
        connection = nil
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// The connection ``stop()`` interrupts from now on (interrupted at once if stopping already).
    private func use(_ connection: SQLiteConnection?) {
        condition.lock()
        defer { condition.unlock() }
        working = connection
        if stopping { connection?.interrupt() }
    }

    /// Waits for a request; false once stopping.
    private func nextRequest() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !requested && !stopping { condition.wait() }
        requested = false
        return !stopping
    }
}
