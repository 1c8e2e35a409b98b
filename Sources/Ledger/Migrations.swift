import Glibc
import AudienceSupport

/// The ledger's schema, as named, append-only steps. `PRAGMA user_version` counts the steps applied;
/// a ledger with more steps than this code knows was written by a newer version and is refused.
enum Migrations {
    struct Step {
        let name: String
        let sql: String
        /// Set when the step rewrites the text of definitions (`sqlite_schema`), as SQLite's
        /// documentation allows for changes that leave what is stored valid: widening or dropping
        /// a CHECK, or giving an index a WHERE clause that every row already meets (its entries
        /// are then exactly the partial index's). No copy of a table that may hold a hundred
        /// million rows. A query counting the definitions the edit has not made yet: 0 once it took.
        var editCheck: String?

        init(_ name: String, _ sql: String, editCheck: String? = nil) {
            self.name = name
            self.sql = sql
            self.editCheck = editCheck
        }
    }

    static let steps: [Step] = [
        Step(
            "create membership, segment and file tables",
            """
            CREATE TABLE segment (
                id INTEGER PRIMARY KEY,
                audience_id TEXT NOT NULL UNIQUE CHECK (length(audience_id) BETWEEN 1 AND 19)
            ) STRICT;

            -- desired: what the files say; acked: what TikTok confirmed (NULL: never confirmed either way).
            -- generation: the file generation that last changed desired; seen: the last file that named the row.
            CREATE TABLE membership (
                segment INTEGER NOT NULL REFERENCES segment(id),
                id_type INTEGER NOT NULL CHECK (id_type BETWEEN 1 AND 4),
                identifier BLOB NOT NULL CHECK (length(identifier) = 32),
                desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
                acked INTEGER CHECK (acked IN (0, 1)),
                generation INTEGER NOT NULL,
                seen INTEGER NOT NULL,
                PRIMARY KEY (segment, id_type, identifier)
            ) STRICT, WITHOUT ROWID;

            -- The pending work, in the order the sender packs it.
            CREATE INDEX membership_pending ON membership (id_type, identifier, segment)
                WHERE desired IS NOT acked;

            CREATE TABLE file (
                fingerprint BLOB PRIMARY KEY CHECK (length(fingerprint) = 32),
                generation INTEGER UNIQUE,
                name TEXT NOT NULL,
                size INTEGER NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected')),
                kind TEXT CHECK (kind IN ('delta', 'snapshot')),
                rows_read INTEGER NOT NULL DEFAULT 0,
                rows_rejected INTEGER NOT NULL DEFAULT 0,
                members INTEGER NOT NULL DEFAULT 0,
                adds INTEGER NOT NULL DEFAULT 0,
                removes INTEGER NOT NULL DEFAULT 0,
                reason TEXT,
                planned_at INTEGER NOT NULL,
                archived_as TEXT,
                receipt TEXT,
                confirmed_at INTEGER,
                duplicates_seen INTEGER NOT NULL DEFAULT 0
            ) STRICT;

            CREATE TABLE setting (
                key TEXT PRIMARY KEY,
                value ANY
            ) STRICT;
            """
        ),
        Step(
            "park segments TikTok refuses; approve held snapshots",
            """
            -- A segment TikTok refused (say, 40002 for an audience it does not know): its pending rows
            -- wait here, with TikTok's answer, until `retry` puts them back in line.
            CREATE TABLE parked_segment (
                segment INTEGER PRIMARY KEY REFERENCES segment(id),
                code INTEGER,
                message TEXT NOT NULL,
                request_id TEXT,
                parked_at INTEGER NOT NULL
            ) STRICT;

            -- Snapshots an operator approved although they remove more than the configured share.
            CREATE TABLE approved_file (
                fingerprint BLOB PRIMARY KEY CHECK (length(fingerprint) = 32),
                approved_at INTEGER NOT NULL
            ) STRICT;

            ALTER TABLE file RENAME TO file_v1;
            CREATE TABLE file (
                fingerprint BLOB PRIMARY KEY CHECK (length(fingerprint) = 32),
                generation INTEGER UNIQUE,
                name TEXT NOT NULL,
                size INTEGER NOT NULL,
                outcome TEXT NOT NULL CHECK (outcome IN ('applied', 'rejected', 'held')),
                kind TEXT CHECK (kind IN ('delta', 'snapshot')),
                rows_read INTEGER NOT NULL DEFAULT 0,
                rows_rejected INTEGER NOT NULL DEFAULT 0,
                members INTEGER NOT NULL DEFAULT 0,
                adds INTEGER NOT NULL DEFAULT 0,
                removes INTEGER NOT NULL DEFAULT 0,
                reason TEXT,
                planned_at INTEGER NOT NULL,
                archived_as TEXT,
                receipt TEXT,
                confirmed_at INTEGER,
                duplicates_seen INTEGER NOT NULL DEFAULT 0
            ) STRICT;
            INSERT INTO file SELECT * FROM file_v1;
            DROP TABLE file_v1;
            """
        ),
        Step(
            "order membership by identifier, like the pending work",
            """
            -- Keyed (identifier type, identifier, segment), the order in which planning writes and the
            -- sender reads and confirms: the table and its pending index then grow and shrink at
            -- sequential positions instead of at random ones (measured: Benchmarks/README.md).
            -- Per-segment questions (snapshot sweeps, counts) scan the table once per file instead.
            CREATE TABLE membership_v3 (
                id_type INTEGER NOT NULL CHECK (id_type BETWEEN 1 AND 4),
                identifier BLOB NOT NULL CHECK (length(identifier) = 32),
                segment INTEGER NOT NULL,
                desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
                acked INTEGER CHECK (acked IN (0, 1)),
                generation INTEGER NOT NULL,
                seen INTEGER NOT NULL,
                PRIMARY KEY (id_type, identifier, segment)
            ) STRICT, WITHOUT ROWID;
            INSERT INTO membership_v3
                SELECT id_type, identifier, segment, desired, acked, generation, seen FROM membership
                ORDER BY id_type, identifier, segment;
            DROP TABLE membership;
            ALTER TABLE membership_v3 RENAME TO membership;
            -- Covering: the sender reads pending rows from the index alone.
            CREATE INDEX membership_pending ON membership (id_type, identifier, segment, desired, acked, generation)
                WHERE desired IS NOT acked;
            """
        ),
        Step(
            "keep the pending work in an outbox instead of an index",
            """
            -- The sender's work list, appended in the order planning writes (key order within a file).
            -- An outbox row is live while its membership row is pending and names it: by outbox_seq
            -- when that is set, else by generation. The others are left from wishes cancelled,
            -- superseded or confirmed, and are dropped when the sender meets them. Confirming a
            -- batch deletes its rows at sequential positions, where the partial index cost a B-tree
            -- delete per row (measured: Benchmarks/README.md).
            ALTER TABLE membership ADD COLUMN outbox_seq INTEGER;
            CREATE TABLE outbox (
                seq INTEGER PRIMARY KEY,
                id_type INTEGER NOT NULL,
                identifier BLOB NOT NULL,
                segment INTEGER NOT NULL,
                generation INTEGER NOT NULL,
                desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
                -- 1: the row was pending when queued. Then, while the generation counter has not
                -- moved on (no newer file, no requeue), it still is, and the sender need not look
                -- at membership (confirming it deletes this row in the same transaction).
                known_pending INTEGER NOT NULL CHECK (known_pending IN (0, 1))
            ) STRICT;
            INSERT INTO outbox (id_type, identifier, segment, generation, desired, known_pending)
                SELECT id_type, identifier, segment, generation, desired, 0 FROM membership INDEXED BY membership_pending
                WHERE desired IS NOT acked ORDER BY id_type, identifier, segment;
            DROP INDEX membership_pending;
            """
        ),
        Step(
            "remember requests that may have reached TikTok",
            """
            -- A batch is written here, durably, before its request leaves the process. Until TikTok's
            -- code 0 for it is recorded, its members count as unknown: when the send ends without
            -- one, and when a process finds a row left by one that died, they get acked NULL and
            -- stay on (or go back on) the outbox, so a later opposite wish is always sent. A send that got no
            -- answer may still land later: such a row stays until recheck_at, when its members are
            -- made unknown once more and sent their current wish again.
            CREATE TABLE in_flight (
                id INTEGER PRIMARY KEY,
                id_type INTEGER NOT NULL CHECK (id_type BETWEEN 1 AND 4),
                -- 40 bytes per member: the identifier, then the segment row (8 bytes, big-endian).
                members BLOB NOT NULL,
                member_count INTEGER NOT NULL,
                -- When the batch was recorded: for whoever reads the ledger by hand.
                sent_at INTEGER NOT NULL,
                -- NULL while the send runs; set when it ended without a sure answer.
                recheck_at INTEGER
            ) STRICT;
            """
        ),
        Step(
            "remember when each inbox file arrived",
            """
            -- The inode change time of each file in the inbox when it was first seen: files are taken
            -- in this order, and a later chmod or rename of a waiting file does not move it back in
            -- line. Rows of files no longer in the inbox are dropped at the next scan.
            CREATE TABLE inbox_arrival (
                device INTEGER NOT NULL,
                inode INTEGER NOT NULL,
                arrived REAL NOT NULL,
                PRIMARY KEY (device, inode)
            ) STRICT, WITHOUT ROWID;
            -- A held snapshot keeps its arrival, so that once approved it goes before the files
            -- that arrived after it.
            ALTER TABLE file ADD COLUMN arrived REAL;
            """
        ),
        Step(
            "accept MD5 MAIDs (IDFA_MD5 5, AAID_MD5 6)",
            """
            -- An MD5 MAID is held as its 16 bytes followed by 16 zero bytes, so identifiers stay 32 bytes.
            UPDATE sqlite_schema SET sql = replace(sql, 'id_type BETWEEN 1 AND 4', 'id_type BETWEEN 1 AND 6')
                WHERE type = 'table' AND name IN ('membership', 'in_flight');
            """,
            editCheck: """
                SELECT count(*) FROM sqlite_schema
                WHERE type = 'table' AND name IN ('membership', 'in_flight') AND instr(sql, 'id_type BETWEEN 1 AND 4') > 0
                """
        ),
        Step(
            "remember the rules plain identifiers were hashed with",
            """
            -- Members already in a ledger were hashed as earlier versions did: plus tags kept, phones
            -- as E.164 with +. The daemon compares this with the rules in effect and says so when
            -- they differ (members sent under the old rules keep their old hashes at TikTok).
            INSERT OR IGNORE INTO setting (key, value)
                SELECT 'hashing_rules', 'email_remove_plus_tag=false;email_remove_dots=false;phone_format=e164'
                WHERE EXISTS (SELECT 1 FROM membership);
            -- Earlier versions took a maid without a type for an IDFA. Where MAIDs were sent so, an
            -- untyped one stays an IDFA until the configuration says otherwise: rejecting it now
            -- would make the next snapshot remove those members from TikTok.
            INSERT OR IGNORE INTO setting (key, value)
                SELECT 'legacy_maid_type', 'idfa'
                WHERE EXISTS (SELECT 1 FROM membership WHERE id_type IN (3, 4));
            """
        ),
        Step(
            "remember each file's change per segment",
            """
            -- {"123456":{"adds":1,"removes":0}}: for a receipt written after the run that applied the
            -- file stopped, or could not move it (a permission), so that it still says per segment.
            ALTER TABLE file ADD COLUMN segment_changes TEXT;
            """
        ),
        Step(
            "find a segment's members without reading the others'",
            """
            -- A snapshot's sweep reads only the segments it names (a small segment's snapshot no
            -- longer reads a hundred million rows). Keyed (segment, id_type, identifier): planning
            -- touches it only for members new to a segment, and in key order; wishes, confirmations
            -- and `seen` never change it. (Counting confirmed members in it by triggers was tried:
            -- planning 2M new members took 14.3 s instead of 4.7 s; see Benchmarks/README.md.)
            CREATE INDEX membership_by_segment ON membership (segment);
            """
        ),
        Step(
            "trace each member's changes and the requests that carried them",
            """
            -- For `lookup`: the wishes files gave a member in a segment before a newer file changed
            -- them (the member's row holds the last one, with its file's generation), and the last
            -- one of a member whose row went (a removal TikTok confirmed). Written by the triggers
            -- below, so a member's first arrival, the bulk of a large file, costs nothing here.
            -- Keyed by the file's generation first: forgetting a file deletes one range, and a
            -- member is found by one seek per file remembered. The member is the first 8 bytes of
            -- its identifier (a hash): nothing plain.
            CREATE TABLE member_trail (
                generation INTEGER NOT NULL,
                id_type INTEGER NOT NULL,
                member BLOB NOT NULL CHECK (length(member) = 8),
                segment INTEGER NOT NULL,
                desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
                -- The last request that carried this wish.
                request INTEGER,
                PRIMARY KEY (generation, id_type, member, segment)
            ) STRICT, WITHOUT ROWID;
            -- Each request's last try, with TikTok's answer: a few hundred rows per million members.
            CREATE TABLE request (
                id INTEGER PRIMARY KEY,
                sent_at INTEGER NOT NULL,
                action TEXT NOT NULL CHECK (action IN ('add', 'delete')),
                id_type INTEGER NOT NULL,
                users INTEGER NOT NULL,
                code INTEGER,
                http_status INTEGER,
                message TEXT,
                request_id TEXT
            ) STRICT;
            -- The last request that carried the member (confirmed, refused or unanswered).
            ALTER TABLE membership ADD COLUMN request INTEGER;
            -- A file changes a wish: the one it replaces goes to the trail. Only statements that set
            -- desired are looked at (a confirmation, which sets acked, is not).
            CREATE TRIGGER member_trail_on_change AFTER UPDATE OF desired ON membership
            WHEN OLD.desired <> NEW.desired
            BEGIN
                INSERT INTO member_trail (generation, id_type, member, segment, desired, request)
                VALUES (OLD.generation, OLD.id_type, substr(OLD.identifier, 1, 8), OLD.segment, OLD.desired, OLD.request)
                ON CONFLICT DO NOTHING;
            END;
            -- A row goes (its removal confirmed): its last wish stays in the trail.
            CREATE TRIGGER member_trail_on_delete AFTER DELETE ON membership
            BEGIN
                INSERT INTO member_trail (generation, id_type, member, segment, desired, request)
                VALUES (OLD.generation, OLD.id_type, substr(OLD.identifier, 1, 8), OLD.segment, OLD.desired, OLD.request)
                ON CONFLICT DO UPDATE SET request = coalesce(excluded.request, request);
            END;
            """
        ),
        Step(
            "check an identifier's length where it is made, not in every insert",
            """
            -- A CHECK that calls a function may fail halfway through a statement, so SQLite copies
            -- every page a statement of many rows touches into a statement journal first, to undo
            -- the statement alone: planning 2M new members wrote 2.3 GB to temporary files, nearly
            -- seven times the ledger. Identifiers are 32 bytes by their type (Digest32); the checks
            -- without a function stay.
            UPDATE sqlite_schema
            SET sql = replace(sql, 'identifier BLOB NOT NULL CHECK (length(identifier) = 32)', 'identifier BLOB NOT NULL')
            WHERE type = 'table' AND name = 'membership';
            """,
            editCheck: "SELECT count(*) FROM sqlite_schema WHERE name = 'membership' AND instr(sql, 'length(identifier)') > 0"
        ),
        Step(
            "leave the members of segments that never had a snapshot out of the segment index",
            """
            -- Only a snapshot's sweep needs a segment's members (membership_by_segment), and an
            -- entry there made inserting a new member about twice as dear (Benchmarks/README.md).
            -- A segment keeps its members in the index once it has had a snapshot (swept 1); until
            -- then, rows deltas create for it are left out (unindexed 1), and its first snapshot
            -- puts them in with one pass over membership. Segments already here keep theirs (1).
            -- unindexed is NULL for a row in the index, so that every row written before is one.
            -- It has no CHECK: SQLite would read all of membership to check it (0.3 s a million
            -- rows), where a column without one is added in an instant.
            ALTER TABLE segment ADD COLUMN swept INTEGER NOT NULL DEFAULT 1 CHECK (swept IN (0, 1));
            ALTER TABLE membership ADD COLUMN unindexed INTEGER;
            """
        ),
        Step(
            "make the segment index partial",
            """
            -- Every row has unindexed NULL until this version writes one, so the index already
            -- holds exactly the entries the partial one does: its definition is edited, not rebuilt.
            UPDATE sqlite_schema
            SET sql = replace(sql, 'ON membership (segment)', 'ON membership (segment) WHERE unindexed IS NULL')
            WHERE type = 'index' AND name = 'membership_by_segment';
            """,
            editCheck: """
                SELECT count(*) = 0 FROM sqlite_schema
                WHERE type = 'index' AND name = 'membership_by_segment' AND sql LIKE '% WHERE unindexed IS NULL'
                """
        ),
    ]

