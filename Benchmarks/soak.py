#!/usr/bin/env python3
"""The daemon for months, compressed: `run` against the emulator for N minutes while small files
land every fraction of a second, TikTok answers late and now and then refuses (50002) or fails
(503), and `status --json` is asked every second, as a monitoring check would. Samples the
daemon's resident memory (VmRSS) and open file descriptors every 10 s, then waits until
everything is confirmed and checks that TikTok holds exactly what the files say.

  Benchmarks/soak.py --bin .build/release --minutes 20 --files-per-second 10

Prints a table of RSS and descriptors against files taken, the growth after warm-up, and the
exactness at the end; exits 1 if TikTok's membership differs from the files' or a status call
failed. Every server listens on 127.0.0.1 only; the emulator and the daemon started here are
stopped here.
"""
import argparse, hashlib, json, os, random, shutil, signal, subprocess, sys, tempfile, time, urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--bin", required=True, help="folder with tiktok-audience-sync and tiktok-emulator")
parser.add_argument("--minutes", type=float, default=20)
parser.add_argument("--files-per-second", type=float, default=10)
parser.add_argument("--rows", type=int, default=200, help="rows per file")
parser.add_argument("--pool", type=int, default=500_000, help="members files draw from")
parser.add_argument("--latency-ms", type=int, default=40)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--out", help="also write the table here (markdown)")
args = parser.parse_args()
rnd = random.Random(args.seed)
SEGMENTS = ["100001", "100002"]
root = tempfile.mkdtemp(prefix="tas-soak-")
inbox, state = root + "/inbox", root + "/state"
os.makedirs(inbox)

emulator = subprocess.Popen(
    [args.bin + "/tiktok-emulator", "--latency-ms", str(args.latency_ms), "--seed", str(args.seed),
     "--random-fault", '{"code":50002}@0.03', "--random-fault", '{"gateway_status":503}@0.02']
    + sum([["--audience", s] for s in SEGMENTS], []), stdout=subprocess.PIPE, text=True)
base_url = emulator.stdout.readline().split()[-1]
admin = base_url.split("/open_api")[0] + "/_emulator"
config = root + "/config.yaml"
with open(config, "w") as f:
    f.write(f"""inbox: {inbox}
state_directory: {state}
settle_seconds: 0
tiktok:
  base_url: {base_url}
  advertiser_id: "7000000000000000001"
  requests_per_second: 50
  # A 503 may have reached TikTok: its members are sent again after this long. Shorter than the
  # default (twice the 60 s timeout) so that the run settles within a minute of the last file.
  request_timeout_seconds: 10
  resend_unanswered_after_seconds: 20
""")
env = dict(os.environ, TIKTOK_ACCESS_TOKEN="emulator-token")
daemon = subprocess.Popen([args.bin + "/tiktok-audience-sync", "run", "--config", config], env=env,
                          stdout=subprocess.DEVNULL, stderr=open(root + "/daemon.log", "w"))


def member(index):
    return hashlib.sha256(f"soak-{index}@example.com".encode()).hexdigest()


