#!/usr/bin/env bash
# Throughput and memory benchmarks for tiktok-audience-sync (see Benchmarks/README.md).
#
#   Benchmarks/run.sh                 # a-d at 2M rows
#   BENCH_LARGE=1 Benchmarks/run.sh   # also e: 10M rows through `once` (peak RSS)
#
# Environment:
#   BENCH_DIR         work directory (default /tmp/tas-bench); generated inputs are cached in
#                     $BENCH_DIR/data, results go to $BENCH_DIR/results.md
#   BENCH_ROWS        rows for a-d (default 2000000)
#   BENCH_LARGE       1 to run e (default 0)
#   BENCH_LARGE_ROWS  rows for e (default 10000000)
#   BENCH_ONLY        the benchmarks to run, e.g. "bc" (default "abcd", plus "e" with BENCH_LARGE=1);
#                     "f" runs `once` with the shipped sending defaults (10 requests a second, the
#                     requests in flight adapting), to compare with BENCH_LATENCY_MS 0, 200 and 500
#                     "g" is the scale benchmark: a ledger of BENCH_SCALE_IDENTIFIERS x 5 large segments
#                     (+ 1,000 in a small one; 20000000 by default: 100M members, ~13 GiB, built once by
#                     synthetic_ledger.py and kept in $BENCH_DIR/scale), then status, a 1,000-row
#                     snapshot of the small segment and a 1,000-row delta, each through `once`
#   BENCH_MAX_IN_FLIGHT  for f: a tiktok.max_in_flight to set (4 is the fixed number of earlier versions)
#   BENCH_NO_BUILD    1 to use the release binaries already built
#   BENCH_BIN         a folder holding tiktok-audience-sync and tiktok-emulator to use instead (no build)
#   BENCH_KEEP        1 to keep ledgers and archives (default: deleted at the end; inputs are kept)
#   BENCH_LATENCY_MS  milliseconds the emulator waits before every TikTok answer (default 0), to
#                     see how both programs fare against a remote API
#
# Every server listens on 127.0.0.1 only; every emulator started here is stopped here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

BENCH_DIR=${BENCH_DIR:-/tmp/tas-bench}
ROWS=${BENCH_ROWS:-2000000}
LARGE=${BENCH_LARGE:-0}
LARGE_ROWS=${BENCH_LARGE_ROWS:-10000000}
ONLY=${BENCH_ONLY:-abcd}
[ "$LARGE" = 1 ] && [ -z "${BENCH_ONLY:-}" ] && ONLY="${ONLY}e"
TOKEN=emulator-token
ADVERTISER=7000000000000000001

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }
want() { [[ "$ONLY" == *"$1"* ]]; }

# --- tools ------------------------------------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  log "installing GNU time"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
  else sudo apt-get install -y -qq time >/dev/null; fi
fi
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"
if ! command -v sqlite3 >/dev/null && [[ "$ONLY" == *d* ]]; then
  log "installing the sqlite3 shell (for the SQLite reference in d)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq sqlite3 >/dev/null; else sudo apt-get install -y -qq sqlite3 >/dev/null; fi
fi

# --- build ------------------------------------------------------------------------------------
if [ -n "${BENCH_BIN:-}" ]; then
  bin=$BENCH_BIN
