#!/bin/bash
# mem_budget.sh - the stack-wide budget for buffers (--mem-max): 320 host
# clients connect to tapd's chargen and never read.  Without a budget
# each pinned its send buffer (1,000 of them took tapd from 3 to 131 MB);
# with --mem-max 32M tapd's RSS stays near 32 MiB, it counts the pressure,
# and a fresh client that reads is still served (chargen and echo).
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc
CONNMANY=$BUILD/tests/connmany
[ -x "$CONNMANY" ] || fail "no connmany at $CONNMANY: build first (ninja -C build)"

N=320
BUDGET_MB=32
# Beyond the budget: tapd's own few MiB, 1 MiB of free chunks kept for
# reuse, the TCBs and slot tables of 320 connections.
SLACK_MB=10
# AddressSanitizer's allocator adds redzones and shadow memory to every
# chunk (about 1.5 times here): its build gets a bound of twice the budget,
# still far below what 320 unbounded connections take (1.3 GB).
if ldd "$TAPD" 2>/dev/null | grep -q libasan; then
    BOUND_MB=$((2 * BUDGET_MB + SLACK_MB))
else
    BOUND_MB=$((BUDGET_MB + SLACK_MB))
fi

ns_create
NS=$NS_LAST
# Under AddressSanitizer (CI's sanitizer run), freed memory waits in a
# quarantine of 256 MiB by default, which RSS would count: keep it small so
# the figure is the stack's.  Other builds ignore ASAN_OPTIONS.
ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}quarantine_size_mb=1" \
    start_bg "$NS" tapd "$TAPD" --mem-max ${BUDGET_MB}M
TD=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$TD/status"; }
rss0=$(rss_kb)

start_bg "$NS" hogs "$CONNMANY" -x -w -n $N -p 100 -T 30 "$STACK_IP" 19
HOGS=$BG_LAST
wait_for 30 grep -q '^holding$' "$TMP/hogs.out" || { show "$TMP/hogs.err" "$TMP/tapd.err"; fail "the $N clients did not connect in 30 s"; }
est=$(awk '/^established / { print $2 }' "$TMP/hogs.out")
[ "$est" -eq $N ] || fail "$est of $N clients connected"
pass "$N clients connected to chargen, none of them reading"

# chargen fills what the budget allows; the RSS, sampled for 4 s, stays
# near the budget.
max=0
for i in $(seq 1 20); do
    r=$(rss_kb)
    [ "$r" -gt "$max" ] && max=$r
    sleep 0.2
done
log "tapd's RSS: $rss0 KiB before, at most $max KiB with $N clients not reading (budget ${BUDGET_MB} MiB)"
[ "$max" -le $((BOUND_MB * 1024)) ] ||
    fail "tapd's RSS reached $max KiB, above $BOUND_MB MiB (the ${BUDGET_MB} MiB budget and slack)"
[ "$max" -ge $(((BUDGET_MB / 2) * 1024)) ] ||
    fail "tapd's RSS only reached $max KiB: the clients did not fill the budget, the test shows nothing"
pass "tapd's RSS stays at most $max KiB with a ${BUDGET_MB} MiB budget"

# A fresh client that reads is served: 1 MB of chargen, and echo.
ns_exec "$NS" timeout 20 sh -c "nc -n -d $STACK_IP 19 | head -c 1000000 | wc -c" >"$TMP/fresh.out" 2>"$TMP/fresh.err"
got=$(cat "$TMP/fresh.out")
[ "$got" = 1000000 ] || { show "$TMP/fresh.err"; fail "a fresh chargen client got $got of 1000000 bytes under the budget"; }
pass "a fresh chargen client got its 1 MB while $N others pin what they can"
ns_exec "$NS" timeout 20 "$CONNMANY" -n 0 -r 20 -z 1000 -T 10 "$STACK_IP" 7 >"$TMP/rr.out" 2>"$TMP/rr.err" ||
    { show "$TMP/rr.err"; fail "echo failed under the budget"; }
pass "echo works under the budget (20 round trips of 1000 bytes)"

# The counters say so.
off=$(stat -c %s "$TMP/tapd.err")
kill -USR1 "$TD"
wait_for 5 bash -c "tail -c +$((off + 1)) '$TMP/tapd.err' | grep -q '^LISTEN '" || fail "no dump after SIGUSR1"
dump=$(tail -c +$((off + 1)) "$TMP/tapd.err")
echo "$dump" | grep -q "times buffer memory passed 7/8 of its budget" ||
    { echo "$dump" | grep '^    ' >&2; fail "tapd did not count the memory pressure"; }
echo "$dump" | grep -q "sk_send calls refused or cut short: buffer memory budget" ||
    { echo "$dump" | grep '^    ' >&2; fail "tapd did not count sends refused for memory"; }
pass "tapd counted the pressure and the refused sends"
n=$(grep -cx "tapd: buffer memory passed 7/8 of its budget: windows held, sends limited (see --mem-max)" "$TMP/tapd.err")
[ "$n" -eq 1 ] || { show "$TMP/tapd.err"; fail "tapd said $n times on stderr that memory passed 7/8 of the budget, not once"; }
pass "tapd said once on stderr that the memory budget was under pressure"

kill -USR1 "$HOGS"
wait_exit "$HOGS" 20 || fail "the clients did not close"
kill -0 "$TD" 2>/dev/null || { show "$TMP/tapd.err"; fail "tapd died"; }
kill -TERM "$TD"
wait_exit "$TD" 10 || fail "tapd did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || fail "tapd exited $EXIT_CODE on SIGTERM"
pass "tapd exits 0 on SIGTERM"
finish
