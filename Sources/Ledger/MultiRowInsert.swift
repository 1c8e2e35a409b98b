/// An INSERT that writes up to `rowsPerStatement` rows in one statement: a statement per row cost
/// SQLite about as much as the B-tree work itself. Full groups go through one prepared statement
/// of that many rows; a last, shorter group goes row by row.
///
/// The statement is `INSERT OR FAIL`: a NOT NULL constraint under SQLite's default (ABORT) makes
/// it keep a statement journal, a copy of every page the statement changes, so as to undo that
/// statement alone; FAIL stops without undoing, and the caller's transaction is rolled back on any
/// error anyway (with the length CHECK, this was 2.3 GB of temporary-file writes for 2M new members).
struct MultiRowInsert {
    static let rowsPerStatement = 256
    private let many: Statement
    private let one: Statement
    private let parametersPerRow: Int32
    private let connection: SQLiteConnection

    /// `columns`: `table (column, …)`; `row`: one `(…)` tuple of anonymous `?` parameters,
    /// `parametersPerRow` of them; `tail`: an optional upsert clause.
    init(connection: SQLiteConnection, into columns: String, row: String, parametersPerRow: Int, tail: String = "") throws {
        self.connection = connection
        self.parametersPerRow = Int32(parametersPerRow)
        let head = "INSERT OR FAIL INTO \(columns)"
        let rows = Array(repeating: row, count: Self.rowsPerStatement).joined(separator: ", ")
        many = try connection.prepare("\(head) VALUES \(rows) \(tail)")
        one = try connection.prepare("\(head) VALUES \(row) \(tail)")
    }

    /// Inserts `count` rows (at most `rowsPerStatement`); `bind` binds row `index`'s parameters,
    /// numbered from `first`. Returns how many rows were inserted.
    func insert(count: Int, bind: (_ statement: Statement, _ first: Int32, _ index: Int) -> Void) throws -> Int {
        precondition(count <= Self.rowsPerStatement, "at most \(Self.rowsPerStatement) rows per insert")
        if count == Self.rowsPerStatement {
            for index in 0..<count { bind(many, Int32(index) * parametersPerRow + 1, index) }
            try many.run()
            return connection.changes
        }
        var inserted = 0
        for index in 0..<count {
            bind(one, 1, index)
            try one.run()
            inserted += connection.changes
        }
        return inserted
    }
}
