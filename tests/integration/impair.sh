#!/bin/bash
# impair.sh - --impair puts a bad link between the TAP and the stack, seen
# with real ping: delay=20ms in both directions makes every RTT at least
# 40 ms; rate=1mbit adds the serialization of 1042-byte frames; loss=100%
# loses every ping; out:loss=50% loses some replies but not all, and
# tapnc -v counts them at exit beside the stack's counters; SIGUSR1 prints
# them too.  A TCP transfer through tapd's echo survives loss, duplicates,
# reordering and corruption, which the checksums catch.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping nc sha256sum env

ns_create
NS=$NS_LAST

# start_tapnc NAME ARGS...: tapnc -v with ARGS on tap0, up.
start_tapnc()
{
    local name=$1
    shift
    start_bg "$NS" "$name" env --default-signal=INT "$TAPNC" -v "$@"
    PID=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
}

# stop_tapnc NAME: SIGINT, exit 0, tap0 gone (for the next run).
stop_tapnc()
{
    kill -INT "$PID"
    wait_exit "$PID" 5 || fail "$1: tapnc still running 5 s after SIGINT"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$1.err"; fail "$1: tapnc exited $EXIT_CODE on SIGINT"; }
    wait_for 2 bash -c "! ip -n '$NS' link show tap0 >/dev/null 2>&1" || fail "$1: tap0 outlived tapnc"
}

# rtt_min FILE: ping's minimum RTT in whole ms; "" if there is none.
rtt_min() { sed -nE 's|^rtt min/avg/max/mdev = ([0-9]+)\.[0-9]+/.*|\1|p' "$1"; }
received() { sed -nE 's/.* ([0-9]+) received.*/\1/p' "$1"; }

# delay=20ms each way: 40 ms there and back, never less.
start_tapnc delay --impair delay=20ms
grep -q "^tapnc: impaired link: in: delay=20ms; out: delay=20ms; seed 1, limit 1000\$" "$TMP/delay.err" ||
    { show "$TMP/delay.err"; fail "tapnc -v did not describe the impaired link"; }
ns_exec "$NS" timeout 10 ping -n -c 5 -i 0.2 -W 2 "$STACK_IP" >"$TMP/ping_delay" 2>&1
[ "$(received "$TMP/ping_delay")" = 5 ] || { show "$TMP/ping_delay"; fail "delay=20ms: not all 5 pings answered"; }
min=$(rtt_min "$TMP/ping_delay")
log "delay=20ms: $(grep '^rtt' "$TMP/ping_delay")"
[ -n "$min" ] && [ "$min" -ge 38 ] || { show "$TMP/ping_delay"; fail "delay=20ms: min RTT ${min:-?} ms, expected at least 38"; }
[ "$min" -lt 200 ] || { show "$TMP/ping_delay"; fail "delay=20ms: min RTT $min ms, far beyond 40"; }
pass "delay=20ms: 5 of 5 pings, min RTT $min ms (>= 38)"
stop_tapnc delay

# rate=1mbit: a 1042-byte frame takes 8.3 ms to serialize, each way.
start_tapnc rate --impair rate=1mbit
ns_exec "$NS" timeout 10 ping -n -c 5 -i 0.2 -W 2 -s 1000 "$STACK_IP" >"$TMP/ping_rate" 2>&1
[ "$(received "$TMP/ping_rate")" = 5 ] || { show "$TMP/ping_rate"; fail "rate=1mbit: not all 5 pings answered"; }
min=$(rtt_min "$TMP/ping_rate")
log "rate=1mbit, ping -s 1000: $(grep '^rtt' "$TMP/ping_rate")"
[ -n "$min" ] && [ "$min" -ge 16 ] || { show "$TMP/ping_rate"; fail "rate=1mbit: min RTT ${min:-?} ms, expected at least 16"; }
pass "rate=1mbit: pings of 1042-byte frames, min RTT $min ms (>= 16)"
stop_tapnc rate

# loss=100%: nothing crosses, not even ARP.
start_tapnc loss100 --impair loss=100%
ns_exec "$NS" timeout 10 ping -n -c 3 -i 0.2 -W 1 "$STACK_IP" >"$TMP/ping_loss100" 2>&1
[ "$(received "$TMP/ping_loss100")" = 0 ] || { show "$TMP/ping_loss100"; fail "loss=100%: some pings were answered"; }
pass "loss=100%: 0 of 3 pings answered"
stop_tapnc loss100