elif [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building release binaries (the first release build takes 10+ minutes on 2 cores)"
  swift build -c release --product tiktok-audience-sync
  swift build -c release --product tiktok-emulator
fi
bin=${bin:-$(swift build -c release --show-bin-path)}
sync_bin=$bin/tiktok-audience-sync
emulator_bin=$bin/tiktok-emulator
if [ ! -x "$sync_bin" ] || [ ! -x "$emulator_bin" ]; then die "release binaries missing in $bin"; fi

# --- data (cached) ----------------------------------------------------------------------------
data=$BENCH_DIR/data
run=$BENCH_DIR/run
mkdir -p "$data"
rm -rf "$run"
mkdir -p "$run"
generate() { # rows file
  if [ ! -s "$2" ] || [ ! -s "$2.expected.json" ]; then
    log "generating $2 ($1 rows)"
    python3 "$root/Benchmarks/generate.py" --rows "$1" --seed 1 "$2"
  fi
}
input=$data/delta-$ROWS.csv
generate "$ROWS" "$input"
input_mib=$(( $(stat -c %s "$input") / 1048576 ))

# --- helpers ----------------------------------------------------------------------------------
emulator_pid=""
emulator_port=""
emulator_cpu=""
emulator_rss_mib=""
emulator_note=""
start_emulator() { # [emulator options...]
  rm -f "$run/emulator.pid" "$run/emulator.status" "$run/emulator.out"
  # The subshell waits for the emulator to record how it ended (a benchmark must not blame the
  # product for an emulator that something else stopped).
  ( "$emulator_bin" --host 127.0.0.1 --port 0 --latency-ms "${BENCH_LATENCY_MS:-0}" "$@" >"$run/emulator.out" 2>"$run/emulator.err" &
    echo $! >"$run/emulator.pid"
    wait $! && echo 0 >"$run/emulator.status" || echo $? >"$run/emulator.status" ) &
  emulator_note=""
  emulator_cpu="?"
  emulator_rss_mib="?"
  for _ in $(seq 200); do [ -s "$run/emulator.pid" ] && grep -q listening "$run/emulator.out" 2>/dev/null && break; sleep 0.05; done
  emulator_pid=$(cat "$run/emulator.pid")
  base_url=$(sed -n 's/^listening on //p' "$run/emulator.out")
  [ -n "$base_url" ] || die "the emulator did not start: $(cat "$run/emulator.err")"
  emulator_port=$(echo "$base_url" | sed -E 's#http://127.0.0.1:([0-9]+)/.*#\1#')
}
stop_emulator() {
  [ -n "$emulator_pid" ] || return 0
  if [ -r "/proc/$emulator_pid/status" ]; then
    emulator_rss_mib=$(awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$emulator_pid/status")
    emulator_cpu=$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$emulator_pid/stat")
  fi
  kill "$emulator_pid" 2>/dev/null || true
  for _ in $(seq 100); do [ -s "$run/emulator.status" ] && break; sleep 0.1; done
  emulator_pid=""
}
trap stop_emulator EXIT
stats() { curl -sf --max-time 30 "http://127.0.0.1:$emulator_port/_emulator/stats" || echo '{"mapping_requests": "?", "member_counts": {}}'; }
json_get() { # json key → value (objects printed as sorted JSON)
  python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v)' "$1" "$2"
}
counts_match() { # stats-json expected-file → "members ok" or a description
  python3 - "$1" "$2" <<'EOF2'
import json, sys
got = json.loads(sys.argv[1])["member_counts"]
want = json.load(open(sys.argv[2]))
bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
print("members ok" if not bad else "MEMBERS WRONG (got, want): " + json.dumps(bad))
EOF2
}

# measure NAME CMD...: runs CMD under /usr/bin/time -v (and `timeout $BENCH_TIMEOUT`); sets wall,
# cpu, rss_mib, status. While an emulator is running, a watchdog stops CMD if the emulator goes
# away (a sender facing a dead endpoint retries for a long time) and notes it in emulator_note.
measure() {
  local name=$1; shift
  local t0 t1 pid watchdog=""
  t0=$EPOCHREALTIME
  status=0
  /usr/bin/time -v -o "$run/$name.time" timeout "${BENCH_TIMEOUT:-3600}" "$@" >"$run/$name.out" 2>"$run/$name.err" &
  pid=$!
  if [ -n "$emulator_pid" ]; then
    ( while kill -0 "$pid" 2>/dev/null; do
        if ! kill -0 "$emulator_pid" 2>/dev/null; then
          echo "emulator (pid $emulator_pid) disappeared during $name at $(date +%T); stopping $name" >>"$run/$name.err"
          kill -TERM $(pgrep -P "$pid") 2>/dev/null || true
          break
        fi
        sleep 1
      done ) &
    watchdog=$!
  fi
  wait "$pid" || status=$?
  if [ -n "$watchdog" ]; then kill "$watchdog" 2>/dev/null || true; wait "$watchdog" 2>/dev/null || true; fi
  t1=$EPOCHREALTIME
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  rss_mib=$(awk -F': ' '/Maximum resident set size/ { printf "%d", $2 / 1024 }' "$run/$name.time")
  cpu=$(awk -F': ' '/User time/ { u = $2 } /System time/ { s = $2 } END { printf "%.1f", u + s }' "$run/$name.time")
  if grep -q "disappeared during" "$run/$name.err"; then
    emulator_note="EMULATOR DISAPPEARED during $name (its exit status: $(cat "$run/emulator.status" 2>/dev/null))"
    log "$emulator_note"
  fi
  [ "$status" != 124 ] || log "$name: timed out after ${BENCH_TIMEOUT:-3600} s"
  log "$name: ${wall} s wall, ${cpu} s CPU, ${rss_mib} MiB peak RSS, exit $status"
}

write_config() { # file inbox state base_url [defaults]: with "defaults", the shipped sending settings
  cat >"$1" <<EOF
inbox: $2
state_directory: $3
settle_seconds: 0
tiktok:
  base_url: $4
  advertiser_id: "$ADVERTISER"
EOF
  [ "${5:-}" = defaults ] || printf '  requests_per_second: 1000\n  max_in_flight: 4\n' >>"$1"
  [ "${5:-}" != defaults ] || [ -z "${BENCH_MAX_IN_FLIGHT:-}" ] || printf '  max_in_flight: %s\n' "$BENCH_MAX_IN_FLIGHT" >>"$1"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=()
row() { results+=("| $1 | $2 | $3 | $4 | $5 | $6 |"); }

# --- a. the cron-script baseline ----------------------------------------------------------------
if want a; then
  log "a. baseline_cron.py on $ROWS rows"
  start_emulator
  measure baseline python3 "$root/Benchmarks/baseline_cron.py" --base-url "$base_url" --token "$TOKEN" \
    --advertiser-id "$ADVERTISER" --db "$run/baseline.sqlite" "$input"
  s=$(stats)
  check=$(counts_match "$s" "$input.expected.json")
  [ "$status" = 0 ] || check="exit $status; $check"
  [ -z "$emulator_note" ] || check="$emulator_note; $check"
  stop_emulator
  row "a. cron baseline (csv+sqlite3+urllib), $ROWS rows" "$wall" "$cpu" "$rss_mib" "$(json_get "$s" mapping_requests)" \
    "$check; $(cat "$run/baseline.out"); emulator ${emulator_cpu} s CPU"
  rm -f "$run/baseline.sqlite"
fi

# --- b. once end to end, c. rerun of the same file --------------------------------------------
if want b || want c; then
  log "b. tiktok-audience-sync once on $ROWS rows"
  start_emulator
  mkdir -p "$run/b/inbox"
  write_config "$run/b/config.yaml" "$run/b/inbox" "$run/b/state" "$base_url"
  cp "$input" "$run/b/inbox/audience.csv"
  measure once env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$run/b/config.yaml"
  s=$(stats)
  requests_b=$(json_get "$s" mapping_requests)
  check=$(counts_match "$s" "$input.expected.json")
  [ "$status" = 0 ] || check="exit $status; $check"
  [ -z "$emulator_note" ] || check="$emulator_note; $check"
  ledger_mib=$(du -sm "$run/b/state/ledger.sqlite"* 2>/dev/null | awk '{ s += $1 } END { print s }')
  sent=$(grep -o 'sent [0-9]* request(s); TikTok confirmed [0-9]* change(s)' "$run/once.out" "$run/once.err" | head -1 | cut -d: -f2- || true)
  once_row=("b. once, $ROWS rows, fresh state" "$wall" "$cpu" "$rss_mib" "$requests_b" "$check; ${sent:-?}; ledger ${ledger_mib} MiB")

  if want c; then
    log "c. rerun of the same file"
    cp "$input" "$run/b/inbox/audience.csv"
    measure rerun env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$run/b/config.yaml"
    s2=$(stats)
    requests_c=$(json_get "$s2" mapping_requests)
    if [ "$requests_c" = "$requests_b" ]; then check="no new request"; else check="SENT $((requests_c - requests_b)) NEW REQUESTS"; fi
    [ "$status" = 0 ] || check="exit $status; $check"
    [ -z "$emulator_note" ] || check="$emulator_note; $check"
    grep -q duplicate "$run/rerun.out" "$run/rerun.err" && check="$check; recorded as duplicate"
    rerun=("c. rerun, same file again" "$wall" "$cpu" "$rss_mib" "$requests_c (total)" "$check")
    measure sha256sum sha256sum "$input"
    sha=("c'. sha256sum of the file (${input_mib} MiB)" "$wall" "$cpu" "$rss_mib" "-" "floor for a rerun: the fingerprint reads every byte")
  fi
  stop_emulator
  once_row[5]="${once_row[5]}; emulator ${emulator_cpu} s CPU, ${emulator_rss_mib} MiB"
  row "${once_row[@]}"
  if want c; then row "${rerun[@]}"; row "${sha[@]}"; fi
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$run/b"
fi

# --- d. planning alone versus a key-sorted bulk load ------------------------------------------
if want d; then
  log "d. validate and plan on a fresh state; SQLite reference loads"
  mkdir -p "$run/d/inbox"
  write_config "$run/d/config.yaml" "$run/d/inbox" "$run/d/state" "http://127.0.0.1:9/open_api/v1.3"
  measure validate "$sync_bin" validate "$input"
  row "d. validate (read + check, no ledger)" "$wall" "$cpu" "$rss_mib" "-" "exit $status"
  measure plan "$sync_bin" plan --config "$run/d/config.yaml" "$input"
  row "d. plan, fresh state (read, sort, look up; writes nothing)" "$wall" "$cpu" "$rss_mib" "-" "exit $status; $(grep -m1 -o '[0-9]* rows, [0-9]* rejected' "$run/plan.out" || true)"
  # SQLite's own work for the same 2M upserts (sqlite3 shell, ledger schema and pragmas, one
  # transaction, insert+commit timed): key-sorted is DESIGN.md's reference; with the outbox it is
  # what the planner asks of SQLite (one key-ordered stream into the table, each row appended to
  # the outbox); with the pending index, what it asked before the outbox.
  for variant in "sorted" "sorted --outbox" "sorted --pending-index"; do
    # shellcheck disable=SC2086
    measure reference python3 "$root/Benchmarks/sqlite_reference.py" --db "$run/d/reference.sqlite" --order $variant "$input"
    t=$(sed -n 's/^insert+commit \([0-9.]*\) s.*/\1/p' "$run/reference.out")
    [ "$status" = 0 ] || t="failed"
    case $variant in
      sorted) what="key-sorted bulk load, table only (DESIGN.md's 2.2 s reference)" ;;
      *outbox) what="key-sorted, table + outbox (what once's planning writes)" ;;
      *) what="key-sorted, table + covering pending index (what planning wrote before the outbox)" ;;
    esac
    row "d'. SQLite reference: $what" "$t" "-" "-" "-" "insert+commit only, sqlite3 shell, ledger schema and pragmas"
  done
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$run/d"
fi

