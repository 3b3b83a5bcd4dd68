#!/usr/bin/env bash
# profile.sh - where synack's time goes in a bulk transfer, for
# docs/performance.md.  Not a benchmark meson runs: it needs perf, and
# prints profiles for a person to read.
#
#   sudo BUILD=build tests/bench/profile.sh perf      [h2s|s2h|both]
#   sudo BUILD=build tests/bench/profile.sh callgrind [h2s|s2h|both]
#
# h2s: tests/tools/bulk sends PROFILE_MB MiB (perf: 512, callgrind: 32)
# into tapd's discard; the profile is tapd's.  s2h: `bulk gen | tapnc -N`
# sends as much to `bulk recv` on the host; the profile is tapnc's.  Both
# ends on CPU 1, as the suite runs them by default.
#
# perf: `perf record -g` of the stack's process alone (user and kernel
# samples: its read() and write() on the TAP run the host kernel's tun
# path in its context), then `perf report --no-children` by symbol, and a
# count of its system calls (`perf stat -e raw_syscalls:sys_enter`) against
# the frames it moved.  callgrind: the stack's instructions in user space
# (no kernel), by function, inclusive and exclusive.
# Outputs are kept in PROFILE_DIR (default build/profile).  PROFILE_OPTS
# are the stack's options (say --no-offload); PROFILE_CPU_WIDE=1 has perf
# record the whole CPU (perf record -a -C CPU: the host tools and the
# kernel's work for them too) instead of the stack's process alone.
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_tools taskset
TOOL=${1:-perf}
DIRS=${2:-both}
[ "$DIRS" = both ] && DIRS="h2s s2h"
case $TOOL in
perf) command -v perf >/dev/null || fail "perf not found (apt-get install linux-perf)" ;;
callgrind) command -v valgrind >/dev/null || fail "valgrind not found" ;;
*) fail "usage: profile.sh perf|callgrind [h2s|s2h|both]" ;;
esac
BULK=$BUILD/tests/bulk
[ -x "$BULK" ] || fail "no $BULK: build first"
OUT=${PROFILE_DIR:-$BUILD/profile}
mkdir -p "$OUT"
if [ "$TOOL" = perf ]; then MB=${PROFILE_MB:-512}; else MB=${PROFILE_MB:-32}; fi
BYTES=$((MB * 1024 * 1024))
CPU=${PROFILE_CPU:-1}
read -r -a SOPTS <<<"${PROFILE_OPTS:-}"
# What perf follows: the process given, or the whole CPU.
perf_target() { if [ -n "${PROFILE_CPU_WIDE:-}" ]; then echo -a -C "$CPU"; else echo -p "$1"; fi; }

# The stack's command, wrapped by the profiler; its output file is $2.
wrap()
{
    local name=$1
    shift
    if [ "$TOOL" = perf ]; then
        if [ -n "${PROFILE_CPU_WIDE:-}" ]; then
            echo "$@" # perf runs beside it, on the whole CPU
            return
        fi
        echo perf record -q -g -F 4999 -o "$OUT/$name.perf.data" -- perf stat -x, \
            -e raw_syscalls:sys_enter -o "$OUT/$name.syscalls" -- "$@"
    else
        echo valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.callgrind" "$@"
    fi
}

report()
{
    local name=$1 frames=$2
    echo
    echo "=== $name: $MB MiB, $TOOL"
    if [ "$TOOL" = perf ]; then
        perf report -i "$OUT/$name.perf.data" --no-children --sort symbol --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -25
        local calls
        calls=$(awk -F, '/raw_syscalls/ { print $1 }' "$OUT/$name.syscalls")
        echo "system calls: $calls for $frames frames of the TAP ($(awk -v c="$calls" -v f="$frames" \
            'BEGIN { printf "%.2f", c / (f > 0 ? f : 1) }') per frame)"
    else
        callgrind_annotate --inclusive=no "$OUT/$name.callgrind" 2>/dev/null |
            sed -n '/file:function/,$p' | sed -n '3,22p'
        echo "--- inclusive:"
        callgrind_annotate --inclusive=yes "$OUT/$name.callgrind" 2>/dev/null |
            sed -n '/file:function/,$p' | sed -n '3,16p'
    fi
}

# frames NS: frames that crossed tap0 (both ways) since the last call.
LAST_FRAMES=0
frames()
{
    local n
    n=$(ip -n "$1" -s -j link show tap0 | python3 -c \
        'import json,sys; s=json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["packets"] + s["tx"]["packets"])')
    echo $((n - LAST_FRAMES))
    LAST_FRAMES=$n
}

