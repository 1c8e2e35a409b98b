#!/usr/bin/env python3
"""Write a synthetic audience file for the benchmarks.

Default: a delta file of 2,000,000 rows,

    email_hash,segment_id,action
    <64 lowercase hex>,123456,add
    ...

Every email_hash is the SHA-256 of a distinct synthetic address (``user<N>.<seed>@bench.example``),
so hashes are real SHA-256 values, distinct, and the same for the same --seed. Rows are spread
uniformly at random over the segments (123456 and 654321 unless --segments says otherwise).

Options:
  --rows N             rows to write (default 2,000,000)
  --segments A,B,...   segment ids (default 123456,654321)
  --remove-fraction F  fraction of rows that are removes (default 0: all adds); a remove names a
                       member that no earlier row added, as in a delta that drops old members
  --overlap F          fraction of rows that reuse an identifier already used for another
                       segment (default 0: every row has its own identifier). This is where
                       packing several audience_ids per identifier saves requests.
  --snapshot           no action column (the file is the complete membership of its segments)
  --gzip               gzip the output (level --gzip-level, default 6)
  --seed S             seed (default 1)
  --expected FILE      also write the member count per segment that the file leaves on an empty
                       TikTok (JSON); default OUTPUT.expected.json

It writes to OUTPUT.tmp and renames, so a half-written file never has the final name.
"""
import argparse
import array
import gzip
import hashlib
import json
import os
import random
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--segments", default="123456,654321")
    parser.add_argument("--remove-fraction", type=float, default=0.0)
    parser.add_argument("--overlap", type=float, default=0.0)
    parser.add_argument("--snapshot", action="store_true")
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--gzip-level", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--expected")
    args = parser.parse_args()

    segments = [s.strip() for s in args.segments.split(",") if s.strip()]
    if not segments or not all(s.isdigit() and len(s) <= 19 for s in segments):
        parser.error("--segments must be a comma-separated list of digit ids")
    if args.snapshot and args.remove_fraction:
        parser.error("--remove-fraction makes no sense for a snapshot (it has no action column)")
    if not 0 <= args.remove_fraction <= 1 or not 0 <= args.overlap < 1:
        parser.error("--remove-fraction must be in [0, 1] and --overlap in [0, 1)")
    if args.overlap and not 2 <= len(segments) <= 127:
        parser.error("--overlap needs 2 to 127 segments")

    started = time.monotonic()
    rng = random.Random(args.seed)
    n = args.rows
    nseg = len(segments)
    sha = hashlib.sha256
    suffix = f".{args.seed}@bench.example".encode()

    def identifier(i: int) -> str:
        return sha(b"user" + str(i).encode() + suffix).hexdigest()

    counts = [0] * nseg
    # --overlap: identifier row -> the segments it is already in (a (member, segment) pair never repeats).
    used: dict[int, set[int]] = {}
    origin_segment = array.array("b", bytes(n)) if args.overlap else None
    header = "email_hash,segment_id\n" if args.snapshot else "email_hash,segment_id,action\n"
    tmp = args.output + ".tmp"
    raw = open(tmp, "wb")
    # mtime=0: the same seed gives the same bytes (and so the same fingerprint).
    out = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=args.gzip_level, mtime=0) if args.gzip else raw
    out.write(header.encode())
    chunk = 1 << 20
    for first in range(0, n, chunk):
        count = min(chunk, n - first)
        seg_index = rng.choices(range(nseg), k=count)
        hashes = [identifier(i) for i in range(first, first + count)]
        if args.overlap:
            r = rng.random
            for k in range(count):
                i = first + k
                if i > 0 and r() < args.overlap:
                    j = rng.randrange(i)
                    if origin_segment[j] >= 0:  # j has its own identifier (is not itself a reuse)
                        members = used.setdefault(j, {origin_segment[j]})
                        if len(members) < nseg:
                            free = [s for s in range(nseg) if s not in members]
                            s = free[rng.randrange(len(free))]
                            members.add(s)
                            seg_index[k] = s
                            hashes[k] = identifier(j)
                            origin_segment[i] = -1
                            continue
                origin_segment[i] = seg_index[k]
        if args.snapshot:
            lines = [f"{h},{segments[s]}\n" for h, s in zip(hashes, seg_index)]
            for s in seg_index:
                counts[s] += 1
        elif args.remove_fraction:
            r = rng.random
            rf = args.remove_fraction
            actions = ["remove" if r() < rf else "add" for _ in range(count)]
            lines = [f"{h},{segments[s]},{a}\n" for h, s, a in zip(hashes, seg_index, actions)]
            for s, a in zip(seg_index, actions):
                if a == "add":
                    counts[s] += 1
        else:
            lines = [f"{h},{segments[s]},add\n" for h, s in zip(hashes, seg_index)]
            for s in seg_index:
                counts[s] += 1
        out.write("".join(lines).encode())
    if out is not raw:
        out.close()
    raw.close()
    os.replace(tmp, args.output)

    expected_path = args.expected or args.output + ".expected.json"
    with open(expected_path, "w") as out:
        json.dump({segments[k]: counts[k] for k in range(nseg)}, out, sort_keys=True)
        out.write("\n")
    print(
        f"wrote {args.output}: {n} rows, {os.path.getsize(args.output)} bytes, "
        f"{'snapshot' if args.snapshot else 'delta'}, members per segment {json.dumps(dict(zip(segments, counts)))}, "
        f"{time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
