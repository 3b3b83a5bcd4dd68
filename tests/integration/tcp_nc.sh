#!/bin/bash
# tcp_nc.sh - tapnc talks like nc: the -v lines, a line each way in both
# directions of connection, half-close (the stack still sends after the
# host's FIN), connection refused both ways.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc ss

# 1. Host connects to tapnc -l -v: the -v lines, a line each way.
ns_create
NS=$NS_LAST
fifo to_stack 5
fifo to_host 6
BG_IN=$TMP/to_stack start_bg "$NS" l-tapnc "$TAPNC" -v -l 5050
TL=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TL"
wait_for 5 grep -q "Listening on" "$TMP/l-tapnc.err" || fail "tapnc -l 5050 did not say it listens"
grep -qx "Listening on $STACK_IP 5050" "$TMP/l-tapnc.err" ||
    { show "$TMP/l-tapnc.err"; fail "tapnc -v -l 5050: no line 'Listening on $STACK_IP 5050'"; }
pass "tapnc -v -l: 'Listening on $STACK_IP 5050'"

BG_IN=$TMP/to_host start_bg "$NS" l-nc nc -n -v -N -p 40001 "$STACK_IP" 5050
NL=$BG_LAST
wait_for 5 grep -q "Connection received" "$TMP/l-tapnc.err" || { show "$TMP/l-tapnc.err" "$TMP/l-nc.err"; fail "tapnc -l: no 'Connection received' line"; }
grep -qx "Connection received on $HOST_IP 40001" "$TMP/l-tapnc.err" ||
    { show "$TMP/l-tapnc.err"; fail "tapnc -v -l: expected 'Connection received on $HOST_IP 40001' (nc -p 40001)"; }
pass "tapnc -v -l: 'Connection received on $HOST_IP 40001'"
wait_for 5 grep -q "succeeded" "$TMP/l-nc.err" || { show "$TMP/l-nc.err"; fail "host nc -v did not connect"; }

echo "hello stack" >&6
wait_for 5 grep -qx "hello stack" "$TMP/l-tapnc.out" || { show "$TMP/l-tapnc.out"; fail "host -> stack: the line did not arrive"; }
pass "host -> stack (host connected): a line arrived"
echo "hello host" >&5
wait_for 5 grep -qx "hello host" "$TMP/l-nc.out" || { show "$TMP/l-nc.out"; fail "stack -> host: the line did not arrive"; }
pass "stack -> host (host connected): a line arrived"
exec 6>&- # host stdin EOF: nc -N sends FIN; tapnc -l, like nc -l, then closes too
wait_exit "$NL" 5 || fail "host nc did not exit after its FIN (tapnc -l should close too)"
[ "$EXIT_CODE" -eq 0 ] || fail "host nc exited $EXIT_CODE"
wait_exit "$TL" 5 || fail "tapnc -l did not exit after the peer closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/l-tapnc.err"; fail "tapnc -l exited $EXIT_CODE"; }
exec 5>&-
pass "host closed: both ends exit 0"

# 2. tapnc -v connects to the host's nc -l: the -v line, -p, a line each way.
ns_create
NS=$NS_LAST
fifo to_stack 5
fifo to_host 6
BG_IN=$TMP/to_host start_bg "$NS" c-nc nc -n -v -N -l 6000
NC=$BG_LAST
wait_listen "$NS" 6000 || fail "host nc -l 6000 is not listening"
BG_IN=$TMP/to_stack start_bg "$NS" c-tapnc "$TAPNC" -v -N -p 40002 "$HOST_IP" 6000
TC=$BG_LAST
wait_for 5 grep -q "succeeded" "$TMP/c-tapnc.err" || { show "$TMP/c-tapnc.err"; fail "tapnc -v $HOST_IP 6000 did not connect"; }
grep -qx "Connection to $HOST_IP 6000 port \[tcp/\*\] succeeded!" "$TMP/c-tapnc.err" ||
    { show "$TMP/c-tapnc.err"; fail "tapnc -v: expected 'Connection to $HOST_IP 6000 port [tcp/*] succeeded!'"; }
pass "tapnc -v: 'Connection to $HOST_IP 6000 port [tcp/*] succeeded!'"
wait_for 5 grep -q "Connection received" "$TMP/c-nc.err" || { show "$TMP/c-nc.err"; fail "host nc -l -v did not report the connection"; }
grep -q "Connection received on $STACK_IP 40002" "$TMP/c-nc.err" ||
    { show "$TMP/c-nc.err"; fail "tapnc -p 40002: the host saw another source port"; }
pass "tapnc -p 40002: the host saw the connection from $STACK_IP 40002"
echo "hi from stack" >&5
wait_for 5 grep -qx "hi from stack" "$TMP/c-nc.out" || fail "stack -> host (stack connected): the line did not arrive"
pass "stack -> host (stack connected): a line arrived"
echo "hi from host" >&6
wait_for 5 grep -qx "hi from host" "$TMP/c-tapnc.out" || fail "host -> stack (stack connected): the line did not arrive"
pass "host -> stack (stack connected): a line arrived"
exec 5>&- # tapnc -N: FIN at stdin EOF; host nc -l is done once its peer closed
wait_exit "$NC" 5 || fail "host nc -l did not exit after tapnc -N closed"
wait_exit "$TC" 5 || fail "tapnc -N did not exit after both sides closed"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/c-tapnc.err"; fail "tapnc -N exited $EXIT_CODE"; }
exec 6>&-
pass "stack closed (-N): both ends exit"

