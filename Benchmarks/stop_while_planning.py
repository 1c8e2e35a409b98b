#!/usr/bin/env python3
"""How long `run` takes to stop when SIGTERM arrives while it plans a large file.

    Benchmarks/stop_while_planning.py BINARY FILE [--after SECONDS] [--runs N]

Puts FILE (hard-linked, else copied) into a fresh inbox, starts `BINARY run` on it, sends SIGTERM
SECONDS after the start (default 5, well inside the planning of a large file), and reports how
long the daemon took to exit, its exit status, and whether the file is still in the inbox (it
must be: planning gives up and commits nothing). No TikTok is needed: nothing is sent before the
file is planned. Speed is measured here, never asserted in tests.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def once(binary: str, source: str, after: float) -> tuple[float, int, bool]:
    root = tempfile.mkdtemp(prefix="tas-stop-")
    try:
        inbox, state = os.path.join(root, "inbox"), os.path.join(root, "state")
        os.makedirs(inbox)
        target = os.path.join(inbox, os.path.basename(source))
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        config = os.path.join(root, "config.yaml")
        with open(config, "w") as handle:
            handle.write(
                f"inbox: {inbox}\nstate_directory: {state}\nsettle_seconds: 0\n"
                "tiktok:\n  base_url: http://127.0.0.1:9/open_api/v1.3\n  advertiser_id: \"7000000000000000001\"\n")
        env = dict(os.environ, TIKTOK_ACCESS_TOKEN="benchmark-token")
        env.pop("NOTIFY_SOCKET", None)
        process = subprocess.Popen([binary, "run", "--config", config], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(after)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=600)
        took = time.monotonic() - sent
        return took, status, os.path.exists(target)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("file")
    parser.add_argument("--after", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for run in range(args.runs):
        took, status, kept = once(args.binary, args.file, args.after)
        print(f"run {run + 1}: SIGTERM {args.after:.1f} s after start; exited {status} after {took:.2f} s; "
              f"file {'still in the inbox' if kept else 'taken'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
