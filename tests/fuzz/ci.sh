#!/usr/bin/env bash
# ci.sh - runs every libFuzzer target for a short while on its corpus, one
# after the other on one core; fails if any finds a crash, a leak, a
# sanitizer report or a broken invariant, and prints the input in hex so it
# can become a regression (tests/fuzz/regress/<target>/, docs/testing.md).
#
#   tests/fuzz/ci.sh BUILD_DIR [SECONDS_PER_TARGET]
# BUILD_DIR was set up with -Dfuzz=true (CC=clang).  The corpus in the
# repository is only read: what the run adds goes to a temporary directory.
set -euo pipefail
build=$1
secs=${2:-25}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/synack-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# UBSan must stop at its first report, or libFuzzer would not see it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
# One core: the machine is shared (docs/testing.md).
pin=()
if command -v taskset >/dev/null && [ "$(nproc)" -gt 1 ]; then
    pin=(taskset -c 1)
fi
failed=0
for t in frames tcp options trace; do
    bin=$build/tests/fuzz/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz: $bin is not built (-Dfuzz=true)" >&2; exit 1; }
    mkdir -p "$work/$t/corpus" "$work/$t/art"
    # The TCP target runs faster with entropic scheduling off (docs/testing.md).
    extra=()
    [ "$t" = tcp ] && extra=(-entropic=0)
    dirs=("$work/$t/corpus")
    for d in "$here/corpus/$t" "$here/regress/$t"; do
        [ -d "$d" ] && dirs+=("$d")
    done
    status=0
    "${pin[@]}" "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/$t/art/" "${extra[@]}" \
        "${dirs[@]}" >"$work/$t/log" 2>&1 || status=$?
    # (A crash on the first inputs leaves no statistics: nothing to grep.)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/log")
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$work/$t/log" | tail -1 || true)
    if [ "$status" = 0 ]; then
        echo "fuzz: $t: ok, ${runs:-?} runs in ${secs} s, $cov"
        continue
    fi
    failed=1
    echo "fuzz: $t: FAILED (exit $status); the end of its log:" >&2
    tail -n 60 "$work/$t/log" >&2
    for f in "$work/$t/art"/*; do
        [ -f "$f" ] || continue
        echo "fuzz: $t: the input ($(basename "$f"), $(stat -c %s "$f") bytes), in hex; to" \
            "keep it: xxd -r -p > tests/fuzz/regress/$t/NAME" >&2
        od -An -v -tx1 "$f" | tr -d ' \n' | fold -w 64 >&2
        echo >&2
    done
done
exit $failed