    /// Refuses a ledger this version cannot use as it is: one written by a newer version, or
    /// (`upgrading` false) one older than this version, which only the process holding the
    /// state directory's lock may upgrade. Returns the ledger's step.
    @discardableResult
    static func requireUsable(_ connection: SQLiteConnection, upgrading: Bool) throws -> Int {
        let current = try userVersion(connection)
        if current > steps.count {
            throw LedgerError.superseded(connection.path, "schema step \(current), this version knows \(steps.count)")
        }
        // A new, empty ledger (step 0) is made by whoever opens it first for writing.
        if !upgrading && current > 0 && current < steps.count {
            throw LedgerError.needsUpgrade(connection.path, "schema step \(current) and this version uses step \(steps.count)")
        }
        return current
    }

    static func migrate(_ connection: SQLiteConnection) throws {
        let current = try requireUsable(connection, upgrading: true)
        if current > 0 && current < steps.count {
            try copyBeforeUpgrade(connection, from: current)
        }
        for index in current..<steps.count {
            let step = steps[index]
            try connection.transaction {
                // Another process (a `check` started beside the daemon) may have taken this step
                // since the version was read: under the write lock, it is read again.
                guard try userVersion(connection) == index else { return }
                if let editCheck = step.editCheck {
                    try editDefinitions(step, checkedBy: editCheck, connection)
                } else {
                    try connection.execute(step.sql)
                }
                try connection.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    /// The ledger as it was before an upgrade, beside it: an upgrade that goes wrong, or a
    /// version that must be rolled back, finds the ledger as that version left it. Made with the
    /// online backup API; refused, before anything changes, when the disk has no room for it.
    static func copyBeforeUpgrade(_ connection: SQLiteConnection, from step: Int) throws {
        // Made anew at every upgrade from this step: one left by an earlier upgrade (then a
        // rollback) is older than the ledger now.
        let destination = connection.path + ".before-upgrade-from-step-\(step)"
        var size: Int64 = 0
        for suffix in ["", "-wal"] {
            var info = stat()
            if stat(connection.path + suffix, &info) == 0 { size += Int64(info.st_size) }
        }
        let directory = String(connection.path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/"))
        if let free = FreeSpace.available(at: directory.isEmpty ? "." : directory), free < size + size / 10 {
            throw LedgerError.upgradeBlocked(
                connection.path,
                "upgrading the ledger from schema step \(step) to \(steps.count) first copies it to \(destination), which needs about \(size + size / 10) bytes free; free space there (or move an older copy away) and start again. Nothing was changed")
        }
        try LedgerBackup.write(connection, to: destination)
    }

    static func userVersion(_ connection: SQLiteConnection) throws -> Int {
        let version = try connection.prepare("PRAGMA user_version")
        defer { version.reset() }
        return try version.step() ? Int(version.int(0)) : 0
    }

    /// SQLite's documented way (lang_altertable.html, "Making other kinds of table schema
    /// changes"): edit the text, then move schema_version on so that every connection reads the
    /// definitions again; then check that the edit took, so that a step is never counted as done
    /// while the tables still refuse what it allows.
    static func editDefinitions(_ step: Step, checkedBy editCheck: String, _ connection: SQLiteConnection) throws {
        let read = try connection.prepare("PRAGMA schema_version")
        let schemaVersion = try read.step() ? read.int(0) : 0
        read.reset()
        try connection.allowingSchemaEdits {
            try connection.execute("PRAGMA writable_schema = ON")
            defer { try? connection.execute("PRAGMA writable_schema = OFF") }
            try connection.execute(step.sql)
            try connection.execute("PRAGMA schema_version = \(schemaVersion + 1)")
        }
        let check = try connection.prepare(editCheck)
        defer { check.reset() }
        if try check.step(), check.int(0) != 0 {
            throw connection.error(0, "schema step \"\(step.name)\" did not change the definitions it edits")
        }
    }
}
