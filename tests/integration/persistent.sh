#!/bin/bash
# persistent.sh - an unprivileged user runs tapnc on a persistent TAP that
# root created for them and configured: it attaches without touching the
# configuration, answers ping, serves TCP, can attach again after a run, and
# the TAP outlives it.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping nc setpriv
require_nobody

ns_create
NS=$NS_LAST

# As root: the persistent TAP, owned by nobody, configured and up.
ip -n "$NS" tuntap add dev tapp0 mode tap user nobody || fail "ip tuntap add tapp0 user nobody failed"
ip -n "$NS" addr add "$HOST_IP/24" dev tapp0 || fail "ip addr add on tapp0 failed"
ip -n "$NS" link set tapp0 up || fail "ip link set tapp0 up failed"
ip -n "$NS" -d link show tapp0 | grep -q "tun type tap.*user $NOBODY_UID\|tun type tap.*user nobody" ||
    fail "tapp0 is not a persistent TAP owned by nobody: $(ip -n "$NS" -d link show tapp0)"
pass "persistent TAP tapp0 owned by nobody, $HOST_IP/24, up"

# As nobody (with /dev/net/tun 0666 as on a distribution).
start_bg "$NS" tapnc "${WITH_TUN[@]}" 0666 "${NOBODY[@]}" "$TAPNC" --tap tapp0 -v
PID=$BG_LAST
wait_for 5 grep -q 'tapp0 (persistent)' "$TMP/tapnc.err" || {
    show "$TMP/tapnc.err"
    fail "tapnc as nobody did not attach to tapp0 (no 'tapp0 (persistent)' in its -v output)"
}
uid=$(ps -o uid= -p "$PID" | tr -d ' ')
[ "$uid" = "$NOBODY_UID" ] || fail "tapnc runs as uid '$uid', not nobody ($NOBODY_UID)"
pass "tapnc runs as nobody (uid $uid) and attached to the persistent TAP"
wait_tap_up "$NS" tapp0 "$HOST_IP" "$PID"
wait_for 3 bash -c "ip -n '$NS' link show tapp0 | grep -q LOWER_UP" ||
    fail "tapp0 has no carrier with tapnc attached: $(ip -n "$NS" link show tapp0)"

ns_exec "$NS" timeout 15 ping -n -c 5 -i 0.2 -W 2 "$STACK_IP" >"$TMP/ping" 2>&1
grep -q '5 received' "$TMP/ping" || { show "$TMP/ping" "$TMP/tapnc.err"; fail "ping via tapp0: expected 5 replies"; }
log "$(grep 'packet loss' "$TMP/ping")"
pass "the stack run by nobody answers 5/5 pings"

kill -TERM "$PID"
wait_exit "$PID" 5 || fail "tapnc (nobody) still running 5 s after SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapnc.err"; fail "tapnc (nobody) exited $EXIT_CODE on SIGTERM, expected 0"; }
pass "tapnc (nobody) exited 0 on SIGTERM"

ip -n "$NS" -d link show tapp0 >"$TMP/link" 2>&1 || fail "tapp0 is gone after tapnc stopped: a persistent TAP must stay"
ip -n "$NS" -o addr show dev tapp0 | grep -q "inet $HOST_IP/24" ||
    fail "tapp0 lost its address $HOST_IP/24 after tapnc stopped"
pass "tapp0 still exists, with its address, after tapnc stopped"

# Attach again, as nobody, and carry a TCP line each way.
fifo to_stack 5
fifo to_host 6
BG_IN=$TMP/to_stack start_bg "$NS" listener "${WITH_TUN[@]}" 0666 "${NOBODY[@]}" "$TAPNC" --tap tapp0 -v -l 5050
LPID=$BG_LAST
wait_for 5 grep -q 'Listening on' "$TMP/listener.err" || { show "$TMP/listener.err"; fail "second tapnc as nobody did not listen"; }
BG_IN=$TMP/to_host start_bg "$NS" host nc -n -N "$STACK_IP" 5050
HPID=$BG_LAST
echo "from-host" >&6
wait_for 5 grep -qx from-host "$TMP/listener.out" || { show "$TMP/listener.err" "$TMP/host.err"; fail "line from host did not reach tapnc (nobody) on tapp0"; }
echo "from-stack" >&5
wait_for 5 grep -qx from-stack "$TMP/host.out" || { show "$TMP/host.out" "$TMP/host.err"; fail "line from tapnc (nobody) did not reach the host"; }
# The host closes (nc -N: FIN at EOF); tapnc -l, like nc -l, then closes.
exec 6>&-
wait_exit "$HPID" 5 || fail "host nc did not finish"
wait_exit "$LPID" 5 || fail "tapnc -l (nobody) did not exit after the peer closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/listener.err"; fail "tapnc -l (nobody) exited $EXIT_CODE"; }
exec 5>&-
pass "second attach as nobody: a TCP line each way, clean exit"
ip -n "$NS" link show tapp0 >/dev/null 2>&1 || fail "tapp0 is gone after the second run"
pass "tapp0 still exists after the second run"

finish
