#!/usr/bin/env bash
# --pcap FILE writes every frame in and out: tcpdump -r reads it and finds
# as many frames as the stack counted.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping nc tcpdump

ns_create
NS=$NS_LAST
start_bg "$NS" tapnc "$TAPNC" -v -l 5050 --pcap "$TMP/stack.pcap"
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
ns_exec "$NS" ping -c 3 -i 0.1 "$STACK_IP" >/dev/null || fail "ping failed"
(printf 'over the wire\n'; sleep 0.3) | ns_exec "$NS" timeout 10 nc -N "$STACK_IP" 5050 >/dev/null ||
    fail "nc failed"
wait_exit "$PID" 10 || fail "tapnc did not exit after the connection"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/tapnc.err"; fail "tapnc exited with $EXIT_CODE"; }

tcpdump -nn -r "$TMP/stack.pcap" >"$TMP/read.txt" 2>"$TMP/read.err" ||
    { show "$TMP/read.err"; fail "tcpdump -r cannot read the pcap"; }
frames=$(wc -l <"$TMP/read.txt")
rx=$(sed -nE 's/^ +([0-9]+) frames received$/\1/p' "$TMP/tapnc.err")
tx=$(sed -nE 's/^ +([0-9]+) frames sent$/\1/p' "$TMP/tapnc.err")
[ -n "$rx" ] && [ -n "$tx" ] || { show "$TMP/tapnc.err"; fail "no frame counters in tapnc -v"; }
[ "$frames" -eq $((rx + tx)) ] ||
    fail "pcap has $frames frames, the stack counted $rx received + $tx sent"
pass "tcpdump -r reads the pcap: $frames frames = $rx received + $tx sent"
grep -q 'ICMP echo reply' "$TMP/read.txt" || fail "no echo reply in the pcap"
grep -q 'Flags \[S\.\]' "$TMP/read.txt" || fail "no SYN-ACK in the pcap"
grep -q 'Flags \[P\.\].*length 14' "$TMP/read.txt" || fail "no data segment in the pcap"
pass "the pcap holds the echo replies, the handshake and the data"
finish