# --- e. 10M rows through once: memory stays flat ----------------------------------------------
if want e; then
  large=$data/delta-$LARGE_ROWS.csv
  generate "$LARGE_ROWS" "$large"
  log "e. tiktok-audience-sync once on $LARGE_ROWS rows"
  start_emulator
  mkdir -p "$run/e/inbox"
  write_config "$run/e/config.yaml" "$run/e/inbox" "$run/e/state" "$base_url"
  cp "$large" "$run/e/inbox/audience.csv"
  measure large env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$run/e/config.yaml"
  s=$(stats)
  check=$(counts_match "$s" "$large.expected.json")
  [ "$status" = 0 ] || check="exit $status; $check"
  [ -z "$emulator_note" ] || check="$emulator_note; $check"
  stop_emulator
  row "e. once, $LARGE_ROWS rows, fresh state" "$wall" "$cpu" "$rss_mib" "$(json_get "$s" mapping_requests)" \
    "$check; emulator ${emulator_cpu} s CPU, ${emulator_rss_mib} MiB"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$run/e"
fi

# --- f. once with the shipped sending defaults: limited by requests_per_second? ----------------
if want f; then
  log "f. plan, then once with the shipped sending defaults, on $ROWS rows"
  start_emulator
  mkdir -p "$run/f/inbox"
  write_config "$run/f/config.yaml" "$run/f/inbox" "$run/f/state" "$base_url" defaults
  cp "$input" "$run/f/inbox/audience.csv"
  # Planning is what comes before the first request reaches the emulator: polled beside the run.
  ( t0=$EPOCHREALTIME
    while sleep 0.05; do
      n=$(curl -sf --max-time 5 "http://127.0.0.1:$emulator_port/_emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["mapping_requests"])' 2>/dev/null || echo 0)
      if [ "${n:-0}" -gt 0 ]; then awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }' >"$run/f.first"; break; fi
    done ) &
  poller=$!
  measure once_f env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$run/f/config.yaml"
  kill "$poller" 2>/dev/null || true; wait "$poller" 2>/dev/null || true
  plan_wall=$(cat "$run/f.first" 2>/dev/null || echo 0)
  s=$(stats)
  requests_f=$(json_get "$s" mapping_requests)
  check=$(counts_match "$s" "$input.expected.json")
  [ "$status" = 0 ] || check="exit $status; $check"
  [ -z "$emulator_note" ] || check="$emulator_note; $check"
  peak=$(json_get "$s" peak_concurrent_requests)
  goal=$(awk -v p="$plan_wall" -v r="$requests_f" 'BEGIN { printf "%.1f", 1.3 * (p + r / 10) }')
  floor=$(awk -v p="$plan_wall" -v r="$requests_f" 'BEGIN { printf "%.1f", p + r / 10 }')
  stop_emulator
  row "f. once, shipped sending defaults (10 requests/s${BENCH_MAX_IN_FLIGHT:+, max_in_flight $BENCH_MAX_IN_FLIGHT})" "$wall" "$cpu" "$rss_mib" "$requests_f" \
    "$check; first request after ${plan_wall} s (planning); at most $peak in flight; planning + requests/10 = ${floor} s, goal 1.3x = ${goal} s; emulator ${emulator_cpu} s CPU"
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$run/f"
fi

