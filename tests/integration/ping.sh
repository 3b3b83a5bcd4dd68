#!/bin/bash
# ping.sh - the stack answers ping: 100 quick pings without loss, the
# smallest and the largest unfragmented payloads; ARP gives the host a
# locally administered unicast MAC for the stack, the one tapnc -v
# announces; tapnc exits 0 on SIGINT and the TAP it created goes away with
# it.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping env

ns_create
NS=$NS_LAST

# Background jobs of a script start with SIGINT ignored; give tapnc the
# default disposition, as it has when started from a terminal.
start_bg "$NS" tapnc env --default-signal=INT "$TAPNC" -v
TAPNC_PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TAPNC_PID"
pass "tapnc brought up tap0 with $HOST_IP/24"

# 100 pings, 10 ms apart: no loss.
ns_exec "$NS" timeout 20 ping -n -c 100 -i 0.01 -W 1 "$STACK_IP" >"$TMP/ping100" 2>&1
loss=$(grep -o '[0-9.]*% packet loss' "$TMP/ping100")
rtt=$(grep '^rtt' "$TMP/ping100")
log "ping -c 100 -i 0.01: ${loss:-no summary}"
log "${rtt:-no rtt line}"
if [ "$loss" != "0% packet loss" ]; then
    show "$TMP/ping100" "$TMP/tapnc.err"
    fail "ping -c 100 -i 0.01 $STACK_IP: expected 0% packet loss, got '${loss:-nothing}'"
fi
pass "100 pings at 10 ms intervals, 0% loss"

# Empty payload (8-byte ICMP echo) and the largest that fits a 1500 MTU.
for size in 0 1472; do
    out=$TMP/ping_s$size
    ns_exec "$NS" timeout 15 ping -n -c 3 -i 0.2 -W 2 -s $size "$STACK_IP" >"$out" 2>&1
    if ! grep -q '3 received' "$out"; then
        show "$out"
        fail "ping -s $size -c 3 $STACK_IP: expected 3 replies"
    fi
    want=$((size + 8))
    n=$(grep -c "^$want bytes from $STACK_IP" "$out")
    [ "$n" -eq 3 ] || { show "$out"; fail "ping -s $size: expected 3 replies of $want bytes, saw $n"; }
    pass "ping -s $size: 3 replies of $want bytes"
done

# The host learnt the stack's MAC through ARP.
neigh=$(ip -n "$NS" neigh show "$STACK_IP" dev tap0)
log "neighbour: $neigh"
mac=$(printf '%s\n' "$neigh" | grep -o 'lladdr [0-9a-f:]*' | cut -d' ' -f2)
[ -n "$mac" ] || fail "no neighbour entry with a MAC for $STACK_IP on tap0 (ip neigh: '$neigh')"
case $neigh in
*FAILED* | *INCOMPLETE*) fail "neighbour entry for $STACK_IP is not resolved: $neigh" ;;
esac
first=$((16#${mac%%:*}))
[ $((first & 1)) -eq 0 ] || fail "stack MAC $mac is a multicast address (I/G bit set)"
[ $((first & 2)) -eq 2 ] || fail "stack MAC $mac is not locally administered (U/L bit clear)"
[ "$mac" != 02:00:00:00:00:00 ] || fail "stack MAC is $mac, not random"
pass "neighbour $STACK_IP is $mac: unicast, locally administered"

# The MAC tapnc -v announced is the one ARP gave the host.
said=$(grep -E "^tapnc: stack $STACK_IP/24 at [0-9a-f:]{17} on tap0 \(created\), host side $HOST_IP, MTU 1500\$" "$TMP/tapnc.err")
[ -n "$said" ] || { show "$TMP/tapnc.err"; fail "tapnc -v: no line 'tapnc: stack $STACK_IP/24 at MAC on tap0 (created), host side $HOST_IP, MTU 1500'"; }
said_mac=$(printf '%s\n' "$said" | sed -E 's/.* at ([0-9a-f:]{17}) on .*/\1/')
[ "$said_mac" = "$mac" ] || fail "tapnc -v said the stack is at $said_mac, but the host's neighbour table has $mac"
pass "tapnc -v: 'stack $STACK_IP/24 at $said_mac on tap0 (created)': the MAC in the host's neighbour table"

# Ctrl-C: clean exit 0, and the TAP (created, not persistent) is gone.
kill -INT "$TAPNC_PID"
wait_exit "$TAPNC_PID" 5 || fail "tapnc still running 5 s after SIGINT"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapnc.err"; fail "tapnc exited $EXIT_CODE on SIGINT, expected 0"; }
pass "tapnc exited 0 on SIGINT"
wait_for 2 bash -c "! ip -n '$NS' link show tap0 >/dev/null 2>&1" ||
    fail "tap0 still exists after tapnc exited (it created it, so it should go with it)"
pass "tap0 is gone after tapnc exited"

finish
