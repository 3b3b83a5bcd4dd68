#!/usr/bin/env bash
# --ladder draws a connection's ladder when it ends, --ladder-svg writes it
# as SVG, --states names every transition and its cause, and SIGUSR1 (like
# -v at exit) prints the counters and the live connections.  Over a lossy
# link, the ladder marks the retransmissions and --states prints the notes.
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
# ss -tni's words: options in force, the algorithm, wscale:SND,RCV (ours 7
# for the default 4 MiB buffer), rto, rtt, mss (the data a segment holds:
# 1460 less the timestamp option), cwnd; then the recovery state
# and the sequence numbers relative to ISS and IRS.
grep -qE "^	 ts sack cubic wscale:[0-9]+,7 rto:[0-9]+ rtt:[0-9.]+/[0-9.]+ mss:1448 cwnd:[0-9]+ .*ca:open .*rcv_nxt:15 " "$TMP/tapnc.err" ||
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

# A lossy link: the stack sends 200 KiB to the host through --impair
# out:loss=5% (the odds that no data segment is lost: under 1 in 1000).
# Every segment the stack sent again is drawn ====> with the cause its note
# gave, as many as it counted; --states prints the notes.
head -c $((200 * 1024)) /dev/urandom >"$TMP/data"
start_bg "$NS" host_rx timeout 30 nc -n -l 6000
HOST_PID=$BG_LAST
wait_listen "$NS" 6000 || fail "the host's nc -l 6000 is not listening"
BG_IN=$TMP/data start_bg "$NS" lossy timeout 30 "$TAPNC" -v -N --ladder --ladder-svg "$TMP/lossy.svg" --states \
    --impair out:loss=5%,seed=3 "$HOST_IP" 6000
PID=$BG_LAST
wait_exit "$PID" 35 || fail "tapnc (lossy) did not finish"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/lossy.err"; fail "tapnc (lossy) exited with $EXIT_CODE"; }
wait_exit "$HOST_PID" 5 || fail "the host's nc did not finish"
cmp -s "$TMP/host_rx.out" "$TMP/data" || fail "the host got $(stat -c %s "$TMP/host_rx.out") of 204800 bytes"
rtx=$(awk '$0 ~ /^ +[0-9]+ TCP segments retransmitted$/ { print $1 }' "$TMP/lossy.err")
[ "${rtx:-0}" -gt 0 ] || { show "$TMP/lossy.err"; fail "the stack retransmitted nothing through 5% loss"; }
# The stack is the left column (it sent the SYN): its arrows point right.
grep -E '^ +[0-9.]+  \|=+ .* =+>\|' "$TMP/lossy.err" >"$TMP/rtx_arrows"
n=$(wc -l <"$TMP/rtx_arrows")
[ "$n" = "$rtx" ] || { show "$TMP/rtx_arrows"; fail "the ladder draws $n retransmissions from the stack, the counter says $rtx"; }
if grep -vE '\|  (fast retransmit|RTO retransmit|tail loss probe)$' "$TMP/rtx_arrows" >"$TMP/rtx_unlabelled"; then
    show "$TMP/rtx_unlabelled"
    fail "a retransmission in the ladder has no cause"
fi
pass "--ladder: the $rtx retransmissions are drawn ====> with their cause, e.g. $(head -n 1 "$TMP/rtx_arrows" | sed -E 's/^ +[0-9.]+  //')"
notes=$(grep -cE '^10\.0\.0\.2:[0-9]+ 10\.0\.0\.1:6000 \* (fast retransmit|RTO retransmit|tail loss probe) seq [0-9]+:[0-9]+$' "$TMP/lossy.err")
[ "$notes" -ge "$rtx" ] || { show "$TMP/lossy.err"; fail "--states printed $notes retransmission notes for $rtx retransmissions"; }
grep -qE '^10\.0\.0\.2:[0-9]+ 10\.0\.0\.1:6000 \* (recovery|retransmission timeout) \(in flight [0-9]+:[0-9]+\) cwnd [0-9]+' "$TMP/lossy.err" ||
    { show "$TMP/lossy.err"; fail "--states printed no congestion event"; }
pass "--states: $notes retransmission notes and the congestion events, e.g. '$(grep -m1 -E '\* (recovery|retransmission timeout) ' "$TMP/lossy.err")'"
python3 - "$TMP/lossy.svg" "$rtx" <<'PY' || fail "the SVG does not draw the retransmissions dashed with their cause"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
dashed = [l for l in root.iter(ns + "line") if l.get("stroke-dasharray")]
labels = [t.text for t in root.iter(ns + "text") if t.text and t.text.endswith("retransmit)")]
assert len(dashed) >= int(sys.argv[2]), (len(dashed), sys.argv[2])
assert labels, "no label with a cause"
PY
pass "--ladder-svg: the retransmissions dashed, with their cause"
finish