# 3. Half-close: the host sends its request and FIN at once (nc -l -N with
# a file on stdin); once the host's FIN is acknowledged (its socket is in
# FIN-WAIT-2), the stack sends its reply, which the host still reads.
printf 'request\n' >"$TMP/request"
fifo reply 5
BG_IN=$TMP/request start_bg "$NS" h-nc nc -n -N -l 6001
NH=$BG_LAST
wait_listen "$NS" 6001 || fail "host nc -l 6001 is not listening"
BG_IN=$TMP/reply start_bg "$NS" h-tapnc "$TAPNC" -N "$HOST_IP" 6001
TH=$BG_LAST
wait_for 5 grep -qx request "$TMP/h-tapnc.out" || { show "$TMP/h-tapnc.err"; fail "half-close: the request did not reach the stack"; }
wait_for 5 bash -c "ip netns exec '$NS' ss -Htn state fin-wait-2 'sport = :6001' | grep -q ." ||
    { ip netns exec "$NS" ss -tan >&2; fail "half-close: the host's FIN was not acknowledged (no FIN-WAIT-2 socket)"; }
kill -0 "$TH" 2>/dev/null || { show "$TMP/h-tapnc.err"; fail "half-close: tapnc exited on the host's FIN though its stdin is open"; }
echo "reply after your FIN" >&5
exec 5>&-
wait_exit "$NH" 5 || fail "half-close: host nc did not finish"
grep -qx "reply after your FIN" "$TMP/h-nc.out" || { show "$TMP/h-nc.out" "$TMP/h-tapnc.err"; fail "half-close: the stack's reply after the host's FIN did not arrive"; }
wait_exit "$TH" 5 || fail "half-close: tapnc did not exit"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/h-tapnc.err"; fail "half-close: tapnc exited $EXIT_CODE"; }
pass "half-close: host sent request + FIN; the stack's later reply arrived"

# 3b. Half-close with the stack listening: tapd's echo keeps sending after
# the host's FIN (nc -N sends 1 MiB then FIN at once; most of the echo
# comes back after it), then closes.  (tapnc -l itself, like OpenBSD nc -l,
# stops at the peer's FIN, so it is not the one to test this with.)
head -c 1048576 /dev/urandom >"$TMP/mib"
start_bg "$NS" echo-tapd "$TAPD"
TE=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TE"
ns_exec "$NS" timeout 15 nc -n -N "$STACK_IP" 7 <"$TMP/mib" >"$TMP/mib.back" 2>"$TMP/mib.err"
rc=$?
[ $rc -eq 0 ] || { show "$TMP/mib.err"; fail "half-close (echo): host nc -N exited $rc"; }
[ "$(sha "$TMP/mib")" = "$(sha "$TMP/mib.back")" ] ||
    fail "half-close (echo): $(stat -c %s "$TMP/mib.back") of 1048576 bytes came back after the host's FIN"
pass "half-close, stack listening: echo sent back all 1 MiB after the host's FIN, then closed"
kill -TERM "$TE"
wait_exit "$TE" 5 || fail "tapd did not exit on SIGTERM"

# 4. Refused: nothing listens on the stack's port 9999: RST, nc -z fails at once.
ns_create
NS=$NS_LAST
start_bg "$NS" r-tapnc "$TAPNC"
TR=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TR"
t0=$(now_ms)
ns_exec "$NS" timeout 5 nc -n -z "$STACK_IP" 9999 >"$TMP/z.out" 2>&1
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "nc -z $STACK_IP 9999 hung (no RST?)"
[ $rc -ne 0 ] || fail "nc -z $STACK_IP 9999 succeeded; nothing listens there"
[ $ms -lt 2000 ] || fail "nc -z $STACK_IP 9999 took $ms ms to fail (expected an RST at once)"
log "nc -z $STACK_IP 9999: exit $rc in $ms ms"
pass "nc -z to a closed port of the stack: refused (exit $rc) in $ms ms"

# 5. Refused the other way: tapnc to a host port where nothing listens.
ns_create
NS=$NS_LAST
t0=$(now_ms)
ns_exec "$NS" timeout 10 "$TAPNC" "$HOST_IP" 5999 </dev/null >"$TMP/ref.out" 2>"$TMP/ref.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "tapnc to a closed host port hung"
if [ $rc -ne 1 ] || ! grep -q "connect to $HOST_IP port 5999 (tcp) failed: Connection refused" "$TMP/ref.err"; then
    show "$TMP/ref.err"
    fail "tapnc $HOST_IP 5999 (closed): expected exit 1 and 'tapnc: connect to $HOST_IP port 5999 (tcp) failed: Connection refused', got exit $rc"
fi
log "tapnc $HOST_IP 5999: $(head -n 1 "$TMP/ref.err") (exit 1, $ms ms)"
pass "tapnc to a closed host port: 'Connection refused', exit 1"

finish
