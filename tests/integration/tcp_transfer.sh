#!/bin/bash
# tcp_transfer.sh - 10 MiB of random data each way over TCP between the
# host's nc and tapnc, byte for byte (sha256), with the time each took:
#   1. host nc -N -> tapnc -l        (host connects, host sends)
#   2. tapnc -N   -> host nc -l      (stack connects, stack sends)
#   3. tapnc -l -N -> host nc -d     (host connects, stack sends)
# and then flow control, with a reader that sleeps 2 s before reading (the
# receiver's window closes; the sender must wait and probe), each way; and
# a small MTU (576: MSS 536) each way.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc sha256sum ss

SIZE=$((10 * 1024 * 1024))
head -c $SIZE /dev/urandom >"$TMP/data" || fail "cannot make the test data"
WANT=$(sha "$TMP/data")

# check_copy NAME FILE MS: FILE is the data, byte for byte.
check_copy()
{
    local name=$1 file=$2 ms=$3 got size
    size=$(stat -c %s "$file")
    got=$(sha "$file")
    if [ "$got" != "$WANT" ]; then
        show "$TMP"/*.err
        fail "$name: received $size of $SIZE bytes, sha256 differs"
    fi
    log "$name: 10 MiB in $((ms / 1000)).$(printf %03d $((ms % 1000))) s" \
        "($((SIZE / 1024 * 1000 / (ms > 0 ? ms : 1) / 1024)) MiB/s)"
    pass "$name: 10 MiB, sha256 equal"
}

# 1. Host to stack: the host connects and sends, then half-closes.
ns_create
NS=$NS_LAST
start_bg "$NS" t1-tapnc "$TAPNC" -v -l 5001
T1=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$T1"
wait_for 5 grep -q "Listening on" "$TMP/t1-tapnc.err" || fail "tapnc -l 5001 is not listening"
t0=$(now_ms)
ns_exec "$NS" timeout 60 nc -n -N "$STACK_IP" 5001 <"$TMP/data" >"$TMP/t1-nc.out" 2>"$TMP/t1-nc.err"
rc=$?
[ $rc -eq 0 ] || { show "$TMP/t1-nc.err" "$TMP/t1-tapnc.err"; fail "host -> stack: host nc exited $rc"; }
wait_exit "$T1" 10 || fail "host -> stack: tapnc -l still running 10 s after the host closed"
ms=$(($(now_ms) - t0))
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/t1-tapnc.err"; fail "host -> stack: tapnc -l exited $EXIT_CODE"; }
check_copy "host -> stack (nc -N to tapnc -l)" "$TMP/t1-tapnc.out" $ms

# 2. Stack to host: the stack connects and sends.  The host's nc listens
# on 0.0.0.0: tap0 (and 10.0.0.1) exists only once tapnc runs.
ns_create
NS=$NS_LAST
start_bg "$NS" t2-nc nc -n -l 6000
N2=$BG_LAST
wait_listen "$NS" 6000 || fail "stack -> host: host nc -l 6000 is not listening"
t0=$(now_ms)
BG_IN=$TMP/data start_bg "$NS" t2-tapnc "$TAPNC" -v -N "$HOST_IP" 6000
T2=$BG_LAST
wait_exit "$N2" 60 || { show "$TMP/t2-tapnc.err"; fail "stack -> host: host nc -l still running after 60 s"; }
ms=$(($(now_ms) - t0))
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/t2-nc.err"; fail "stack -> host: host nc -l exited $EXIT_CODE"; }
wait_exit "$T2" 10 || fail "stack -> host: tapnc -N still running 10 s after the host closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/t2-tapnc.err"; fail "stack -> host: tapnc exited $EXIT_CODE"; }
grep -q "Connection to $HOST_IP 6000 port \[tcp/\*\] succeeded!" "$TMP/t2-tapnc.err" ||
    { show "$TMP/t2-tapnc.err"; fail "stack -> host: no 'succeeded!' line from tapnc -v"; }
check_copy "stack -> host (tapnc -N to nc -l)" "$TMP/t2-nc.out" $ms

# 3. Stack to host, the host connecting: tapnc -l -N sends its stdin.
ns_create
NS=$NS_LAST
BG_IN=$TMP/data start_bg "$NS" t3-tapnc "$TAPNC" -v -l -N 5003
T3=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$T3"
wait_for 5 grep -q "Listening on" "$TMP/t3-tapnc.err" || fail "tapnc -l 5003 is not listening"
t0=$(now_ms)
ns_exec "$NS" timeout 60 nc -n -d "$STACK_IP" 5003 >"$TMP/t3-nc.out" 2>"$TMP/t3-nc.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -eq 0 ] || { show "$TMP/t3-nc.err" "$TMP/t3-tapnc.err"; fail "stack -> host (host connects): host nc exited $rc"; }
wait_exit "$T3" 10 || fail "stack -> host (host connects): tapnc -l -N still running 10 s after the host closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/t3-tapnc.err"; fail "stack -> host (host connects): tapnc exited $EXIT_CODE"; }
check_copy "stack -> host (tapnc -l -N to nc -d)" "$TMP/t3-nc.out" $ms

# 4. Stack to host, the host's reader stalled 2 s: zero window from the host.
ns_create
NS=$NS_LAST
start_bg "$NS" t4-nc bash -c "nc -n -l 6000 | { sleep 2; cat; }"
N4=$BG_LAST
wait_listen "$NS" 6000 || fail "slow host reader: host nc -l 6000 is not listening"
t0=$(now_ms)
BG_IN=$TMP/data start_bg "$NS" t4-tapnc "$TAPNC" -v -N "$HOST_IP" 6000
T4=$BG_LAST
wait_exit "$N4" 60 || { show "$TMP/t4-tapnc.err"; fail "slow host reader: host nc -l still running after 60 s"; }
ms=$(($(now_ms) - t0))
wait_exit "$T4" 10 || fail "slow host reader: tapnc -N still running 10 s after the host closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/t4-tapnc.err"; fail "slow host reader: tapnc exited $EXIT_CODE"; }
check_copy "stack -> host, host reader stalled 2 s" "$TMP/t4-nc.out" $ms
log "  stack counters: $(grep -E 'zero-window|retransmitted' "$TMP/t4-tapnc.err" | sed 's/^ *//' | tr '\n' ';')"

# 5. Host to stack, tapnc's stdout stalled 2 s: zero window from the stack.
ns_create
NS=$NS_LAST
start_bg "$NS" t5-tapnc bash -c "\"\$0\" -v -l 5005 | { sleep 2; cat; }" "$TAPNC"
T5=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$T5"
wait_for 5 grep -q "Listening on" "$TMP/t5-tapnc.err" || fail "tapnc -l 5005 is not listening"
t0=$(now_ms)
ns_exec "$NS" timeout 60 nc -n -N "$STACK_IP" 5005 <"$TMP/data" >/dev/null 2>"$TMP/t5-nc.err"
rc=$?
[ $rc -eq 0 ] || { show "$TMP/t5-nc.err" "$TMP/t5-tapnc.err"; fail "slow stack reader: host nc exited $rc"; }
wait_exit "$T5" 10 || fail "slow stack reader: tapnc -l still running 10 s after the host closed"
ms=$(($(now_ms) - t0))
check_copy "host -> stack, stack reader stalled 2 s" "$TMP/t5-tapnc.out" $ms

# 6. MTU 576 (MSS 536), each way.
ns_create
NS=$NS_LAST
start_bg "$NS" t6-tapnc "$TAPNC" --mtu 576 -l 5006
T6=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$T6"
ip -n "$NS" link show tap0 | grep -q "mtu 576 " || fail "--mtu 576: tap0 does not have MTU 576"
t0=$(now_ms)
ns_exec "$NS" timeout 60 nc -n -N "$STACK_IP" 5006 <"$TMP/data" >/dev/null 2>"$TMP/t6-nc.err" ||
    { show "$TMP/t6-nc.err"; fail "MTU 576, host -> stack: host nc failed"; }
wait_exit "$T6" 10 || fail "MTU 576: tapnc -l still running 10 s after the host closed"
ms=$(($(now_ms) - t0))
check_copy "host -> stack, MTU 576" "$TMP/t6-tapnc.out" $ms

BG_IN=$TMP/data start_bg "$NS" t7-tapnc "$TAPNC" --mtu 576 -l -N 5007
T7=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$T7"
t0=$(now_ms)
ns_exec "$NS" timeout 60 nc -n -d "$STACK_IP" 5007 >"$TMP/t7-nc.out" 2>"$TMP/t7-nc.err" ||
    { show "$TMP/t7-nc.err"; fail "MTU 576, stack -> host: host nc failed"; }
ms=$(($(now_ms) - t0))
wait_exit "$T7" 10 || fail "MTU 576: tapnc -l -N still running 10 s after the host closed"
check_copy "stack -> host, MTU 576" "$TMP/t7-nc.out" $ms

finish