# out:loss=50%: only the stack's frames are lost.  The host must know the
# stack's MAC for sure (its ARP replies could be lost too), and the stack
# the host's: it learns it from the host's first ARP request, which comes
# in unharmed; then a permanent neighbour entry stops the host's ARP.
start_tapnc loss50 --impair out:loss=50%,seed=1
mac=$(sed -nE "s/^tapnc: stack $STACK_IP\/24 at ([0-9a-f:]{17}) on .*/\1/p" "$TMP/loss50.err")
[ -n "$mac" ] || { show "$TMP/loss50.err"; fail "tapnc -v did not say the stack's MAC"; }
ns_exec "$NS" ping -n -c 1 -W 0.2 "$STACK_IP" >/dev/null 2>&1
ip -n "$NS" neigh replace "$STACK_IP" lladdr "$mac" dev tap0 nud permanent || fail "ip neigh replace failed"
ns_exec "$NS" timeout 10 ping -n -c 40 -i 0.01 -W 1 "$STACK_IP" >"$TMP/ping_loss50" 2>&1
got=$(received "$TMP/ping_loss50")
log "out:loss=50%,seed=1: $got of 40 pings answered"
[ -n "$got" ] && [ "$got" -gt 0 ] && [ "$got" -lt 40 ] ||
    { show "$TMP/ping_loss50"; fail "out:loss=50%: ${got:-?} of 40 pings answered, expected some but not all"; }
pass "out:loss=50%,seed=1: $got of 40 pings answered"

# SIGUSR1: the counters now, with the impairment's.
kill -USR1 "$PID"
wait_for 2 grep -q "impairment counters" "$TMP/loss50.err" ||
    { show "$TMP/loss50.err"; fail "SIGUSR1: no impairment counters"; }
pass "SIGUSR1 prints the impairment counters"
stop_tapnc loss50

# -v at exit: after the stack's counters, the impairment's, for the
# impaired direction only; the replies lost are among the frames dropped.
dropped=$(sed -nE 's/^    ([0-9]+) out: frames dropped \(loss\)$/\1/p' "$TMP/loss50.err" | tail -n 1)
came=$(sed -nE 's/^    ([0-9]+) out: frames came in$/\1/p' "$TMP/loss50.err" | tail -n 1)
passed=$(sed -nE 's/^    ([0-9]+) out: frames passed on \(duplicates included\)$/\1/p' "$TMP/loss50.err" | tail -n 1)
lost=$((40 - got))
[ -n "$dropped" ] && [ -n "$came" ] && [ -n "$passed" ] ||
    { show "$TMP/loss50.err"; fail "-v at exit: no 'N out: frames came in', '... passed on', '... dropped (loss)' lines"; }
[ "$dropped" -ge "$lost" ] && [ $((dropped + passed)) -eq "$came" ] ||
    { show "$TMP/loss50.err"; fail "-v at exit: $came came in, $passed passed, $dropped dropped: want dropped >= $lost lost pings, passed + dropped = came in"; }
grep -qE '^    [0-9]+ in: ' "$TMP/loss50.err" && { show "$TMP/loss50.err"; fail "-v at exit: counters for the unimpaired in direction"; }
grep -B1000 '^tapnc: impairment counters' "$TMP/loss50.err" | grep -q '^tapnc: counters (non-zero):$' ||
    { show "$TMP/loss50.err"; fail "-v at exit: the impairment counters do not follow the stack's"; }
pass "-v at exit: out: $came came in, $passed passed on, $dropped dropped (>= the $lost pings lost)"

# TCP through a bad link: tapd's echo returns every byte; corrupted
# segments are caught by the checksums (the stack counts its drops).  Two
# --impair: both directions, then a corruption rate for each.
head -c 200000 /dev/urandom >"$TMP/data"
start_bg "$NS" tapd env --default-signal=INT "$TAPD" -v --impair loss=1%,dup=1%,reorder=2%,delay=1ms,seed=5 \
    --impair in:corrupt=3%,out:corrupt=1%
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
ns_exec "$NS" timeout 30 nc -n -N "$STACK_IP" 7 <"$TMP/data" >"$TMP/echo" 2>"$TMP/echo.err"
rc=$?
[ $rc -eq 0 ] && [ "$(sha "$TMP/data")" = "$(sha "$TMP/echo")" ] ||
    { show "$TMP/echo.err" "$TMP/tapd.err"; fail "echo through the bad link: nc exited $rc, $(stat -c %s "$TMP/echo") of 200000 bytes back intact?"; }
kill -INT "$PID"
wait_exit "$PID" 8 || fail "tapd still running 8 s after SIGINT"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapd.err"; fail "tapd exited $EXIT_CODE on SIGINT"; }
grep -q "^tapd: impaired link: in: loss=1% dup=1% reorder=2% corrupt=3% delay=1ms; out: loss=1% dup=1% reorder=2% corrupt=1% delay=1ms; seed 5, limit 1000\$" "$TMP/tapd.err" ||
    { show "$TMP/tapd.err"; fail "tapd -v: the two --impair are not described as one link"; }
counter() { sed -nE "s/^    ([0-9]+) $1.*/\1/p" "$TMP/tapd.err"; }
flipped=$(counter "in: frames with one bit flipped")
caught=$(counter "TCP dropped: bad checksum")
log "tapd: ${flipped:-0} frames in corrupted, ${caught:-0} TCP segments dropped for a bad checksum"
[ -n "$flipped" ] && [ -n "$caught" ] ||
    { show "$TMP/tapd.err"; fail "tapd -v: expected frames corrupted on the way in, and the stack's bad-checksum drops"; }
pass "200000 bytes through tapd's echo over loss, dup, reorder, corrupt and delay: intact; $flipped corrupted on the way in, caught by the TCP checksum"

finish
