#!/bin/bash
# ip_icmp.sh - IPv4 and ICMP against the real tools:
#   1. ping -s 8000: the host sends the request in fragments, the stack
#      reassembles it and answers; tcpdump shows the reply leave in
#      fragments (offsets, MF) that the host puts together;
#   2. ping -Q 0x10: the reply carries TOS 0x10 back (tcpdump -v);
#   3. IP identification: echo replies to two host addresses, asked in
#      turn, each count on their own (not one global counter); TCP's RSTs
#      carry ID 0 with DF; and nmap's idle scan (-sI) finds no usable
#      zombie (no "Class: Incremental");
#   4. ICMP errors to TCP: tapnc connecting to host ports that nftables
#      rejects with ICMP port unreachable and administratively prohibited
#      gives up at once with "Connection refused" and "No route to host"
#      (hard errors in SYN_SENT, RFC 1122 4.2.3.9), counted as such.
. "$(dirname "$0")/lib.sh"
require_root
require_tools ping tcpdump nmap nft

ns_create
NS=$NS_LAST

start_bg "$NS" tapnc "$TAPNC" -v
TAPNC_PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TAPNC_PID"
# A second host address, the other destination for the IP ID check.
HOST2_IP=10.0.0.3
ip -n "$NS" addr add "$HOST2_IP/24" dev tap0 || fail "cannot add $HOST2_IP to tap0"
pass "tapnc brought up tap0 with $HOST_IP/24 and $HOST2_IP/24"

start_bg "$NS" tcpdump tcpdump -nn --immediate-mode -U -Z root -i tap0 -w "$TMP/ip.pcap" ip
TD=$BG_LAST
wait_for 5 grep -q "listening on tap0" "$TMP/tcpdump.err" || { show "$TMP/tcpdump.err"; fail "tcpdump did not start on tap0"; }

# 1. Large pings, fragmented both ways.
ns_exec "$NS" timeout 20 ping -n -c 3 -i 0.2 -W 2 -s 8000 "$STACK_IP" >"$TMP/ping8000" 2>&1
grep -q '3 received' "$TMP/ping8000" || { show "$TMP/ping8000" "$TMP/tapnc.err"; fail "ping -s 8000 -c 3 $STACK_IP: expected 3 replies"; }
n=$(grep -c "^8008 bytes from $STACK_IP" "$TMP/ping8000")
[ "$n" -eq 3 ] || { show "$TMP/ping8000"; fail "ping -s 8000: expected 3 replies of 8008 bytes, saw $n"; }
pass "ping -c 3 -s 8000: 3 replies of 8008 bytes"

# 2. TOS.
ns_exec "$NS" timeout 15 ping -n -c 3 -i 0.2 -W 2 -Q 0x10 "$STACK_IP" >"$TMP/pingtos" 2>&1
grep -q '3 received' "$TMP/pingtos" || { show "$TMP/pingtos"; fail "ping -Q 0x10 -c 3 $STACK_IP: expected 3 replies"; }
pass "ping -Q 0x10 -c 3: 3 replies"

# 3a. IDs of echo replies to two destinations, asked alternately.
for i in 1 2 3 4 5; do
    for src in "$HOST_IP" "$HOST2_IP"; do
        ns_exec "$NS" timeout 5 ping -n -c 1 -W 2 -I "$src" "$STACK_IP" >>"$TMP/pingids" 2>&1 ||
            { show "$TMP/pingids"; fail "ping -I $src $STACK_IP: no reply"; }
    done
done
pass "10 pings from $HOST_IP and $HOST2_IP in turn answered"

# 3b. nmap's idle scan: its zombie test probes 10.0.0.2:7 with SYN-ACKs
# and reads the RSTs' IDs.  Target: 10.9.9.9, routed in our namespace
# through the stack, which drops what is not for it (nmap refuses to
# idle-scan its own machine, and wants a next hop that answers ARP).
ip -n "$NS" route add 10.9.9.9/32 via "$STACK_IP" dev tap0 || fail "cannot add a route to 10.9.9.9"
ns_exec "$NS" timeout 120 nmap -n -Pn -sI "$STACK_IP:7" -p 9 10.9.9.9 >"$TMP/nmap" 2>&1
log "nmap -sI: $(grep -iE 'class|zombie|idle' "$TMP/nmap" | head -3 | tr '\n' ' ')"

