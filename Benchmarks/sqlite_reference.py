#!/usr/bin/env python3
"""Reference timings for planning: SQLite bulk upserts of an audience file's keys, nothing else.

Reads a delta file made by generate.py, turns every row into the ledger's key
(segment row, id_type 1, 32-byte identifier BLOB) in memory (not timed), orders the rows as asked,
then times only: BEGIN, one prepared upsert per row (executemany), COMMIT, on a fresh database
with the ledger's schema and pragmas (WAL, synchronous FULL, 32 MiB page cache, STRICT,
WITHOUT ROWID).

  --order sorted        key-sorted input: the reference measured in DESIGN.md (2.2 s for 2M)
  --order chunked:N     sorted in chunks of N rows, chunks in file order (what Planner does, N=262144)
  --order file          file order (random keys)
  --pending-index       also keep the ledger's partial index over pending rows
                        (id_type, identifier, segment) WHERE desired IS NOT acked
  --cache-mib M         page cache size (default 32, the ledger's)

Prints one line: `insert+commit SECONDS s (ROWS rows, ORDER, index yes/no)`.
"""
import argparse
import os
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE membership (
    segment INTEGER NOT NULL,
    id_type INTEGER NOT NULL CHECK (id_type BETWEEN 1 AND 4),
    identifier BLOB NOT NULL CHECK (length(identifier) = 32),
    desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
    acked INTEGER CHECK (acked IN (0, 1)),
    generation INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    PRIMARY KEY (segment, id_type, identifier)
) STRICT, WITHOUT ROWID;
"""
PENDING_INDEX = """
CREATE INDEX membership_pending ON membership (id_type, identifier, segment) WHERE desired IS NOT acked;
"""
# The ledger's delta upsert (ChangeWriter.deltaUpsert), parameters in the same order.
UPSERT = """
INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen)
VALUES (?1, ?2, ?3, ?4, CASE WHEN ?4 = 1 THEN 0 END, ?5, ?5)
ON CONFLICT DO UPDATE SET desired = excluded.desired, generation = excluded.generation, seen = excluded.seen
WHERE desired <> excluded.desired
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--db", required=True)
    parser.add_argument("--order", default="sorted")
    parser.add_argument("--pending-index", action="store_true")
    parser.add_argument("--cache-mib", type=int, default=32)
    args = parser.parse_args()

    segments = {}
    rows = []
    with open(args.file, "rb") as f:
        header = f.readline().decode().strip().split(",")
        ih, iseg, iact = header.index("email_hash"), header.index("segment_id"), header.index("action")
        for line in f:
            fields = line.rstrip(b"\n").split(b",")
            seg = segments.setdefault(fields[iseg], len(segments) + 1)
            rows.append((seg, 1, bytes.fromhex(fields[ih].decode()), 1 if fields[iact] == b"add" else 0, 1))
    if args.order == "sorted":
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
    elif args.order.startswith("chunked:"):
        n = int(args.order.split(":", 1)[1])
        for start in range(0, len(rows), n):
            rows[start:start + n] = sorted(rows[start:start + n], key=lambda r: (r[0], r[1], r[2]))
    elif args.order != "file":
        parser.error("--order must be sorted, chunked:N or file")

    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(args.db + suffix)
        except FileNotFoundError:
            pass
    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"PRAGMA cache_size = -{args.cache_mib * 1024}")
    db.executescript(SCHEMA + (PENDING_INDEX if args.pending_index else ""))

    started = time.monotonic()
    db.execute("BEGIN")
    db.executemany(UPSERT, rows)
    db.execute("COMMIT")
    elapsed = time.monotonic() - started
    db.close()
    print(f"insert+commit {elapsed:.2f} s ({len(rows)} rows, {args.order}, "
          f"index {'yes' if args.pending_index else 'no'}, cache {args.cache_mib} MiB, sqlite {sqlite3.sqlite_version})")
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(args.db + suffix)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
