#!/usr/bin/env bash
# --ladder draws a connection's ladder when it ends, --ladder-svg writes it
# as SVG, --states names every transition and its cause, and SIGUSR1 (like
# -v at exit) prints the counters and the live connections.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc python3

ns_create
NS=$NS_LAST
mkfifo "$TMP/stack_in"
BG_IN=$TMP/stack_in start_bg "$NS" tapnc "$TAPNC" -v -l 5050 --ladder --ladder-svg "$TMP/l.svg" --states
PID=$BG_LAST
exec 7>"$TMP/stack_in"
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"

# A connection that stays open while we ask for the live table.
mkfifo "$TMP/host_in"
BG_IN=$TMP/host_in start_bg "$NS" host_nc nc -N "$STACK_IP" 5050
NC_PID=$BG_LAST
exec 8>"$TMP/host_in"
wait_for 5 grep -q "Connection received" "$TMP/tapnc.err" || { show "$TMP/tapnc.err"; fail "no connection"; }
printf 'ping over tcp\n' >&8
wait_for 5 grep -q "ping over tcp" "$TMP/tapnc.out" || fail "the line did not arrive"

kill -USR1 "$PID"
wait_for 5 grep -q "^ESTAB " "$TMP/tapnc.err" || { show "$TMP/tapnc.err"; fail "SIGUSR1 printed no ESTAB line"; }
grep -qE "^ESTAB +0 +0 +10\.0\.0\.2:5050 +10\.0\.0\.1:[0-9]+" "$TMP/tapnc.err" ||
    { show "$TMP/tapnc.err"; fail "the ESTAB line lacks its queues or addresses"; }
grep -qE "mss:1460 rto:[0-9]+ rtt:[0-9.]+/[0-9.]+ cwnd:[0-9]+ .*rcv_nxt:15 " "$TMP/tapnc.err" ||
    { show "$TMP/tapnc.err"; fail "the ss-like detail line is missing or wrong"; }
grep -qE "^ +[0-9]+ connections opened passively$" "$TMP/tapnc.err" || fail "SIGUSR1 printed no counters"
kill -0 "$PID" || fail "tapnc died on SIGUSR1"
pass "SIGUSR1: counters and an ss-like table with the live connection"

# Close from the host; tapnc (-l, no -k) finishes and draws the ladder.
exec 8>&-
exec 7>&-
wait_exit "$PID" 10 || fail "tapnc did not exit after the connection closed"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/tapnc.err"; fail "tapnc exited with $EXIT_CODE"; }

# The arrows, in order: S ->, <- S., . ->, P. -> (14 bytes), ..., F. ->, <- F., . ->
sed -nE 's/^ +[0-9.]+  \|(.*)\|$/\1/p' "$TMP/tapnc.err" |
    sed -E 's/^<-+ (.*) -+$/<- \1/; s/^-+ (.*) -+>$/-> \1/' >"$TMP/arrows"
head -n 3 "$TMP/arrows" | tr '\n' '|' >"$TMP/first3"
[ "$(cat "$TMP/first3")" = "-> S seq 0 len 0|<- S. seq 0 ack 1 len 0|-> . ack 1 len 0|" ] ||
    { show "$TMP/arrows"; fail "the ladder does not start with the handshake"; }
grep -qx -- "-> P. seq 1:15 ack 1 len 14" "$TMP/arrows" || { show "$TMP/arrows"; fail "no data arrow"; }
grep -q -- "-> F. seq 15 " "$TMP/arrows" || { show "$TMP/arrows"; fail "no FIN from the host"; }
grep -q -- "<- F. seq 1 " "$TMP/arrows" || { show "$TMP/arrows"; fail "no FIN from the stack"; }
[ "$(tail -n 1 "$TMP/arrows")" = "-> . ack 2 len 0" ] || { show "$TMP/arrows"; fail "the ladder does not end with the last ACK"; }
pass "--ladder: $(wc -l <"$TMP/arrows") arrows from the handshake to the last ACK"

python3 - "$TMP/l.svg" <<'PY' || fail "the SVG is not what --ladder drew"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
texts = [t.text for t in root.iter(ns + "text")]
assert "10.0.0.2:5050" in texts, texts
labels = [t for t in texts if t and (t.startswith("S") or t.startswith(".") or t.startswith("P") or t.startswith("F"))]
assert labels[:3] == ["S seq 0 len 0", "S. seq 0 ack 1 len 0", ". ack 1 len 0"], labels
assert len(list(root.iter(ns + "line"))) >= 2 + len(labels)
PY
pass "--ladder-svg: a well-formed SVG with the same arrows"

for want in "CLOSED -> LISTEN (app: listen)" "LISTEN -> SYN_RECEIVED (S seq " "SYN_RECEIVED -> ESTABLISHED (. seq " \
    "ESTABLISHED -> CLOSE_WAIT (F. seq " "CLOSE_WAIT -> LAST_ACK (app: close)" "LAST_ACK -> CLOSED (. seq "; do
    grep -qF -- "$want" "$TMP/tapnc.err" || { show "$TMP/tapnc.err"; fail "--states lacks: $want"; }
done
pass "--states: every transition of the passive side with its cause"
finish