# A persistent tap0, which tapd and tapnc attach to in turn: its counters
# outlive them.
ns_create
NS=$NS_LAST
ip -n "$NS" tuntap add dev tap0 mode tap || fail "ip tuntap add tap0 failed"
for dir in $DIRS; do
    if [ "$dir" = h2s ]; then
        # perf attaches to the running tapd for the transfer alone (its
        # start-up left out); callgrind must start it.
        PERFS=()
        if [ "$TOOL" = perf ]; then
            start_bg "$NS" tapd taskset -c "$CPU" "$TAPD" "${SOPTS[@]}"
            TD=$BG_LAST
        else
            # shellcheck disable=SC2046 # wrap prints words
            start_bg "$NS" tapd taskset -c "$CPU" $(wrap tapd-h2s "$TAPD" "${SOPTS[@]}")
            TD=$BG_LAST
        fi
        wait_for 30 tap_is_up "$NS" tap0 "$HOST_IP" || { show "$TMP/tapd.err"; fail "tap0 is not up"; }
        # As the suite: the host's sender runs cubic (this machine's default
        # is bbr, which paces from a timer), and with --no-offload the
        # host's end of the TAP segments nothing either.
        ip -n "$NS" route replace "${HOST_IP%.*}.0/24" dev tap0 congctl "${BENCH_KERNEL_CC:-cubic}" ||
            fail "cannot set the congestion control"
        if [[ " ${SOPTS[*]} " == *" --no-offload "* ]]; then
            ns_exec "$NS" ethtool -K tap0 tso off gso off gro off tx off rx off sg off >/dev/null 2>&1
        fi
        ns_exec "$NS" ping -q -c 2 -W 5 "$STACK_IP" >/dev/null || fail "no ping answer"
        if [ "$TOOL" = perf ]; then
            # shellcheck disable=SC2046 # perf_target prints words
            start_bg "$NS" perf-record perf record -q -g -F 4999 -o "$OUT/tapd-h2s.perf.data" $(perf_target "$TD")
            PERFS+=("$BG_LAST")
            start_bg "$NS" perf-stat perf stat -x, -e raw_syscalls:sys_enter -o "$OUT/tapd-h2s.syscalls" -p "$TD"
            PERFS+=("$BG_LAST")
            sleep 1 # perf is attached
        fi
        LAST_FRAMES=0
        frames "$NS" >/dev/null
        ns_exec "$NS" timeout 300 taskset -c "$CPU" "$BULK" send -b "$BYTES" -T 280 "$STACK_IP" 9 >"$TMP/h2s.out" ||
            fail "the transfer failed"
        n=$(frames "$NS")
        for p in "${PERFS[@]}"; do
            kill -INT "$p"
            wait_exit "$p" 60 || fail "perf did not stop"
        done
        kill -INT -- "-$TD" 2>/dev/null # tapd (and valgrind around it) exits
        wait_exit "$TD" 60 || fail "tapd did not exit"
        log "host -> stack: $(awk '/mb_per_s/ { print $2 }' "$TMP/h2s.out") MB/s under $TOOL"
        report tapd-h2s "$n"
    else
        start_bg "$NS" recv taskset -c "$CPU" "$BULK" recv -T 280 6001
        RX=$BG_LAST
        wait_listen "$NS" 6001 || fail "bulk recv does not listen"
        # shellcheck disable=SC2046 # wrap prints words
        LAST_FRAMES=0
        frames "$NS" >/dev/null
        PERFS=()
        if [ -n "${PROFILE_CPU_WIDE:-}" ] && [ "$TOOL" = perf ]; then
            # shellcheck disable=SC2046 # perf_target prints words
            start_bg "$NS" perf-record perf record -q -g -F 4999 -o "$OUT/tapnc-s2h.perf.data" $(perf_target)
            PERFS+=("$BG_LAST")
            echo 0,raw_syscalls:sys_enter >"$OUT/tapnc-s2h.syscalls" # not counted CPU-wide
            sleep 1
        fi
        start_bg "$NS" tapnc taskset -c "$CPU" sh -c "\"$BULK\" gen $BYTES | $(wrap tapnc-s2h "$TAPNC" "${SOPTS[@]}" -N "$HOST_IP" 6001)"
        TX=$BG_LAST
        wait_exit "$RX" 300 || fail "bulk recv did not finish"
        wait_exit "$TX" 60 || fail "tapnc did not exit"
        n=$(frames "$NS")
        for p in "${PERFS[@]}"; do
            kill -INT "$p"
            wait_exit "$p" 60 || fail "perf did not stop"
        done
        log "stack -> host: $(awk '/mb_per_s/ { print $2 }' "$TMP/recv.out") MB/s under $TOOL"
        report tapnc-s2h "$n"
    fi
done
pass "profiles in $OUT"
finish
