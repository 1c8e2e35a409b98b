import Glibc
import AudienceModel
import AudienceSupport

/// The SQLite ledger: the only code that speaks SQL. One connection that writes, on a thread of
/// its own (``ThreadExecutor``): every write is one transaction named after what it means, and
/// callers simply `await` it. Reads that need not wait for a write in progress go to
/// ``reader``, a read-only connection on another thread (the ledger is in WAL mode, so they run
/// while a large file is being written).
public actor Ledger {
    public nonisolated let path: String
    /// Reads that see every committed write and never wait for the writer.
    public nonisolated let reader: LedgerReader
    private nonisolated let executor: ThreadExecutor
    let connection: LedgerConnection
    private let checkpointer: BackgroundCheckpointer

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    /// Opens (creating if needed) the ledger at `path`, on the ledger's own thread. `upgrading`:
    /// whether a ledger of an earlier version is upgraded (a migration of a large ledger can take
    /// minutes); only the process that holds the state directory's lock may, else an older
    /// ledger is refused (``LedgerError``, "restart the service to upgrade the ledger").
    public static func open(path: String, upgrading: Bool) async throws -> Ledger {
        let executor = ThreadExecutor(label: executorLabel)
        return try await executor.run {
            try Ledger(
                path: path, checkpointAfterPages: BackgroundCheckpointer.defaultPagesPerCheckpoint, executor: executor,
                upgrading: upgrading)
        }
    }

    /// Opens the ledger on the calling thread; see ``open(path:)``.
    public init(path: String) throws {
        try self.init(path: path, checkpointAfterPages: BackgroundCheckpointer.defaultPagesPerCheckpoint)
    }

    private static let executorLabel = "tiktok-audience-sync.ledger"
    /// `journal_size_limit`: what a checkpoint cuts the log back to.
    static let logLimitBytes: Int64 = 64 << 20

    /// `logLimitBytes`: a log found larger at open is checkpointed first (smaller in tests).
    init(
        path: String, checkpointAfterPages: Int32, executor: ThreadExecutor? = nil, logLimitBytes: Int64 = logLimitBytes,
        upgrading: Bool = true
    ) throws {
        self.path = path
        self.executor = executor ?? ThreadExecutor(label: Self.executorLabel)
        let connection = try SQLiteConnection(path: path)
        // 16 KiB pages for a new ledger (an existing one keeps its own): planning's key-ordered
        // writes and the sender's range confirmations then touch a quarter as many pages as with
        // SQLite's default 4 KiB (2M rows: 5.3 s → 3.6 s, Benchmarks/README.md).
        try connection.execute(
            """
            PRAGMA busy_timeout = 10000;
            PRAGMA page_size = 16384;
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA cache_size = -\(Self.steadyCacheKiB);
            PRAGMA journal_size_limit = \(Self.logLimitBytes);
            PRAGMA foreign_keys = ON;
            """)
        try Migrations.requireUsable(connection, upgrading: upgrading)
        // An upgrade may build an index over every member: the planning cache for it.
        try connection.execute("PRAGMA cache_size = -\(Self.planningCacheKiB)")
        try Migrations.migrate(connection)
        try connection.execute("PRAGMA cache_size = -\(Self.steadyCacheKiB)")
        // A shutdown never waits for the log to be copied into the ledger file; the background
        // checkpoint, or the next open, takes it up. The next open does so here when the log has
        // grown past its limit: runs of `once` that each end before their checkpoint would
        // otherwise grow it without end (seen: 748 MB after a dozen small files on a 100M-member
        // ledger), and every open reads the whole log to rebuild its index.
        var log = stat()
        if stat(path + "-wal", &log) == 0, Int64(log.st_size) > logLimitBytes {
            try connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        connection.leaveLogOnClose()
        reader = try LedgerReader(path: path)
        checkpointer = BackgroundCheckpointer(path: path, pagesPerCheckpoint: checkpointAfterPages)
        self.connection = try LedgerConnection(connection)
        // Last: from here on `deinit` runs and stops what the hook may start.
        connection.checkpointInBackground(checkpointer)
    }

    // On the ledger's thread: the connection is used on no other.
    isolated deinit {
        connection.connection.stopCheckpointing()
        checkpointer.stop()
    }

    func withConnection<R>(_ body: (LedgerConnection) throws -> R) rethrows -> R {
        try body(connection)
    }
}

/// A read-only connection to the ledger on a thread of its own: what the sender reads, the
/// counts and `status`. It sees every committed write, and never waits for one in progress.
public actor LedgerReader {
    public nonisolated let path: String
    private nonisolated let executor = ThreadExecutor(label: "tiktok-audience-sync.ledger-reader")
    let connection: LedgerConnection
    /// The last ``pendingCounts()`` and SQLite's `data_version` when it was read: while no other
    /// connection has committed since, the counts stand (see ``pendingCounts()``).
    var lastPendingCounts: (dataVersion: Int64, counts: PendingCounts)?

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    init(path: String) throws {
        try self.init(path: path, connection: Self.readOnlyConnection(path))
    }

    private init(path: String, connection: SQLiteConnection) throws {
        self.path = path
        self.connection = try LedgerConnection(connection)
    }

    private static func readOnlyConnection(_ path: String) throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path, readOnly: true)
        connection.leaveLogOnClose()
        // 4 MiB of page cache, as the writer has between files: it walks the outbox in order and
        // counts, reading each page about once, so a larger cache would only hold memory for months.
        try connection.execute("PRAGMA busy_timeout = 10000; PRAGMA cache_size = -4096;")
        return connection
    }

    /// The ledger for a command that only reads (`status`, `plan`, `check`, `backup`): one
    /// read-only connection that never creates, upgrades or writes anything, so that it works
    /// for a user who may only read the state directory, and beside a daemon of another version
    /// (a ledger older than this version is refused: restart the service to upgrade it). A
    /// ledger not made yet reads as an empty one.
    public static func open(path: String) async throws -> LedgerReader {
        try await ThreadExecutor(label: "tiktok-audience-sync.ledger-open").run {
            var info = stat()
            if stat(path, &info) == 0, info.st_size > 0 {
                let connection = try readOnlyConnection(path)
                if try Migrations.requireUsable(connection, upgrading: false) > 0 {
                    return try LedgerReader(path: path, connection: connection)
                }
            }
            // None yet: an empty one in memory, with the tables a made one has.
            let empty = try SQLiteConnection(path: ":memory:")
            try Migrations.migrate(empty)
            return try LedgerReader(path: path, connection: empty)
        }
    }

    /// Runs `body` in one read transaction: its statements see one state of the ledger, even when
    /// a file commits between them (the generation and the outbox it qualifies, say).
    func withConnection<R>(_ body: (LedgerConnection) throws -> R) throws -> R {
        // A read left open (its end failed) would pin an old snapshot: end it first.
        if connection.connection.inTransaction { try? connection.connection.execute("ROLLBACK") }
        try connection.connection.execute("BEGIN")
        defer { try? connection.connection.execute("ROLLBACK") }
        return try body(connection)
    }

    /// `PRAGMA integrity_check`: "ok" or SQLite's list of problems.
    public func integrityCheck() throws -> String {
        let statement = try connection.connection.prepare("PRAGMA integrity_check")
        defer { statement.reset() }
        return try statement.step() ? statement.string(0) : "no answer"
    }
}

