#!/bin/sh
# Builds the reader fuzzer (libFuzzer + AddressSanitizer) and runs it for SECONDS seconds.
#
#   Fuzz/run.sh [SECONDS] [more libFuzzer flags...]      (default 300 s)
#   Fuzz/run.sh 0 Fuzz/crashes/crash-<sha1>              (replay one input, no fuzzing)
#
# The corpus grows in Fuzz/corpus/ (seeded from Fuzz/seeds/, plus a gzip of each seed); anything
# that crashes, trips ASan, takes longer than 10 s or needs more than 2 GiB lands in Fuzz/crashes/.
# Exits non-zero when the fuzzer found something.
set -eu

seconds=${1:-300}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
flags="-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library"

# shellcheck disable=SC2086
swift build -c debug --package-path "$here" $flags --product ReaderFuzzer >&2
# shellcheck disable=SC2086
binary="$(swift build -c debug --package-path "$here" $flags --show-bin-path)/ReaderFuzzer"

mkdir -p "$here/corpus" "$here/crashes"
for seed in "$here"/seeds/*; do
    name=$(basename "$seed")
    [ -e "$here/corpus/$name" ] || cp "$seed" "$here/corpus/$name"
    [ -e "$here/corpus/$name.gz" ] || gzip -n -c "$seed" > "$here/corpus/$name.gz"
done

# A failed check is a fatalError; let libFuzzer, not Swift's backtracer (which trips ASan), report it.
export SWIFT_BACKTRACE=enable=no

if [ "$seconds" = 0 ]; then
    # Replaying: ASan's defaults, for full reports.
    exec "$binary" -runs=1 "$@"
fi
# The reader allocates 1 MiB buffers per file; with ASan's default 256 MiB quarantine and allocation
# stacks, every run pays for fresh pages and runs about 5 times slower. An 8 MiB quarantine still
# catches a use of a buffer just freed.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=0:quarantine_size_mb=8}"
exec "$binary" "$here/corpus" \
    -dict="$here/reader.dict" \
    -max_len=65536 \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -artifact_prefix="$here/crashes/" \
    -print_final_stats=1 \
    "$@"
