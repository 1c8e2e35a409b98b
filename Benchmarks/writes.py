#!/usr/bin/env python3
"""What `once` writes on a large delta, file by file kind, for comparing builds.

    Benchmarks/writes.py BIN_DIR [BIN_DIR ...] --file DELTA.csv

For each BIN_DIR (holding `tiktok-audience-sync` and `tiktok-emulator`), starts the emulator, runs
`once` on DELTA into a fresh ledger (b's settings) under `strace -f`, and adds up the bytes of
every write and pwrite64 by the kind of file written: the ledger, its write-ahead log, SQLite's
temporary files (statement journals, sorts), the planner's spill of sorted runs, and the rest
(sockets to TikTok, the status file, receipts). Bytes written move by about 1 % from run to run
(with when checkpoints fall), where CPU seconds on a shared machine move by far more; each byte
written to a file is copied by the kernel.

Needs strace (apt-get install strace).
"""
import argparse
import collections
import os
import re
import shutil
import sys

from b_once import once_under

OPEN = re.compile(r'^\d+\s+openat\([^"]*"([^"]+)".*\)\s+=\s+(\d+)')
WRITE = re.compile(r'^\d+\s+(?:write|pwrite64)\((\d+),.*\)\s+=\s+(\d+)')
KINDS = [("ledger.sqlite-wal", "write-ahead log"), ("ledger.sqlite", "ledger file"), ("etilqs_", "SQLite temporary files"),
         (".plan-spill", "planner's sorted runs")]


def kind(path: str) -> str:
    name = os.path.basename(path)
    for prefix, label in KINDS:
        if name.startswith(prefix):
            return label
    return "other (sockets, status, receipts)"


def measure(bin_dir: str, delta: str) -> collections.Counter:
    tool = ["strace", "-f", "-qq", "-e", "trace=openat,write,pwrite64", "-o", "{root}/trace"]
    with once_under(bin_dir, delta, tool, prefix="tas-writes-") as root:
        # A descriptor names the file last opened on it (threads share the table).
        names: dict[str, str] = {}
        totals: collections.Counter = collections.Counter()
        with open(os.path.join(root, "trace")) as lines:
            for raw in lines:
                if opened := OPEN.match(raw):
                    names[opened.group(2)] = opened.group(1)
                elif written := WRITE.match(raw):
                    totals[kind(names.get(written.group(1), ""))] += int(written.group(2))
        return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dirs", nargs="+")
    parser.add_argument("--file", required=True, help="the delta to sync, e.g. the 2M-row one generate.py writes")
    arguments = parser.parse_args()
    if shutil.which("strace") is None:
        sys.exit("needs strace (apt-get install strace)")
    columns = [measure(bin_dir, arguments.file) for bin_dir in arguments.bin_dirs]
    labels = [label for _, label in KINDS] + ["other (sockets, status, receipts)"]
    width = max(len(label) for label in labels)
    print(f"{'MB written':<{width}}" + "".join(f"{os.path.basename(os.path.normpath(d))[:12]:>14}" for d in arguments.bin_dirs))
    for label in labels:
        print(f"{label:<{width}}" + "".join(f"{column[label] / 1e6:>14.1f}" for column in columns))
    print(f"{'all':<{width}}" + "".join(f"{sum(column.values()) / 1e6:>14.1f}" for column in columns))


if __name__ == "__main__":
    main()