/// The connection and its prepared statements; lives inside one actor.
final class LedgerConnection {
    let connection: SQLiteConnection
    private var segmentRows: [String: Int64] = [:]
    private var audienceIDs: [Int64: String] = [:]

    init(_ connection: SQLiteConnection) throws {
        self.connection = connection
        try reloadSegments()
    }

    /// The ledger's row id for a segment, created on first sight: as swept when a snapshot names
    /// it first (it has no members outside the segment index), else as not swept.
    func segmentRow(for segment: SegmentID, bySnapshot: Bool) throws -> Int64 {
        if let known = segmentRows[segment.rawValue] { return known }
        let insert = try connection.prepare("INSERT INTO segment (audience_id, swept) VALUES (?1, ?2) RETURNING id")
        insert.bind(1, segment.rawValue)
        insert.bind(2, bySnapshot ? 1 : 0)
        guard try insert.step() else { throw connection.error(0, "segment insert returned nothing") }
        let row = insert.int(0)
        insert.reset()
        segmentRows[segment.rawValue] = row
        audienceIDs[row] = segment.rawValue
        return row
    }

    /// Whether segment `row` has had a snapshot, so that its members all belong in the segment
    /// index. Asked of the ledger inside the caller's transaction, never of a cache that a
    /// rollback could leave ahead of it: a member left out of a swept segment's index would be
    /// one its snapshots never remove.
    func isSwept(segmentRow row: Int64) throws -> Bool {
        let statement = try connection.prepare("SELECT swept FROM segment WHERE id = ?1")
        defer { statement.reset() }
        statement.bind(1, row)
        guard try statement.step() else { throw connection.error(0, "segment row \(row) not found") }
        return statement.int(0) == 1
    }

    /// Puts the members deltas left out of the segment index into it, for those of `rows` about to
    /// be swept for the first time: one pass over membership for all of them, once in a segment's life.
    func putInSegmentIndex(segmentRows rows: String) throws {
        let first = try unsweptSegments(among: rows)
        guard !first.isEmpty else { return }
        let list = first.map(String.init).joined(separator: ",")
        try connection.execute("UPDATE OR FAIL membership SET unindexed = NULL WHERE unindexed = 1 AND segment IN (\(list))")
        try connection.execute("UPDATE segment SET swept = 1 WHERE id IN (\(list))")
    }

    /// Those of segment `rows` (an SQL list of ledger rows) that never had a snapshot.
    func unsweptSegments(among rows: String) throws -> [Int64] {
        let statement = try connection.prepare("SELECT id FROM segment WHERE swept = 0 AND id IN (\(rows))")
        defer { statement.reset() }
        var found: [Int64] = []
        while try statement.step() { found.append(statement.int(0)) }
        return found
    }

    /// Loads the segment table; after a rollback, forgets segment rows the transaction had created.
    func reloadSegments() throws {
        segmentRows.removeAll()
        audienceIDs.removeAll()
        let statement = try connection.prepare("SELECT id, audience_id FROM segment")
        while try statement.step() {
            segmentRows[statement.string(1)] = statement.int(0)
            audienceIDs[statement.int(0)] = statement.string(1)
        }
        statement.reset()
    }

    /// The segment of a ledger row; a row created since this connection last looked (the reader's
    /// connection, after the writer met a new segment) is looked up.
    func audienceID(forRow row: Int64) -> String? {
        if let known = audienceIDs[row] { return known }
        try? reloadSegments()
        return audienceIDs[row]
    }

    /// The ledger's row for a segment it already knows (nil: none yet), creating nothing.
    func knownSegmentRow(for segment: SegmentID) -> Int64? { segmentRows[segment.rawValue] }
}
