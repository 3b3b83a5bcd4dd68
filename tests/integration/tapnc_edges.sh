#!/usr/bin/env bash
# tapnc at the edges: no busy loop at stdin EOF, an exit when the peer
# closed first and stdin ends later, a full stdout that neither freezes the
# stack nor the signals, a reader that goes away, and a signal that closes
# the connection with a FIN rather than dropping it.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc ping

# CPU seconds (user + system) a process has used.
cpu_s() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }

ns_create
NS=$NS_LAST

# 1. stdin at EOF while waiting for a connection: no spinning.
printf 'hi\n' >"$TMP/hi"
BG_IN=$TMP/hi start_bg "$NS" idle "$TAPNC" -l 5050
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
sleep 2
cpu=$(cpu_s "$PID")
awk -v c="$cpu" 'BEGIN { exit !(c < 0.3) }' || fail "tapnc used $cpu s of CPU in 2 s idle with stdin at EOF"
pass "idle with stdin at EOF: $cpu s CPU in 2 s"
kill -TERM "$PID"
wait_exit "$PID" 8 || fail "tapnc did not stop on SIGTERM"
[ "$EXIT_CODE" = 0 ] || fail "tapnc exited $EXIT_CODE on SIGTERM"

# 2. The peer closes first; stdin ends a second later, without -N: tapnc exits.
printf 'hello\n' >"$TMP/hello"
BG_IN=$TMP/hello start_bg "$NS" host_srv nc -N -l 6000
wait_listen "$NS" 6000 || fail "the host's nc -l 6000 is not listening"
mkfifo "$TMP/slow_in"
BG_IN=$TMP/slow_in start_bg "$NS" late "$TAPNC" "$HOST_IP" 6000
PID=$BG_LAST
exec 7>"$TMP/slow_in"
wait_for 5 grep -q hello "$TMP/late.out" || { show "$TMP/late.err"; fail "no data from the host"; }
sleep 1
exec 7>&-
wait_exit "$PID" 5 || fail "tapnc did not exit after the peer's FIN and then stdin's EOF"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/late.err"; fail "tapnc exited $EXIT_CODE"; }
pass "peer closed first, stdin ended later: tapnc exited 0"

# 3. stdout nobody reads: the stack still answers ping and SIGTERM still works.
mkfifo "$TMP/stuck"
BG_IN=$TMP/stuck start_bg "$NS" holder sleep 30 # opens the read end, never reads
start_bg "$NS" stuck sh -c "exec '$TAPNC' -l 5051 > '$TMP/stuck'"
PID=$BG_LAST
wait_for 5 bash -c "ip netns exec $NS ss -Htn state listening 2>/dev/null | grep -q . || true; kill -0 $PID"
sleep 0.3
head -c 3000000 /dev/zero >"$TMP/3m"
BG_IN=$TMP/3m start_bg "$NS" pusher nc -N "$STACK_IP" 5051
sleep 1
ns_exec "$NS" ping -c 3 -i 0.2 -W 1 "$STACK_IP" >/dev/null || fail "ping failed while tapnc's stdout was full"
pass "stdout full: ping is still answered"
kill -TERM "$PID"
wait_exit "$PID" 8 || fail "tapnc ignored SIGTERM while its stdout was full"
pass "stdout full: SIGTERM still ends tapnc (exit $EXIT_CODE)"

# 4. The reader goes away (tapnc | head -c 5): tapnc finishes.
start_bg "$NS" headpipe sh -c "'$TAPNC' -l 5052 | head -c 5 > '$TMP/five'"
PID=$BG_LAST
sleep 0.5
head -c 3000000 /dev/zero >"$TMP/3m2"
BG_IN=$TMP/3m2 start_bg "$NS" pusher2 nc -N "$STACK_IP" 5052
wait_exit "$PID" 10 || fail "tapnc | head -c 5 did not finish"
[ "$(wc -c <"$TMP/five")" = 5 ] || fail "head did not get 5 bytes"
pass "tapnc | head -c 5 finishes"

# 5. SIGINT during a connection: tapnc closes it with a FIN (the host's
#    socket goes to CLOSE-WAIT), then exits.
mkfifo "$TMP/conn_in"
BG_IN=$TMP/conn_in start_bg "$NS" sig "$TAPNC" -l 5053
PID=$BG_LAST
exec 8>"$TMP/conn_in"
sleep 0.5
mkfifo "$TMP/host_in"
BG_IN=$TMP/host_in start_bg "$NS" host_cli nc "$STACK_IP" 5053
exec 9>"$TMP/host_in"
wait_for 5 bash -c "ip netns exec $NS ss -Htn state established '( dport = :5053 )' | grep -q ." ||
    fail "the host's nc did not connect"
kill -INT "$PID"
wait_exit "$PID" 8 || fail "tapnc did not exit on SIGINT"
[ "$EXIT_CODE" = 0 ] || fail "tapnc exited $EXIT_CODE on SIGINT"
ns_exec "$NS" ss -Htn state close-wait '( dport = :5053 )' | grep -q . ||
    { ns_exec "$NS" ss -tan >&2; fail "the host's socket did not get our FIN (not in CLOSE-WAIT)"; }
exec 8>&- 9>&-
pass "SIGINT closes the connection with a FIN before tapnc exits"
finish