# --- g. cost that grows with the work, not the ledger ------------------------------------------
if want g; then
  identifiers=${BENCH_SCALE_IDENTIFIERS:-20000000}
  scale=$BENCH_DIR/scale-$identifiers
  if [ ! -s "$scale/ledger.sqlite" ]; then
    log "g. building a ledger of $identifiers x 5 + 1,000 members in $scale (once; kept for later runs)"
    rm -rf "$scale"
    python3 "$root/Benchmarks/synthetic_ledger.py" --binary "$sync_bin" --state "$scale" --identifiers "$identifiers"
  fi
  rows_g=$(( identifiers * 5 + 1000 ))
  ledger_gib=$(du -sm "$scale/ledger.sqlite"* | awk '{ s += $1 } END { printf "%.1f", s / 1024 }')
  start_emulator --audience 100001 --audience 100002 --audience 100003 --audience 100004 --audience 100005 --audience 200001
  write_config "$scale/config.yaml" "$scale/inbox" "$scale" "$base_url"
  # The small segment's members are the synthetic ledger's every (identifiers/1000)th identifier.
  # New members are salted per run, so that every run changes something (a kept ledger).
  python3 - "$identifiers" "$scale" "$(date +%s%N)" <<'EOF2'
import hashlib, sys
count, scale, salt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
step, every = (1 << 256) // count, max(1, count // 1000)
kept = [format(i * step + 12345, "064x") for i in range(0, count, every)][:600]
new = [hashlib.sha256(f"scale-new-{salt}-{i}@example.com".encode()).hexdigest() for i in range(400)]
with open(f"{scale}/snapshot.csv", "w") as out:
    out.write("email_hash,segment_id\n" + "".join(f"{h},200001\n" for h in kept + new))
