#!/bin/bash
# hostile.sh - a hostile host against tapd, with hping3:
#   1. SYN+FIN to a closed port gets a RST (RFC 9293 3.10.7.1);
#   2. a SYN flood (hping3 --flood) at echo: tapd answers with SYN cookies
#      once the half-open queue is full, and 30 real clients connecting
#      during the flood all get through and are echoed (a client's SYN may
#      be lost in the TAP's full queue and sent again: nc waits 15 s);
#   3. 50,000 ACKs with random sequence numbers into a live connection
#      draw a few ACKs (one per 500 ms), not one each, and the connection
#      still works;
#   4. SYNs to a closed port at 10,000 a second draw at most 1000 RSTs a
#      second.
# The flood's figures (ping and connect times) are printed, not judged.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc hping3 tcpdump ping

ns_create
NS=$NS_LAST

start_bg "$NS" tapd "$TAPD" -v
TD=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"
ns_exec "$NS" ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "no ping answer from tapd"

# counter NAME-REGEX: the value of a counter printed by SIGUSR1, the last time.
counter()
{
    kill -USR1 "$TD"
    sleep 0.3
    grep -E "^ +[0-9]+ $1\$" "$TMP/tapd.err" | tail -1 | awk '{ print $1 }'
}

# 1. SYN+FIN to a closed port.
ns_exec "$NS" timeout 5 hping3 -c 1 -S -F -p 1 "$STACK_IP" >"$TMP/synfin.out" 2>&1
grep -q "sport=1 flags=RA" "$TMP/synfin.out" || { show "$TMP/synfin.out"; fail "SYN+FIN to closed port 1: no RST+ACK"; }
pass "SYN+FIN to a closed port: RST+ACK (hping3: $(grep -o 'flags=RA.*' "$TMP/synfin.out" | head -1 | cut -c1-40))"

# 2. A SYN flood at echo, with real clients during it.
ping_before=$(ns_exec "$NS" ping -c 20 -i 0.05 -q "$STACK_IP" | awk -F/ '/^rtt/ { print $5 }')
start_bg "$NS" flood timeout 120 hping3 -S -p 7 -i u20 -a 10.0.0.77 "$STACK_IP"
FL=$BG_LAST
sleep 1
ping_during=$(ns_exec "$NS" ping -c 20 -i 0.05 -q -W 2 "$STACK_IP" | awk -F/ '/^rtt/ { print $5 }')
t0=$(now_ms)
ns_exec "$NS" timeout 100 bash -c '
    fails=0
    for i in $(seq 1 30); do
        r=$(echo "hello $i" | timeout 15 nc -n -N '"$STACK_IP"' 7) || { fails=$((fails + 1)); continue; }
        [ "$r" = "hello $i" ] || fails=$((fails + 1))
    done
    exit $fails' >"$TMP/clients.out" 2>"$TMP/clients.err"
rc=$?
ms=$(($(now_ms) - t0))
kill -0 "$FL" 2>/dev/null || { show "$TMP/flood.err"; fail "hping3 --flood ended before the clients were done"; }
cookies=$(counter "SYN cookies sent.*")
kill -TERM -- "-$FL" 2>/dev/null
kill -TERM "$FL" 2>/dev/null
wait "$FL" 2>/dev/null
log "during the flood: ping median ${ping_during:-lost} ms (before: $ping_before ms); 30 clients in $ms ms; $cookies SYN cookies sent"
[ "$rc" -eq 0 ] || { show "$TMP/clients.err" "$TMP/tapd.err"; fail "$rc of 30 clients during the SYN flood failed"; }
[ "${cookies:-0}" -gt 0 ] || fail "the SYN flood made no SYN cookies"
ok=$(counter "connections opened by a valid SYN cookie")
pass "SYN flood: all 30 clients echoed ($ok through a cookie), $cookies SYN cookies sent"
kill -0 "$TD" || fail "tapd died during the flood"

# 3. Blind ACKs with random sequence numbers into a live connection.
fifo live_in 5
BG_IN=$TMP/live_in start_bg "$NS" live nc -n -p 40000 "$STACK_IP" 7
LV=$BG_LAST
echo "before" >&5
wait_for 5 grep -q "^before$" "$TMP/live.out" || fail "the live echo connection did not echo"
start_bg "$NS" dump tcpdump -nn -U -i tap0 -w "$TMP/acks.pcap" "tcp and src host $STACK_IP and port 40000"
DP=$BG_LAST
sleep 1
# 50,000 ACKs, 20 us apart, from the live connection's port: hping3 picks
# a random sequence and ACK number for each.
ns_exec "$NS" timeout 30 hping3 -A -s 40000 -k -p 7 -c 50000 -i u20 "$STACK_IP" >"$TMP/blind.out" 2>&1
sleep 1
kill -TERM "$DP"
wait "$DP" 2>/dev/null
acks=$(tcpdump -nn -r "$TMP/acks.pcap" 2>/dev/null | wc -l)
limited=$(counter "ACKs for out-of-window segments not sent: rate limit")
log "50000 blind ACKs drew $acks segments from tapd; $limited ACKs held back"
[ "$acks" -le 200 ] || fail "50000 blind ACKs drew $acks segments (Linux sends about 180)"
[ "${limited:-0}" -gt 1000 ] || fail "the out-of-window limit held back only ${limited:-0} ACKs"
echo "after" >&5
wait_for 5 grep -q "^after$" "$TMP/live.out" || fail "the live connection no longer echoes after the blind ACKs"
pass "50000 blind ACKs: $acks answers, the connection still echoes"
exec 5>&-

# 4. SYNs to a closed port, 10,000 a second for 2 s: RSTs stay under 1000/s.
start_bg "$NS" dump2 tcpdump -nn -U -i tap0 -w "$TMP/rst.pcap" "tcp and src host $STACK_IP and src port 1"
DP=$BG_LAST
sleep 1
ns_exec "$NS" timeout 30 hping3 -S -p 1 -c 20000 -i u100 "$STACK_IP" >/dev/null 2>&1
sleep 0.5
kill -TERM "$DP"
wait "$DP" 2>/dev/null
rsts=$(tcpdump -nn -r "$TMP/rst.pcap" 2>/dev/null | wc -l)
rlim=$(counter "RSTs for closed ports not sent: rate limit")
log "20000 SYNs to closed port 1: $rsts RSTs, $rlim held back"
[ "$rsts" -gt 0 ] || fail "no RST at all for the closed port"
[ "${rlim:-0}" -gt 0 ] || fail "the RST limit held nothing back"
pass "SYNs to a closed port: $rsts RSTs, $rlim held back by the limit"

kill -0 "$TD" || fail "tapd died"
finish
