import CSQLite
import Glibc
import AudienceSupport

/// Copies of the ledger made with SQLite's online backup API: a consistent picture of one moment,
/// taken while the daemon goes on writing (in WAL mode a reader never blocks the writer).
public enum LedgerBackup {
    public struct Copy: Sendable {
        public var path: String
        public var bytes: Int64
        /// The schema step and the last file generation it holds, to compare with the seal.
        public var schemaStep: Int
        public var lastGeneration: Int64
    }

    /// Writes a copy of the ledger at `source` to `destination`: first under a temporary name
    /// beside it, checked (`PRAGMA quick_check`), flushed, then renamed into place, so that
    /// `destination` is never a half-written file. The copy is a single file (no -wal).
    public static func copy(ledgerAt source: String, to destination: String) throws -> Copy {
        let input = try SQLiteConnection(path: source, mustExist: true)
        try input.execute("PRAGMA busy_timeout = 10000")
        var copy = Copy(path: destination, bytes: 0, schemaStep: 0, lastGeneration: 0)
        try write(input, to: destination) { output in
            copy.schemaStep = try Migrations.userVersion(output)
            let last = try output.prepare("SELECT coalesce(max(generation), 0) FROM file WHERE outcome = 'applied'")
            copy.lastGeneration = try last.step() ? last.int(0) : 0
            last.reset()
        }
        var info = stat()
        if stat(destination, &info) == 0 { copy.bytes = Int64(info.st_size) }
        return copy
    }

    /// Copies `input` to `destination` through a `.partial` file that is checked, flushed and
    /// renamed into place; `inspect` reads the copy before it is.
    static func write(_ input: SQLiteConnection, to destination: String, inspect: (SQLiteConnection) throws -> Void = { _ in }) throws {
        let partial = destination + ".partial"
        unlink(partial)
        // Created here, private from the start (member hashes); SQLite would make it 0644.
        let created = open(partial, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o640)
        guard created >= 0 else { throw input.error(0, "cannot create \(partial): \(String(cString: strerror(errno)))") }
        close(created)
        do {
            let output = try SQLiteConnection(path: partial)
            try output.copy(from: input)
            try output.execute("PRAGMA journal_mode = DELETE")
            let check = try output.prepare("PRAGMA quick_check")
            let verdict = try check.step() ? check.string(0) : "no answer"
            check.reset()
            guard verdict == "ok" else { throw output.error(0, "the copy does not check out: \(verdict)") }
            try inspect(output)
            guard FileSync.file(partial) else {
                throw output.error(0, "cannot flush \(partial) to disk: \(String(cString: strerror(errno)))")
            }
            guard rename(partial, destination) == 0 else {
                throw output.error(0, "cannot rename \(partial) to \(destination): \(String(cString: strerror(errno)))")
            }
            FileSync.folder(containing: destination)
        } catch {
            unlink(partial)
            throw error
        }
    }
}

extension SQLiteConnection {
    /// Copies every page of `source` into this database in one step: one read transaction on
    /// the source, so the copy is of one moment even while another process writes.
    func copy(from source: SQLiteConnection) throws {
        guard let backup = sqlite3_backup_init(handle, "main", source.handle, "main") else {
            throw error(sqlite3_errcode(handle), "cannot start the backup")
        }
        var status: Int32
        repeat {
            status = sqlite3_backup_step(backup, -1)
            if status == SQLITE_BUSY || status == SQLITE_LOCKED { usleep(100_000) }
        } while status == SQLITE_OK || status == SQLITE_BUSY || status == SQLITE_LOCKED
        let finished = sqlite3_backup_finish(backup)
        guard status == SQLITE_DONE, finished == SQLITE_OK else {
            throw error(status == SQLITE_DONE ? finished : status, "the backup stopped")
        }
    }
}
