#!/bin/bash
# tcp_nc.sh - tapnc talks like nc: the -v lines, a line each way in both
# directions of connection, half-close (the stack still sends after the
# host's FIN), connection refused both ways, -w on connecting and on an
# idle connection, a connection reset by the host in both directions.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc ss python3

# tap_gone NS: wait (3 s at most) until the last program's tap0 is gone, so
# the next one creates its own.
tap_gone()
{
    wait_for 3 bash -c "! ip -n '$1' link show tap0 >/dev/null 2>&1" || fail "tap0 is still in $1 after its program exited"
}

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

# 6. -w on connecting: 10.0.0.3 is on the TAP's subnet but nobody owns it,
# so ARP never resolves and no SYN is ever answered (without -w tapnc
# would try for well over 20 s).  nc's message, exit 1, after about 1 s.
tap_gone "$NS"
t0=$(now_ms)
ns_exec "$NS" timeout 10 "$TAPNC" -w 1 10.0.0.3 5054 </dev/null >"$TMP/cto.out" 2>"$TMP/cto.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "tapnc -w 1 10.0.0.3 5054: still running after 10 s"
if [ $rc -ne 1 ] || ! grep -qx "tapnc: connect to 10.0.0.3 port 5054 (tcp) timed out: Operation now in progress" "$TMP/cto.err"; then
    show "$TMP/cto.err"
    fail "tapnc -w 1 to an address nobody owns: expected exit 1 and 'tapnc: connect to 10.0.0.3 port 5054 (tcp) timed out: Operation now in progress', got exit $rc"
fi
if [ $ms -lt 900 ] || [ $ms -gt 3000 ]; then
    fail "tapnc -w 1: the connect timed out after $ms ms, expected about 1000"
fi
log "tapnc -w 1 10.0.0.3 5054: $(head -n 1 "$TMP/cto.err") (exit 1, $ms ms)"
pass "tapnc -w 1, SYNs never answered: 'connect to 10.0.0.3 port 5054 (tcp) timed out', exit 1 in $ms ms"

# 7. -w on an idle connection: tapnc -w 1 -l still listens 1.5 s later;
# then the host connects and sends nothing (nor does tapnc's stdin): tapnc
# closes it with a FIN (the host's socket goes to CLOSE-WAIT) about 1 s
# after the connection, and exits 0.
tap_gone "$NS"
fifo w_in 5
fifo w_host 6
BG_IN=$TMP/w_in start_bg "$NS" w-tapnc "$TAPNC" -v -w 1 -l 5052
TW=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TW"
wait_for 5 grep -q "Listening on" "$TMP/w-tapnc.err" || fail "tapnc -w 1 -l 5052 did not say it listens"
# Waiting for the first connection has no limit, as nc -l ignores -w.
sleep 1.5
kill -0 "$TW" 2>/dev/null || { show "$TMP/w-tapnc.err"; fail "tapnc -w 1 -l gave up listening after 1.5 s with no connection"; }
BG_IN=$TMP/w_host start_bg "$NS" w-nc nc -n "$STACK_IP" 5052
NW=$BG_LAST
wait_for 5 grep -q "Connection received" "$TMP/w-tapnc.err" || { show "$TMP/w-tapnc.err"; fail "tapnc -w 1 -l: the host's connection was not received"; }
t0=$(now_ms)
wait_exit "$TW" 5 || fail "tapnc -w 1 -l: still running 5 s after an idle connection came"
ms=$(($(now_ms) - t0))
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/w-tapnc.err"; fail "tapnc -w 1 -l: exited $EXIT_CODE after the idle timeout, expected 0 (as nc)"; }
if [ $ms -lt 700 ] || [ $ms -gt 3000 ]; then
    fail "tapnc -w 1 -l: closed the idle connection after $ms ms, expected about 1000"
fi
ip netns exec "$NS" ss -Htn state close-wait 'dport = :5052' | grep -q . ||
    { ip netns exec "$NS" ss -tan >&2; fail "tapnc -w 1 -l: the host's socket is not in CLOSE-WAIT (no FIN from tapnc?)"; }
exec 6>&- # the host nc: stdin EOF after the peer's FIN, it is done
wait_exit "$NW" 5 || fail "host nc did not exit after tapnc's FIN and its stdin EOF"
exec 5>&-
pass "tapnc -w 1 -l: listened 1.5 s without a limit; the idle connection closed with a FIN after $ms ms, exit 0"

