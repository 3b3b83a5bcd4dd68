#!/usr/bin/env bash
# Scale: tapd's echo with 100,000 idle connections open (BENCH_CONNS; 5,000
# with BENCH_QUICK=1).  Reports tapd's RSS per idle connection (VmRSS
# delta / N), the request/response median on one more connection with 0
# and with N open (and their ratio: the target is <= 1.10), the time to
# open them and the time to close them all.  Also as JSON in
# $BUILD/bench-scale.json.  Clients: tests/tools/connmany, six processes
# from six host addresses (a process holds at most 20,000 fds).
# Run with: sudo meson test -C build --benchmark --verbose scale
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_tools ss
CONNMANY=$BUILD/tests/connmany
[ -x "$CONNMANY" ] || fail "no connmany at $CONNMANY: build first (ninja -C build)"

if [ -n "${BENCH_QUICK:-}" ]; then
    N=${BENCH_CONNS:-5000}
    RR=${BENCH_RR:-2000}
else
    N=${BENCH_CONNS:-100000}
    RR=${BENCH_RR:-20000}
fi
NPROC=6
PER=$(((N + NPROC - 1) / NPROC))
N=$((PER * NPROC))
RUNS=3 # round-trip runs each way; the median of their medians is kept

ns_create
NS=$NS_LAST
ns_exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" || fail "cannot widen the port range"
start_bg "$NS" tapd "$TAPD" --backlog 8192
TD=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"
for i in $(seq 1 $NPROC); do
    ip -n "$NS" addr add "10.0.0.$((100 + i))/24" dev tap0 || fail "cannot add an address to tap0"
    ns_exec "$NS" ping -n -q -c 1 -W 2 -I "10.0.0.$((100 + i))" "$STACK_IP" >/dev/null || fail "no ping answer"
done
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$TD/status"; }

# rr_median: the median of RUNS medians of RR round trips of 64 bytes.
rr_median()
{
    local k m=()
    for k in $(seq 1 $RUNS); do
        ns_exec "$NS" timeout 120 "$CONNMANY" -n 0 -r "$RR" -z 64 -T 100 "$STACK_IP" 7 >"$TMP/rr.out" 2>"$TMP/rr.err" ||
            { show "$TMP/rr.err"; fail "round trips failed"; }
        m+=("$(awk '/^rr_median_us/ { print $2 }' "$TMP/rr.out")")
    done
    printf '%s\n' "${m[@]}" | sort -g | sed -n "$(((RUNS + 1) / 2))p"
}

# Warm up (the first connection's ARP, page faults), then the baseline.
ns_exec "$NS" timeout 30 "$CONNMANY" -n 0 -r 500 -T 20 "$STACK_IP" 7 >/dev/null || fail "warm-up failed"
rr0=$(rr_median)
rss0=$(rss_kb)

t0=$(now_ms)
start_holders "$NPROC" "$PER" 60
wait_for 90 all_holding || { show "$TMP"/holder*.err; fail "the clients did not finish connecting"; }
open_ms=$(($(now_ms) - t0))
est=$(cat "$TMP"/holder*.out | awk '/^established / { s += $2 } END { print s + 0 }')
[ "$est" -eq "$N" ] || fail "$est of $N connections established"
sleep 1 # the last ACKs are in, nothing is in flight
rssN=$(rss_kb)
rrN=$(rr_median)

t0=$(now_ms)
for pid in "${HOLDERS[@]}"; do
    kill -USR1 "$pid"
done
for i in $(seq 1 $NPROC); do
    wait_exit "${HOLDERS[$((i - 1))]}" 90 || fail "client $i did not finish closing"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/holder$i.out"; fail "client $i could not close all of its connections"; }
done
close_ms=$(($(now_ms) - t0))
rss_after=$(rss_kb)
kill -TERM "$TD"
wait_exit "$TD" 20 || fail "tapd did not exit"

per_conn=$(awk -v a="$rss0" -v b="$rssN" -v n="$N" 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
ratio=$(awk -v a="$rr0" -v b="$rrN" 'BEGIN { printf "%.2f", b / a }')
echo
printf '%-44s %s\n' "connections (idle, echo)" "$N"
printf '%-44s %s\n' "time to open them (6 clients)" "$open_ms ms"
printf '%-44s %s\n' "tapd RSS: before / with them / after close" "$rss0 / $rssN / $rss_after KiB"
printf '%-44s %s\n' "RSS per idle connection" "$per_conn bytes"
printf '%-44s %s\n' "round trip median, 0 open" "$rr0 us"
printf '%-44s %s\n' "round trip median, $N open" "$rrN us"
printf '%-44s %s\n' "ratio (target <= 1.10)" "$ratio"
printf '%-44s %s\n' "time to close them all" "$close_ms ms"
cat >"$BUILD/bench-scale.json" <<EOF
{
  "connections": $N,
  "open_ms": $open_ms,
  "rss_kib_before": $rss0,
  "rss_kib_open": $rssN,
  "rss_kib_after_close": $rss_after,
  "rss_bytes_per_idle_conn": $per_conn,
  "rr_round_trips_per_run": $RR,
  "rr_median_us_0_open": $rr0,
  "rr_median_us_n_open": $rrN,
  "rr_ratio": $ratio,
  "close_ms": $close_ms
}
EOF
log "JSON in $BUILD/bench-scale.json"
