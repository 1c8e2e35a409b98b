#include <sqlite3.h>

// sqlite3_db_config is variadic, which Swift cannot call: one fixed-argument wrapper per use.

/// Closing the connection leaves the write-ahead log for the next open instead of copying it
/// into the database file first.
static inline int csqlite_leave_log_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}

/// Sets SQLite's defensive mode (`on` 1, 0 off, -1 leaves it) and returns what it is then: a
/// migration that widens a CHECK edits the schema's text, which defensive mode refuses.
static inline int csqlite_defensive(sqlite3 *db, int on) {
    int now = -1;
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on, &now);
    return now;
}