# 7b. Data restarts the -w clock: 5 lines 0.4 s apart (1.6 s, longer than
# -w 1) all arrive; tapnc closes about 1 s after the last.
tap_gone "$NS"
fifo a_in 5
fifo a_host 6
BG_IN=$TMP/a_in start_bg "$NS" a-tapnc "$TAPNC" -v -w 1 -l 5053
TA=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TA"
wait_for 5 grep -q "Listening on" "$TMP/a-tapnc.err" || fail "tapnc -w 1 -l 5053 did not say it listens"
BG_IN=$TMP/a_host start_bg "$NS" a-nc nc -n "$STACK_IP" 5053
NA=$BG_LAST
wait_for 5 grep -q "Connection received" "$TMP/a-tapnc.err" || { show "$TMP/a-tapnc.err"; fail "tapnc -w 1 -l 5053: the host's connection was not received"; }
for i in 1 2 3 4 5; do
    sleep 0.4
    echo "tick $i" >&6
done
t0=$(now_ms)
wait_exit "$TA" 5 || fail "tapnc -w 1 -l: still running 5 s after the last line"
ms=$(($(now_ms) - t0))
n=$(grep -c '^tick ' "$TMP/a-tapnc.out")
[ "$n" -eq 5 ] || { show "$TMP/a-tapnc.out"; fail "tapnc -w 1 -l: $n of 5 lines 0.4 s apart arrived (the clock must restart at each)"; }
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/a-tapnc.err"; fail "tapnc -w 1 -l: exited $EXIT_CODE"; }
if [ $ms -lt 500 ] || [ $ms -gt 3000 ]; then
    fail "tapnc -w 1 -l: closed $ms ms after the last line, expected about 1000"
fi
exec 6>&-
wait_exit "$NA" 5 || fail "host nc did not exit after tapnc's FIN and its stdin EOF"
exec 5>&-
pass "tapnc -w 1 -l: 5 lines 0.4 s apart all arrived (1.6 s), closed $ms ms after the last, exit 0"

# 8. Reset by the peer, with the connection established and data passed
# both ways: the host closes with SO_LINGER {1, 0}, which sends a RST.
# tapnc says so as nc does and exits 1.  Both directions of connection.
RST_PY='
import socket, struct, sys
def reset_after_line(s):
    s.settimeout(5)
    s.sendall(b"before reset\n")
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(100)
        if not d:
            sys.exit("tapnc closed before the reset")
        got += d
    sys.stdout.write(got.decode())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
if sys.argv[1] == "connect":
    reset_after_line(socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5))
else:
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", int(sys.argv[2])))
    l.listen(1)
    l.settimeout(5)
    reset_after_line(l.accept()[0])
'
# expect_reset NAME TAPNC_PID PY_PID: tapnc got the host's line, sent one
# back, and then the reset.
expect_reset()
{
    local name=$1 tp=$2 pp=$3
    wait_for 5 grep -qx "before reset" "$TMP/$name-tapnc.out" || { show "$TMP/$name-tapnc.err" "$TMP/$name-py.err"; fail "$name: the host's line did not reach tapnc"; }
    echo "from tapnc" >&5
    wait_exit "$pp" 5 || fail "$name: the host's python3 did not finish"
    if [ "$EXIT_CODE" -ne 0 ] || ! grep -qx "from tapnc" "$TMP/$name-py.out"; then
        show "$TMP/$name-py.err"
        fail "$name: the host did not get tapnc's line before resetting (python3 exit $EXIT_CODE)"
    fi
    wait_exit "$tp" 5 || fail "$name: tapnc still running 5 s after the RST"
    if [ "$EXIT_CODE" -ne 1 ] || ! grep -qx "tapnc: read failed: Connection reset by peer" "$TMP/$name-tapnc.err"; then
        show "$TMP/$name-tapnc.err"
        fail "$name: expected 'tapnc: read failed: Connection reset by peer' and exit 1, got exit $EXIT_CODE"
    fi
    exec 5>&-
}
tap_gone "$NS"
fifo rl_in 5
BG_IN=$TMP/rl_in start_bg "$NS" rl-tapnc "$TAPNC" -l 5055
TR=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TR"
start_bg "$NS" rl-py python3 -c "$RST_PY" connect "$STACK_IP" 5055
expect_reset rl "$TR" "$BG_LAST"
pass "host RST to tapnc -l (established, data both ways): 'tapnc: read failed: Connection reset by peer', exit 1"

tap_gone "$NS"
start_bg "$NS" rc-py python3 -c "$RST_PY" listen 6002
PR=$BG_LAST
wait_listen "$NS" 6002 || fail "host python3 is not listening on 6002"
fifo rc_in 5
BG_IN=$TMP/rc_in start_bg "$NS" rc-tapnc "$TAPNC" "$HOST_IP" 6002
expect_reset rc "$BG_LAST" "$PR"
pass "host RST to tapnc HOST PORT (established, data both ways): 'tapnc: read failed: Connection reset by peer', exit 1"

finish