with open(f"{scale}/delta.csv", "w") as out:
    out.write("email_hash,segment_id,action\n" + "".join(
        f"{hashlib.sha256(f'scale-delta-{salt}-{i}@example.com'.encode()).hexdigest()},100003,add\n" for i in range(1000)))
EOF2
  measure status_g "$sync_bin" status --config "$scale/config.yaml"
  row "g. status, ledger of $rows_g members ($ledger_gib GiB)" "$wall" "$cpu" "$rss_mib" "-" "exit $status (75: pending work from earlier runs; 0: none)"
  cp "$scale/snapshot.csv" "$scale/inbox/snapshot-$(date +%s%N).csv"
  measure once_g_snapshot env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$scale/config.yaml"
  s=$(stats)
  row "g. once, 1,000-row snapshot of the 1,000-member segment (600 kept, 400 new, 400 removed)" "$wall" "$cpu" "$rss_mib" \
    "$(json_get "$s" mapping_requests)" "exit $status; $(grep -o 'sent [0-9]* request(s); TikTok confirmed [0-9]* change(s)' "$run/once_g_snapshot.out" | head -1)"
  cp "$scale/delta.csv" "$scale/inbox/delta-$(date +%s%N).csv"
  measure once_g_delta env TIKTOK_ACCESS_TOKEN=$TOKEN "$sync_bin" once --config "$scale/config.yaml"
  s=$(stats)
  row "g. once, 1,000-row delta (adds to a 20M-member segment)" "$wall" "$cpu" "$rss_mib" \
    "$(json_get "$s" mapping_requests)" "exit $status; $(grep -o 'sent [0-9]* request(s); TikTok confirmed [0-9]* change(s)' "$run/once_g_delta.out" | head -1)"
  measure status_g2 "$sync_bin" status --config "$scale/config.yaml"
  row "g. status again" "$wall" "$cpu" "$rss_mib" "-" "exit $status"
  stop_emulator
fi

# --- results ----------------------------------------------------------------------------------
{
  echo "Results of Benchmarks/run.sh on $(hostname), $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "(load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg); other work on the machine inflates wall times)"
  [ "${BENCH_LATENCY_MS:-0}" = 0 ] || echo "(the emulator waited ${BENCH_LATENCY_MS} ms before every answer)"
  echo "(input: $ROWS-row delta, ${input_mib} MiB; SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1); $(swift --version 2>/dev/null | head -1))"
  echo
  echo "| benchmark | wall (s) | CPU user+sys (s) | peak RSS (MiB) | mapping requests | check / notes |"
  echo "|---|---:|---:|---:|---:|---|"
  printf '%s\n' "${results[@]}"
} | tee "$BENCH_DIR/results.md"