sleep 0.3 # the last replies through tcpdump
kill -INT "$TD"
wait_exit "$TD" 5 || fail "tcpdump did not stop on SIGINT"
tcpdump -nn -v -r "$TMP/ip.pcap" >"$TMP/ip.txt" 2>/dev/null

# The replies in fragments: from the stack, ICMP, offsets 0, 1480, ...,
# 7400, MF on all but the last (tcpdump -v: "offset N, flags [+]").
replies=$(grep -c "^.*IP (tos 0x0, ttl 64, id [0-9]*, offset 0, flags \[+\], proto ICMP (1), length 1500)\$" "$TMP/ip.txt")
frags=$(awk '/^[0-9]/ { hdr = $0; next } / 10\.0\.0\.2 > 10\.0\.0\.1/ && hdr ~ /proto ICMP/ { print hdr }' "$TMP/ip.txt" |
    grep -oE 'offset [0-9]+, flags \[[^]]*\]' | sort | uniq -c)
log "fragments from the stack (count, offset, flags):"
printf '%s\n' "$frags" | sed 's/^/    /'
for off in 0 1480 2960 4440 5920; do
    printf '%s\n' "$frags" | grep -qE "^ *3 offset $off, flags \[\+\]\$" ||
        fail "tcpdump: expected 3 fragments from the stack at offset $off with MF (flags [+])"
done
printf '%s\n' "$frags" | grep -qE "^ *3 offset 7400, flags \[none\]\$" ||
    fail "tcpdump: expected 3 last fragments from the stack at offset 7400 without MF"
[ "$replies" -ge 3 ] || fail "tcpdump: expected 3 first fragments of 1500 bytes, saw $replies"
pass "tcpdump: each 8008-byte reply left as 6 fragments (offsets 0..7400 by 1480, MF on the first 5)"

# TOS 0x10 on the replies.
tos=$(awk '/^[0-9]/ { hdr = $0; next } /10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply, id [0-9]+, seq [0-9]+, length 64/ { print hdr }' "$TMP/ip.txt" | grep -c 'tos 0x10,')
[ "$tos" -eq 3 ] || { grep -B1 'echo reply.*length 64' "$TMP/ip.txt" | head -12 >&2; fail "tcpdump -v: expected 3 echo replies with tos 0x10, saw $tos"; }
pass "tcpdump -v: the 3 replies to ping -Q 0x10 carry tos 0x10"

# IDs per destination: each destination's replies count up by one; the
# two sequences are not one counter's interleaved values.
ids_of()
{
    awk -v dst="$1" '/^[0-9]/ { hdr = $0; next }
        $0 ~ ("10\\.0\\.0\\.2 > " dst ": ICMP echo reply, id [0-9]+, seq 1, length 64") { print hdr }' \
        "$TMP/ip.txt" | grep -oE ', id [0-9]+,' | grep -oE '[0-9]+' | tail -5
}
ids1=$(ids_of "10\\.0\\.0\\.1" | tr '\n' ' ')
ids3=$(ids_of "10\\.0\\.0\\.3" | tr '\n' ' ')
log "IP IDs of replies to $HOST_IP: $ids1; to $HOST2_IP: $ids3"
read -ra a <<<"$ids1"
read -ra b <<<"$ids3"
[ "${#a[@]}" -eq 5 ] && [ "${#b[@]}" -eq 5 ] || fail "expected 5 echo replies to each address in the capture"
for k in 1 2 3 4; do
    [ $(((a[k] - a[k - 1] + 65536) % 65536)) -eq 1 ] || fail "replies to $HOST_IP: IDs $ids1 do not count by one"
    [ $(((b[k] - b[k - 1] + 65536) % 65536)) -eq 1 ] || fail "replies to $HOST2_IP: IDs $ids3 do not count by one"
done
# One global counter, asked in turn, would give b[k] = a[k] + 1.
interleaved=0
for k in 0 1 2 3 4; do
    [ $(((b[k] - a[k] + 65536) % 65536)) -le 2 ] && interleaved=$((interleaved + 1))
done
[ "$interleaved" -lt 5 ] || fail "IDs to $HOST_IP ($ids1) and $HOST2_IP ($ids3) interleave like one counter"
pass "IP IDs: each destination its own sequence (not one counter)"

