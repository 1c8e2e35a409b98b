import CSQLite
import AudienceModel

/// SQLite's way of saying "copy this buffer now", which the C macro SQLITE_TRANSIENT expresses.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection. Not thread-safe: it lives inside one actor (``Ledger``, ``LedgerReader``),
/// on that actor's own thread.
final class SQLiteConnection {
    let path: String
    let handle: OpaquePointer

    /// `mustExist`: open for reading and writing, but never create (a backup's source).
    init(path: String, readOnly: Bool = false, mustExist: Bool = false) throws {
        self.path = path
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : mustExist ? SQLITE_OPEN_READWRITE : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
            let systemErrno = db.map { sqlite3_system_errno($0) } ?? 0
            sqlite3_close(db)
            throw LedgerError.open(path, sqliteCode: status, systemErrno: systemErrno, message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs `body` with SQLite's defensive mode off (a migration that edits the schema's text),
    /// then puts it back as it was.
    func allowingSchemaEdits<R>(_ body: () throws -> R) rethrows -> R {
        let before = csqlite_defensive(handle, -1)
        _ = csqlite_defensive(handle, 0)
        defer { _ = csqlite_defensive(handle, before == 1 ? 1 : 0) }
        return try body()
    }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "status \(status)"
            sqlite3_free(message)
            throw error(status, "\(text) (while running: \(sql.prefix(80)))")
        }
    }

    func prepare(_ sql: String) throws -> Statement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw error(status, "cannot prepare \(sql.prefix(80))") }
        return Statement(statement, connection: self, sql: sql)
    }

    var changes: Int { Int(sqlite3_changes(handle)) }

    /// Whether a transaction is open (SQLite is not in autocommit mode).
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Stops what the connection runs now, from any thread (SQLite's own thread-safe call): a
    /// checkpoint so stopped is taken up again later, nothing is lost. Kept until the next
    /// ``checkpointPassively()`` when none runs: that call ends at once.
    func interrupt() { sqlite3_interrupt(handle) }

    /// Copies what no reader still needs from the write-ahead log into the ledger file, never
    /// waiting for the writer. Through the C call rather than the PRAGMA: a statement's start
    /// forgets an interrupt that came before it, the call does not (it clears it on return).
    /// Returns false when the connection has no log open (it has read nothing yet): then the call
    /// copied nothing.
    func checkpointPassively() throws -> Bool {
        var logFrames: Int32 = -1
        let status = sqlite3_wal_checkpoint_v2(handle, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, nil)
        guard status == SQLITE_OK else { throw error(status, "cannot copy the write-ahead log into the ledger") }
        return logFrames >= 0
    }

    /// Closing the connection then leaves the write-ahead log as it is, instead of copying it
    /// into the ledger file first (which takes seconds after a large file, and would hold up a
    /// shutdown); the next open takes it up.
    func leaveLogOnClose() {
        _ = csqlite_leave_log_on_close(handle)
    }

    /// Replaces SQLite's automatic checkpoint: a commit that leaves the log at the checkpointer's
    /// threshold or above asks it for one. The caller keeps `checkpointer` alive until
    /// ``stopCheckpointing()``.
    func checkpointInBackground(_ checkpointer: BackgroundCheckpointer) {
        let context = Unmanaged.passUnretained(checkpointer).toOpaque()
        sqlite3_wal_hook(
            handle,
            { context, _, _, pages in
                guard let context else { return SQLITE_OK }
                let checkpointer = Unmanaged<BackgroundCheckpointer>.fromOpaque(context).takeUnretainedValue()
                if pages >= checkpointer.pagesPerCheckpoint { checkpointer.request() }
                return SQLITE_OK
            }, context)
    }

    func stopCheckpointing() {
        sqlite3_wal_hook(handle, nil, nil)
    }

    func error(_ status: Int32, _ context: String) -> LedgerError {
        let message = String(cString: sqlite3_errmsg(handle))
        return LedgerError.sqlite(path, sqliteCode: status, systemErrno: sqlite3_system_errno(handle), "\(context): \(message)")
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<R>(_ body: () throws -> R) throws -> R {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// A prepared statement, reset after each use. Bind indexes are 1-based, as in SQLite.
final class Statement {
    private let handle: OpaquePointer
    private unowned let connection: SQLiteConnection
    let sql: String

    init(_ handle: OpaquePointer, connection: SQLiteConnection, sql: String) {
        self.handle = handle
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }
    func bind(_ index: Int32, _ value: String) { sqlite3_bind_text(handle, index, value, -1, transient) }
    func bindNull(_ index: Int32) { sqlite3_bind_null(handle, index) }
    func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }
    func bind(_ index: Int32, _ value: String?) {
        if let value { bind(index, value) } else { bindNull(index) }
    }
    func bind(_ index: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            _ = sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), transient)
        }
    }
    func bind(_ index: Int32, _ digest: Digest32) {
        digest.withUnsafeBytes { raw in
            _ = sqlite3_bind_blob(handle, index, raw.baseAddress, 32, transient)
        }
    }

    /// Steps once; true when a row is available.
    @discardableResult
    func step() throws -> Bool {
        let status = sqlite3_step(handle)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = connection.error(status, "statement failed (\(sql.prefix(60)))")
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    func run() throws {
        defer { reset() }
        try step()
    }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }
    func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        return String(cString: text)
    }
    func optionalString(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }
    func bytes(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let blob = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: blob, count: count))
    }
    func digest(_ column: Int32) -> Digest32? {
        guard sqlite3_column_bytes(handle, column) == 32, let blob = sqlite3_column_blob(handle, column) else {
            return nil
        }
        return Digest32(bytes: UnsafeRawBufferPointer(start: blob, count: 32))
    }
}
