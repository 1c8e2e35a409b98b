#!/usr/bin/env python3
"""The straightforward alternative: the cron script a data engineer would write in an afternoon.

Python standard library only (csv, sqlite3, urllib.request). It

1. reads the audience CSV (email_hash, segment_id, action) with the csv module,
2. records every row in a SQLite table (segment, email_hash, action) with one executemany and one
   commit, and the file name in a table of processed files (a file seen before is skipped),
3. sends the rows to TikTok's POST /segment/mapping/ (TIKTOK_API.md): for every (segment, action),
   batches of 10,000 identifiers, one request per batch, one segment per identifier, sequentially,
   and checks that the answer's `code` is 0.

It is the benchmarks' point of comparison for tiktok-audience-sync: same input, same emulator.
What it does not do (and tiktok-audience-sync does): net changes against what TikTok already holds,
cancel an add by a later remove, pack several segments into one identifier, retry by return code,
survive a crash between two batches, validate identifiers.

Usage:
  baseline_cron.py --base-url http://127.0.0.1:PORT/open_api/v1.3 --token TOKEN \\
                   --advertiser-id 7000000000000000001 --db state.sqlite FILE.csv
Exit status 0 when every batch was accepted, 1 when TikTok refused one, 2 on bad usage.
"""
import argparse
import csv
import json
import os
import sqlite3
import sys
import time
import urllib.request

BATCH = 10_000


def post_mapping(base_url, token, advertiser_id, action, segment, hashes):
    body = {
        "advertiser_ids": [advertiser_id],
        "action": action,
        "id_schema": ["EMAIL_SHA256"],
        "batch_data": [[{"id": h, "audience_ids": [segment]}] for h in hashes],
    }
    request = urllib.request.Request(
        base_url.rstrip("/") + "/segment/mapping/",
        data=json.dumps(body).encode(),
        headers={"Access-Token": token, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    if answer.get("code") != 0:
        raise RuntimeError(f"TikTok refused a batch: code {answer.get('code')} {answer.get('message')} "
                           f"request_id={answer.get('request_id')}")


def main():
    parser = argparse.ArgumentParser(description="cron-style audience sync (benchmark baseline)")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", default=os.environ.get("TIKTOK_ACCESS_TOKEN"))
    parser.add_argument("--advertiser-id", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("file")
    args = parser.parse_args()
    if not args.token:
        parser.error("--token or TIKTOK_ACCESS_TOKEN is required")

    started = time.monotonic()
    db = sqlite3.connect(args.db)
    db.execute("CREATE TABLE IF NOT EXISTS audience_rows (file TEXT, segment TEXT, email_hash TEXT, action TEXT)")
    db.execute("CREATE TABLE IF NOT EXISTS processed_files (name TEXT PRIMARY KEY, loaded_at REAL)")
    name = os.path.basename(args.file)
    if db.execute("SELECT 1 FROM processed_files WHERE name = ?", (name,)).fetchone():
        print(f"{name}: already processed, skipping")
        return 0

    # 1 + 2: read the CSV and record its rows, one transaction.
    with open(args.file, newline="") as f:
        reader = csv.DictReader(f)
        rows = ((name, r["segment_id"], r["email_hash"].lower(), r["action"]) for r in reader)
        db.executemany("INSERT INTO audience_rows VALUES (?, ?, ?, ?)", rows)
    db.execute("INSERT INTO processed_files VALUES (?, ?)", (name, time.time()))
    db.commit()
    loaded = time.monotonic()

    # 3: one request per 10,000 identifiers of one (segment, action).
    requests = 0
    groups = db.execute(
        "SELECT DISTINCT segment, action FROM audience_rows WHERE file = ? ORDER BY segment, action", (name,)
    ).fetchall()
    for segment, action in groups:
        api_action = "add" if action == "add" else "delete"
        cursor = db.execute(
            "SELECT email_hash FROM audience_rows WHERE file = ? AND segment = ? AND action = ?",
            (name, segment, action),
        )
        while True:
            batch = [row[0] for row in cursor.fetchmany(BATCH)]
            if not batch:
                break
            post_mapping(args.base_url, args.token, args.advertiser_id, api_action, segment, batch)
            requests += 1
    done = time.monotonic()
    print(f"{name}: loaded in {loaded - started:.1f} s, sent {requests} request(s) in {done - loaded:.1f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