def rss_and_fds(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss / 1024, len(os.listdir(f"/proc/{pid}/fd"))


status_errors = []


def status_json():
    result = subprocess.run([args.bin + "/tiktok-audience-sync", "status", "--json", "--config", config],
                            env=env, capture_output=True, text=True)
    if result.returncode not in (0, 75):
        try:
            said = "; ".join(json.loads(result.stdout).get("problems", [])) or result.stdout.strip()[:300]
        except ValueError:
            said = (result.stderr.strip() or result.stdout.strip())[:300]
        status_errors.append(f"exit {result.returncode}: {said}")
    return result.returncode, (json.loads(result.stdout) if result.stdout.strip() else None)


oracle = {segment: set() for segment in SEGMENTS}
dropped = 0
status_calls = status_failures = 0
samples = []  # (seconds, files dropped, files taken, rss MiB, fds)
start = time.time()
end = start + args.minutes * 60
next_file = next_status = start
next_sample = start + 10
time.sleep(1)
while time.time() < end:
    now = time.time()
    if now >= next_file:
        dropped += 1
        name = f"{inbox}/f{dropped:06d}.csv"
        with open(name + ".part", "w") as f:
            f.write("email_hash,segment_id,action\n")
            for _ in range(args.rows):
                index = rnd.randrange(args.pool)
                segment = SEGMENTS[index % 2]
                action = "add" if rnd.random() < 0.7 else "remove"
                f.write(f"{member(index)},{segment},{action}\n")
                (oracle[segment].add if action == "add" else oracle[segment].discard)(member(index))
        os.rename(name + ".part", name)
        next_file += 1 / args.files_per_second
    if now >= next_status:
        code, _ = status_json()
        status_calls += 1
        if code not in (0, 75):
            status_failures += 1
        next_status += 1
    if now >= next_sample:
        rss, fds = rss_and_fds(daemon.pid)
        taken = dropped - len([n for n in os.listdir(inbox) if not n.startswith(".")])
        samples.append((now - start, dropped, taken, rss, fds))
        next_sample += 10
    time.sleep(max(0, min(next_file, next_status, next_sample) - time.time()))

# Everything confirmed: nothing left in the inbox, nothing pending, nothing waiting for a resend.
settled_by = time.time() + 600
print(f"{dropped} files dropped; waiting for everything to be confirmed", file=sys.stderr)
while time.time() < settled_by:
    code, document = status_json()
    if document and not os.listdir(inbox) and document["pending"]["adds"] == 0 and document["pending"]["removes"] == 0 \
            and document["unanswered"]["members"] == 0:
        break
    time.sleep(2)
else:
    print("not settled after 10 minutes", file=sys.stderr)
rss, fds = rss_and_fds(daemon.pid)
samples.append((time.time() - start, dropped, dropped, rss, fds))
wrong = 0
for segment in SEGMENTS:
    with urllib.request.urlopen(f"{admin}/members?audience_id={segment}") as answer:
        held = {m["id"] for m in json.load(answer)["members"]}
    wrong += len(held ^ oracle[segment])
daemon.send_signal(signal.SIGTERM)
stopped = daemon.wait(timeout=60)
emulator.terminate()
emulator.wait()

# Warm-up: the first quarter of the files (SQLite's page caches fill as the ledger grows).
warm = [s for s in samples if s[2] >= dropped / 4]
lines = ["| minute | files dropped | files taken | RSS (MiB) | open fds |", "|---:|---:|---:|---:|---:|"]
for seconds, files, taken, rss_mib, fd_count in samples:
    if int(seconds) % 60 < 10 or (seconds, files) == samples[-1][:2]:
        lines.append(f"| {seconds / 60:.1f} | {files} | {taken} | {rss_mib:.1f} | {fd_count} |")
# Growth as a trend, not as two samples: the least-squares slope of RSS over files taken, and the
# medians of the first and last tenth, over the samples after warm-up while files still came (the
# drain at the end, when the last files' passes are the largest, left out).
steady = [s for s in warm[:-1]] or warm
n = len(steady)
mean_x = sum(s[2] for s in steady) / n
mean_y = sum(s[3] for s in steady) / n
spread = sum((s[2] - mean_x) ** 2 for s in steady)
slope = sum((s[2] - mean_x) * (s[3] - mean_y) for s in steady) / spread if spread else 0.0
tenth = max(1, n // 10)
def median(values):
    values = sorted(values)
    return values[len(values) // 2]
first_tenth, last_tenth = median(s[3] for s in steady[:tenth]), median(s[3] for s in steady[-tenth:])
summary = [
    f"{dropped} files of {args.rows} rows in {args.minutes:g} min ({args.files_per_second:g}/s), TikTok answering after "
    f"{args.latency_ms} ms with 3% code 50002 and 2% HTTP 503; {status_calls} status calls, {status_failures} failed",
    f"RSS after warm-up (files {warm[0][2]}..{dropped}): {min(s[3] for s in warm):.1f}-{max(s[3] for s in warm):.1f} MiB "
    f"(growth {warm[-1][3] - warm[0][3]:+.1f} MiB); open fds {min(s[4] for s in warm)}-{max(s[4] for s in warm)}",
    f"RSS trend while files came (files {steady[0][2]}..{steady[-1][2]}, {n} samples): {slope * 10_000:+.2f} MiB per 10,000 files; "
    f"median of the first tenth {first_tenth:.1f} MiB, of the last tenth {last_tenth:.1f} MiB",
    f"end: TikTok's membership {'exactly as the files say' if wrong == 0 else f'differs in {wrong} members'}; "
    f"daemon stopped with exit {stopped}",
]
summary += [f"status failed: {error}" for error in status_errors[:5]]
text = "\n".join(lines + [""] + summary)
print(text)
if args.out:
    with open(args.out, "w") as out:
        out.write(text + "\n")
shutil.rmtree(root, ignore_errors=True)
sys.exit(1 if wrong or status_failures or stopped != 0 else 0)
