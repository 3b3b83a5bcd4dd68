#!/usr/bin/env bash
# --trace prints each frame exactly as `tcpdump -nn` does: capture on the
# host side of the TAP during a session (ping, ARP, a TCP connection with
# data both ways and a close) and compare line by line, timestamps and our
# rx/tx marks set aside.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping nc tcpdump

ns_create
NS=$NS_LAST
# No IPv6 on the link: the host's router solicitations would only add noise.
ns_exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

mkfifo "$TMP/stack_in"
# -k keeps the TAP alive after the connection, so tcpdump sees the end.
BG_IN=$TMP/stack_in start_bg "$NS" tapnc "$TAPNC" -l -k 5050 --trace
TAPNC_PID=$BG_LAST
exec 7>"$TMP/stack_in"
wait_tap_up "$NS" tap0 "$HOST_IP" "$TAPNC_PID"

start_bg "$NS" tcpdump tcpdump -nn -U --immediate-mode -i tap0 -w "$TMP/host.pcap"
TCPDUMP_PID=$BG_LAST
wait_for 5 grep -q "listening on tap0" "$TMP/tcpdump.err" || fail "tcpdump did not start"

ns_exec "$NS" ping -c 2 -i 0.2 "$STACK_IP" >/dev/null || fail "ping failed"
# One line each way, one at a time, then the host closes.
(sleep 0.3; printf 'hello from the host\n'; sleep 0.6) |
    ns_exec "$NS" timeout 10 nc -N "$STACK_IP" 5050 >"$TMP/host_got" &
NC_PID=$!
sleep 0.6
printf 'hello from the stack\n' >&7
wait "$NC_PID" || fail "host nc failed"
sleep 0.5
kill -INT "$TCPDUMP_PID"
wait_exit "$TCPDUMP_PID" 5 || fail "tcpdump did not stop"
exec 7>&-
kill -TERM "$TAPNC_PID"
wait_exit "$TAPNC_PID" 5 || fail "tapnc did not stop"

grep -q 'hello from the stack' "$TMP/host_got" || fail "the host did not get the stack's line"
tcpdump -nn -t -r "$TMP/host.pcap" 2>/dev/null >"$TMP/tcpdump.txt"
# "rx 18:31:07.826748 IP ..." -> "IP ..."
sed -nE 's/^(rx|tx) [0-9:.]+ //p' "$TMP/tapnc.err" >"$TMP/trace.txt"
n=$(wc -l <"$TMP/tcpdump.txt")
[ "$n" -ge 12 ] || { show "$TMP/tcpdump.txt"; fail "tcpdump saw only $n frames"; }
grep -q 'Flags \[S\]' "$TMP/tcpdump.txt" || fail "no SYN in the capture"

# tcpdump started after the stack's gratuitous ARP: find where its
# capture begins in the trace, then the rest must be identical.
first=$(head -n 1 "$TMP/tcpdump.txt")
start=$(grep -nxF -- "$first" "$TMP/trace.txt" | head -n 1 | cut -d: -f1)
[ -n "$start" ] || { show "$TMP/trace.txt" "$TMP/tcpdump.txt"; fail "tcpdump's first line is not in the trace: $first"; }
tail -n +"$start" "$TMP/trace.txt" | head -n "$n" >"$TMP/trace_part.txt"
if ! diff -u "$TMP/tcpdump.txt" "$TMP/trace_part.txt" >"$TMP/diff.txt"; then
    show "$TMP/diff.txt"
    fail "the trace differs from tcpdump's capture"
fi
pass "$n frames: --trace is line for line what tcpdump -nn printed"

# The same formatter over tcpdump's own file, from its first frame on.
"$BUILD/tests/trace_pcap" "$TMP/host.pcap" >"$TMP/formatted.txt" || fail "trace_pcap could not read the capture"
if ! diff -u "$TMP/tcpdump.txt" "$TMP/formatted.txt" >"$TMP/diff2.txt"; then
    show "$TMP/diff2.txt"
    fail "trace_pcap's reading of the capture differs from tcpdump -r"
fi
pass "trace_pcap reads tcpdump's capture as tcpdump -nn -t -r does ($n frames)"
sed 's/^/    /' "$TMP/trace_part.txt" | grep -E 'Flags' | head -n 12
finish
