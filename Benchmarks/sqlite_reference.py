#!/usr/bin/env python3
"""Reference timings for planning: SQLite bulk upserts of an audience file's keys, and nothing else.

What is timed is SQLite's own work, done by the sqlite3 command-line shell (no language binding in
the loop): on a fresh database with the ledger's schema and pragmas (16 KiB pages, WAL, synchronous FULL, 16 MiB
page cache, STRICT, WITHOUT ROWID), one transaction, one statement that upserts every row with the
ledger's delta upsert (ChangeWriter.deltaUpsert), then COMMIT. The rows come from an attached
source table in the order asked for; building that source (parsing the CSV, hex → 32-byte BLOB,
sorting) is done beforehand in Python and not timed. It is cached next to the input file.

(Python's own sqlite3.executemany is not used for the timed part: on this machine it costs ~3.8 s
per 2M rows of binding overhead before SQLite does any B-tree work, which would hide the number.)

  --order sorted        key-sorted input (identifier, segment), the ledger's key order and what Planner
                        gives SQLite: the reference measured in DESIGN.md (2.2 s for 2M)
  --order chunked:N     sorted in chunks of N rows, chunks in file order (what Planner did before it
                        merged its sorted chunks)
  --order file          file order (random keys)
  --pending-index       also maintain the partial (covering) index over pending rows that ledgers
                        before schema step 4 had: (id_type, identifier, segment, desired, acked,
                        generation) WHERE desired IS NOT acked
  --outbox              also append every row to the outbox, in the same key order, as planning does
  --cache-mib M         page cache size (default 16, the ledger's)

Prints one line: `insert+commit SECONDS s (ROWS rows, ORDER, index yes/no, ...)`.
"""
import argparse
import os
import re
import sqlite3
import subprocess
import sys

SCHEMA = """
CREATE TABLE membership (
    segment INTEGER NOT NULL,
    id_type INTEGER NOT NULL CHECK (id_type BETWEEN 1 AND 4),
    identifier BLOB NOT NULL CHECK (length(identifier) = 32),
    desired INTEGER NOT NULL CHECK (desired IN (0, 1)),
    acked INTEGER CHECK (acked IN (0, 1)),
    generation INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    outbox_seq INTEGER,
    PRIMARY KEY (id_type, identifier, segment)
) STRICT, WITHOUT ROWID;
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY,
    id_type INTEGER NOT NULL,
    identifier BLOB NOT NULL,
    segment INTEGER NOT NULL,
    generation INTEGER NOT NULL
) STRICT;
"""
PENDING_INDEX = """
CREATE INDEX membership_pending ON membership (id_type, identifier, segment, desired, acked, generation)
    WHERE desired IS NOT acked;
"""
# The ledger's delta upsert, fed from the source table (WHERE true: needed before ON CONFLICT).
UPSERT = """
INSERT INTO membership (segment, id_type, identifier, desired, acked, generation, seen)
SELECT segment, 1, identifier, desired, CASE WHEN desired = 1 THEN 0 END, 1, 1 FROM src.keys WHERE true ORDER BY rowid
ON CONFLICT DO UPDATE SET desired = excluded.desired, generation = excluded.generation, seen = excluded.seen,
    outbox_seq = NULL
WHERE desired <> excluded.desired;
"""
OUTBOX = """
INSERT INTO outbox (id_type, identifier, segment, generation)
SELECT 1, identifier, segment, 1 FROM src.keys ORDER BY rowid;
"""


def unlink(path):
    for suffix in ("", "-wal", "-shm", "-journal"):
        try:
            os.unlink(path + suffix)
        except FileNotFoundError:
            pass


def build_source(csv_path, order, source):
    """The file's keys as (segment, identifier BLOB, desired) rows, stored in `order` by rowid."""
    segments = {}
    rows = []
    with open(csv_path, "rb") as f:
        header = f.readline().decode().strip().split(",")
        ih, iseg, iact = header.index("email_hash"), header.index("segment_id"), header.index("action")
        for line in f:
            fields = line.rstrip(b"\n").split(b",")
            seg = segments.setdefault(fields[iseg], len(segments) + 1)
            rows.append((seg, bytes.fromhex(fields[ih].decode()), 1 if fields[iact] == b"add" else 0))
    if order == "sorted":
        rows.sort(key=lambda r: (r[1], r[0]))
    elif order.startswith("chunked:"):
        n = int(order.split(":", 1)[1])
        for start in range(0, len(rows), n):
            rows[start:start + n] = sorted(rows[start:start + n], key=lambda r: (r[1], r[0]))
    tmp = source + ".tmp"
    unlink(tmp)
    db = sqlite3.connect(tmp)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("CREATE TABLE keys (segment INTEGER, identifier BLOB, desired INTEGER)")
    db.executemany("INSERT INTO keys VALUES (?, ?, ?)", rows)
    db.commit()
    db.close()
    os.replace(tmp, source)
    return len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("--db", required=True, help="the database to create (deleted afterwards)")
    parser.add_argument("--order", default="sorted")
    parser.add_argument("--pending-index", action="store_true")
    parser.add_argument("--outbox", action="store_true")
    parser.add_argument("--cache-mib", type=int, default=16)
    parser.add_argument("--sqlite3", default="sqlite3", help="the sqlite3 shell to run")
    args = parser.parse_args()
    if not (args.order in ("sorted", "file") or re.fullmatch(r"chunked:[0-9]+", args.order)):
        parser.error("--order must be sorted, chunked:N or file")

    source = f"{args.file}.keys-v3-{args.order.replace(':', '-')}.sqlite"
    if not os.path.exists(source) or os.path.getmtime(source) < os.path.getmtime(args.file):
        build_source(args.file, args.order, source)
    rows = sqlite3.connect(source).execute("SELECT count(*) FROM keys").fetchone()[0]

    unlink(args.db)
    script = (
        "PRAGMA page_size = 16384;\nPRAGMA journal_mode = WAL;\nPRAGMA synchronous = FULL;\n"
        f"PRAGMA cache_size = -{args.cache_mib * 1024};\n"
        + SCHEMA + (PENDING_INDEX if args.pending_index else "")
        + f"ATTACH '{source}' AS src;\n"
        + ".timer on\nBEGIN;\n" + UPSERT + (OUTBOX if args.outbox else "") + "COMMIT;\n"
    )
    result = subprocess.run([args.sqlite3, args.db], input=script, capture_output=True, text=True)
    unlink(args.db)
    if result.returncode != 0:
        print(result.stdout + result.stderr, file=sys.stderr)
        return 1
    times = [float(t) for t in re.findall(r"Run Time: real ([0-9.]+)", result.stdout)]
    version = subprocess.run([args.sqlite3, "--version"], capture_output=True, text=True).stdout.split()[0]
    print(f"insert+commit {sum(times):.2f} s ({rows} rows, {args.order}, "
          f"index {'yes' if args.pending_index else 'no'}, outbox {'yes' if args.outbox else 'no'}, cache {args.cache_mib} MiB, sqlite3 shell {version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
