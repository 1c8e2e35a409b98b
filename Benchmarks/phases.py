#!/usr/bin/env python3
"""Where `once` spends its CPU on a large delta, phase by phase, for comparing two builds.

    Benchmarks/phases.py BIN_DIR [BIN_DIR ...] --file DELTA.csv [--frequency HZ]

For each BIN_DIR (holding `tiktok-audience-sync` and `tiktok-emulator`), starts the emulator,
runs `once` on DELTA into a fresh ledger under `perf record --call-graph dwarf`, and counts the
samples by the outermost product function they ran under (planning's membership inserts, range
confirmations, request bodies, …). One table, a column per build. At the default 250 Hz, 250
samples are one second of CPU.

Why samples and not seconds: on a shared machine the same binary's CPU time varies by seconds from
run to run, more than most changes; the share of each phase within one run varies far less. Needs
`perf` (linux-perf) and permission to record (root, or perf_event_paranoid <= 1).
"""
import argparse
import collections
import os
import shutil
import subprocess
import sys
import time

from b_once import once_under

# (phase, a substring of the product's (mangled) function names); a sample counts for the first
# phase, in this order, that any frame of its stack matches.
PHASES = [
    ("confirmation by key range", "settleAsRange"),
    ("confirmation row by row", "settleEach"),
    ("outbox rows dropped on confirmation", "dropFromOutbox"),
    ("the rest of a confirmation", "markAcknowledged"),
    ("the in-flight record", "recordInFlight"),
    ("the end of a send without confirmation", "endInFlight"),
    ("membership inserts while planning", "DeltaWriter"),
    ("outbox appends", "OutboxAppender"),
    ("the file's transaction, other", "applyFile"),
    ("checkpoints", "Checkpointer"),
    ("reading the outbox", "pendingRows"),
    ("building request bodies", "mappingBody"),
    ("packing batches", "BatchPacker"),
    ("the per-partner audit", "ChangeSources"),
    ("sorting the file", "sortKeepingLast"),
    ("merging sorted runs", "RunMerger"),
    ("reading the file", "FileReader"),
    ("the sender, other", "Sender"),
    ("HTTP (NIO)", "NIO"),
    ("the ledger, other", "AudienceLedger"),
]


def phase(stack: list[str]) -> str:
    for name, key in PHASES:
        if any(key in frame for frame in stack):
            return name
    return "other"


def profile(bin_dir: str, delta: str, frequency: int) -> collections.Counter:
    tool = ["perf", "record", "-q", "-F", str(frequency), "--call-graph", "dwarf,16384", "-o", "{root}/perf.data"]
    with once_under(bin_dir, delta, tool, prefix="tas-phases-") as root:
        script = subprocess.run(["perf", "script", "-i", os.path.join(root, "perf.data"), "-F", "ip,sym"],
                                capture_output=True, text=True)
        counts: collections.Counter = collections.Counter()
        stack: list[str] = []
        for raw in script.stdout.splitlines() + [""]:
            if raw.strip():
                parts = raw.split(None, 1)
                stack.append(parts[1] if len(parts) > 1 else parts[0])
            elif stack:
                counts[phase(stack)] += 1
                stack = []
        return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dirs", nargs="+")
    parser.add_argument("--file", required=True, help="the delta to sync, e.g. the 2M-row one generate.py writes")
    parser.add_argument("--frequency", type=int, default=250)
    arguments = parser.parse_args()
    if shutil.which("perf") is None:
        sys.exit("needs perf (apt-get install linux-perf)")
    columns = []
    for bin_dir in arguments.bin_dirs:
        started = time.monotonic()
        columns.append(profile(bin_dir, arguments.file, arguments.frequency))
        print(f"{bin_dir}: {sum(columns[-1].values())} samples, {time.monotonic() - started:.0f} s", file=sys.stderr)
    names = [name for name, _ in PHASES] + ["other"]
    width = max(len(name) for name in names)
    print(" " * width + "".join(f"{os.path.basename(os.path.normpath(d))[:12]:>14}" for d in arguments.bin_dirs))
    for name in names:
        if any(column[name] for column in columns):
            print(f"{name:<{width}}" + "".join(f"{column[name]:>14}" for column in columns))
    print(f"{'all':<{width}}" + "".join(f"{sum(column.values()):>14}" for column in columns))


if __name__ == "__main__":
    main()
