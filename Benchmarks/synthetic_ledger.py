#!/usr/bin/env python3
"""Builds a ledger with many members, synthetically, for the scale benchmark (g in run.sh).

The schema is the product's own: `tiktok-audience-sync once` on an empty inbox creates the empty
ledger (`status` only reads, and creates nothing), then
rows are bulk-loaded in key order with the segment index set aside (and
made after), as a fast load, not as the daemon writes.

Members: `--identifiers` email hashes spread evenly over the key space, each in the five large
segments 100001..100005 (so 5 rows each), and every `--identifiers / 1000`th also in the small
segment 200001 (1,000 members). All desired and confirmed by TikTok, one applied file.

  synthetic_ledger.py --binary PATH --state DIR --identifiers 20000000
"""
import argparse
import os
import sqlite3
import subprocess
import sys
import time

LARGE = ["100001", "100002", "100003", "100004", "100005"]
SMALL = "200001"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    parser.add_argument("--state", required=True)
    parser.add_argument("--identifiers", type=int, default=20_000_000)
    arguments = parser.parse_args()
    state = os.path.abspath(arguments.state)
    os.makedirs(state + "/inbox", exist_ok=True)
    config = state + "/config.yaml"
    with open(config, "w") as out:
        out.write(f"inbox: {state}/inbox\nstate_directory: {state}\ntiktok:\n  advertiser_id: \"7000000000000000001\"\n")
    subprocess.run([arguments.binary, "once", "--config", config], stdout=subprocess.DEVNULL, check=False)
    path = state + "/ledger.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = DELETE")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1000000")
    set_aside = db.execute(
        "SELECT name, sql FROM sqlite_schema WHERE type IN ('trigger', 'index') AND tbl_name = 'membership' AND sql IS NOT NULL"
    ).fetchall()
    for name, sql in set_aside:
        kind = "TRIGGER" if sql.upper().startswith("CREATE TRIGGER") else "INDEX"
        db.execute(f"DROP {kind} {name}")
    db.execute("BEGIN")
    for row, audience in enumerate(LARGE + [SMALL], start=1):
        db.execute("INSERT INTO segment (id, audience_id) VALUES (?, ?)", (row, audience))
    count = arguments.identifiers
    step = (1 << 256) // count
    small_every = max(1, count // 1000)

    def rows():
        for i in range(count):
            identifier = (i * step + 12345).to_bytes(32, "big")
            for segment in range(1, 6):
                yield (identifier, segment)
            if i % small_every == 0:
                yield (identifier, 6)

    started = time.time()
    db.executemany(
        "INSERT INTO membership (id_type, identifier, segment, desired, acked, generation, seen) VALUES (1, ?, ?, 1, 1, 1, 1)",
        rows(),
    )
    small = len(range(0, count, small_every))
    db.execute(
        "INSERT INTO file (fingerprint, generation, name, size, outcome, kind, rows_read, members, adds, planned_at, archived_as, confirmed_at) "
        "VALUES (zeroblob(32), 1, 'synthetic.csv', 0, 'applied', 'snapshot', ?, ?, ?, 0, 'archive/synthetic.csv', 0)",
        (count * 5 + small, count * 5 + small, count * 5 + small),
    )
    db.execute("INSERT INTO setting (key, value) VALUES ('generation', 1) ON CONFLICT (key) DO UPDATE SET value = 1")
    db.execute("COMMIT")
    loaded = time.time()
    for _, sql in set_aside:
        db.execute(sql)
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    with open(state + "/ledger.seal", "w") as out:
        out.write("1\n")
    print(f"{count * 5 + small} rows in {loaded - started:.0f} s, index and triggers in {time.time() - loaded:.0f} s; "
          f"ledger {os.path.getsize(path) / 2**30:.1f} GiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
