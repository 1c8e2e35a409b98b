import Synchronization

/// The SQLite ledger: the only code that speaks SQL. One connection, opened once, behind a lock;
/// every write is one transaction named after what it means.
public final class Ledger: Sendable {
    public let path: String
    private let lock = Mutex(())
    /// Only touched while `lock` is held.
    private nonisolated(unsafe) let connection: LedgerConnection
    private let checkpointer: BackgroundCheckpointer

    /// Opens (creating if needed) and migrates the ledger at `path`.
    public convenience init(path: String) throws {
        try self.init(path: path, checkpointAfterPages: BackgroundCheckpointer.defaultPagesPerCheckpoint)
    }

    init(path: String, checkpointAfterPages: Int32) throws {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        // 16 KiB pages for a new ledger (an existing one keeps its own): planning's key-ordered
        // writes and the sender's range confirmations then touch a quarter as many pages as with
        // SQLite's default 4 KiB (2M rows: 5.3 s → 3.6 s, Benchmarks/README.md).
        try connection.execute(
            """
            PRAGMA page_size = 16384;
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = FULL;
            PRAGMA busy_timeout = 10000;
            PRAGMA cache_size = -16384;
            PRAGMA journal_size_limit = 67108864;
            PRAGMA foreign_keys = ON;
            """)
        try Migrations.migrate(connection)
        self.checkpointer = BackgroundCheckpointer(path: path, pagesPerCheckpoint: checkpointAfterPages)
        self.connection = try LedgerConnection(connection)
        // Last: from here on `deinit` runs and stops what the hook may start.
        connection.checkpointInBackground(checkpointer)
    }

    deinit {
        connection.connection.stopCheckpointing()
        checkpointer.stop()
    }

    func withConnection<R>(_ body: (LedgerConnection) throws -> R) throws -> R {
        try lock.withLock { _ in try body(connection) }
    }

    /// `PRAGMA integrity_check`: "ok" or SQLite's list of problems.
    public func integrityCheck() throws -> String {
        try withConnection { ledger in
            let statement = try ledger.connection.prepare("PRAGMA integrity_check")
            defer { statement.reset() }
            return try statement.step() ? statement.string(0) : "no answer"
        }
    }
}

/// The connection and its prepared statements; lives inside the ledger's lock.
final class LedgerConnection {
    let connection: SQLiteConnection
    private var segmentRows: [String: Int64] = [:]
    private var audienceIDs: [Int64: String] = [:]

    init(_ connection: SQLiteConnection) throws {
        self.connection = connection
        try reloadSegments()
    }

    /// The ledger's row id for a segment, created on first sight.
    func segmentRow(for segment: SegmentID) throws -> Int64 {
        if let known = segmentRows[segment.rawValue] { return known }
        let insert = try connection.prepare("INSERT INTO segment (audience_id) VALUES (?1) RETURNING id")
        insert.bind(1, segment.rawValue)
        guard try insert.step() else { throw connection.error(0, "segment insert returned nothing") }
        let row = insert.int(0)
        insert.reset()
        segmentRows[segment.rawValue] = row
        audienceIDs[row] = segment.rawValue
        return row
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

    func audienceID(forRow row: Int64) -> String? { audienceIDs[row] }

    /// The ledger's row for a segment it already knows (nil: none yet), creating nothing.
    func knownSegmentRow(for segment: SegmentID) -> Int64? { segmentRows[segment.rawValue] }
}