# TCP: the RSTs nmap drew carry ID 0 and DF (atomic, RFC 6864).
rsts=$(awk '/^[0-9]/ { hdr = $0; next } /10\.0\.0\.2\.7 > .*Flags \[R\]/ { print hdr }' "$TMP/ip.txt")
nrst=$(printf '%s\n' "$rsts" | grep -c 'id 0, offset 0, flags \[DF\], proto TCP')
total=$(printf '%s\n' "$rsts" | grep -c 'proto TCP')
log "RSTs from $STACK_IP:7: $total, with id 0 and DF: $nrst"
[ "$total" -ge 1 ] || { show "$TMP/nmap"; fail "nmap drew no RST from $STACK_IP:7"; }
[ "$nrst" -eq "$total" ] || fail "RSTs from the stack: expected all with id 0 and DF"
pass "TCP RSTs: ID 0, DF set ($total seen)"

# nmap must not find an incremental IP ID zombie.
if grep -q 'Class: Incremental' "$TMP/nmap"; then
    show "$TMP/nmap"
    fail "nmap -sI $STACK_IP:7 found the stack usable as an idle-scan zombie (Class: Incremental)"
fi
grep -qiE 'zombie|idle scan|proxy' "$TMP/nmap" || { show "$TMP/nmap"; fail "nmap -sI printed nothing about the zombie"; }
pass "nmap -sI $STACK_IP:7: not usable as a zombie ($(grep -ioE 'class: [a-z ]+|cannot be used[^.]*' "$TMP/nmap" | head -1))"

# Counters (tapnc -v at exit): 3 requests put together from 6 fragments
# each, 3 replies sent as 6 fragments each, nothing dropped in reassembly.
kill -INT "$TAPNC_PID"
wait_exit "$TAPNC_PID" 5 || fail "tapnc still running 5 s after SIGINT"
for line in '18 IPv4 fragments received' '3 IPv4 datagrams reassembled from fragments' \
    '18 IPv4 fragments sent' '3 IPv4 datagrams sent in fragments'; do
    grep -qx "    $line" "$TMP/tapnc.err" || { show "$TMP/tapnc.err"; fail "tapnc -v counters: no line '$line'"; }
done
grep -q 'IPv4 \(fragments\|datagrams\) dropped' "$TMP/tapnc.err" &&
    { show "$TMP/tapnc.err"; fail "tapnc -v counters: a reassembly drop"; }
pass "counters: 18 fragments in, 3 reassembled; 3 replies sent as 18 fragments; no reassembly drop"

# 4. Hard ICMP errors end a connection attempt at once.  A namespace of its
# own, where the host rejects two ports by ICMP instead of RST.
wait_for 3 bash -c "! ip -n '$NS' link show tap0 >/dev/null 2>&1" || fail "tap0 still there after tapnc exited"
ns_create
NS2=$NS_LAST
ns_exec "$NS2" nft -f - <<'NFT' || fail "nft could not add the reject rules"
table ip synack_reject {
    chain in {
        type filter hook input priority 0;
        tcp dport 5998 reject with icmp type port-unreachable
        tcp dport 5997 reject with icmp type admin-prohibited
    }
}
NFT
for case in "5998:Connection refused" "5997:No route to host"; do
    port=${case%%:*}
    want=${case#*:}
    t0=$(now_ms)
    ns_exec "$NS2" timeout 20 "$TAPNC" -v "$HOST_IP" "$port" </dev/null >"$TMP/rej$port.out" 2>"$TMP/rej$port.err"
    rc=$?
    ms=$(($(now_ms) - t0))
    [ $rc -ne 124 ] || { show "$TMP/rej$port.err"; fail "tapnc $HOST_IP $port (rejected by ICMP) hung"; }
    if [ $rc -ne 1 ] || ! grep -q "connect to $HOST_IP port $port (tcp) failed: $want" "$TMP/rej$port.err"; then
        show "$TMP/rej$port.err"
        fail "tapnc $HOST_IP $port: expected exit 1 and 'failed: $want', got exit $rc"
    fi
    # At once: the SYN's first retransmission would come after 1 s.
    [ $ms -lt 2000 ] || fail "tapnc $HOST_IP $port took $ms ms to fail (expected the ICMP error at once)"
    grep -qx '    1 connection attempts aborted by an ICMP hard error (RFC 1122 4.2.3.9)' "$TMP/rej$port.err" ||
        { show "$TMP/rej$port.err"; fail "tapnc -v counters: no ICMP hard error abort"; }
    pass "tapnc to a port rejected by ICMP ($port): '$want' in $ms ms, counted as an ICMP hard error"
    wait_for 3 bash -c "! ip -n '$NS2' link show tap0 >/dev/null 2>&1" || fail "tap0 still there after tapnc exited"
done

finish
