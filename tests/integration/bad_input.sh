#!/usr/bin/env bash
# bad_input.sh - every bad input answered:
#   1. command lines that name no usable address, number or file: exit 1,
#      a message naming the bad value, no TAP made;
#   2. a file that cannot be written (--pcap, --ladder-svg, stdout), at
#      start or during the run: a message at the first failure and a
#      non-zero exit, never a capture or data silently lost;
#   3. a second instance on a subnet another interface already has: refused;
#   4. a limit of the stack reached: told once on stderr, per kind.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc

ns_create
NS=$NS_LAST
# expect_error also checks that no TAP came up before the refusal.
EXPECT_NO_TAP=1

# ---- 1. command lines refused before any TAP (-v would announce one) ----
for prog in tapnc tapd; do
    bin=$TAPNC
    [ $prog = tapd ] && bin=$TAPD
    bad=0
    # Addresses no host may have, the subnet's own addresses, and pairs
    # that cannot share a link.
    expect_error $prog-loopback "--addr" "127\.0\.0\.2" "loopback" -- "$bin" -v --addr 127.0.0.2/8 --host-addr 127.0.0.1/8 || bad=1
    expect_error $prog-thisnet "--addr" "0\.0\.0\.2" "0\.0\.0\.0/8" -- "$bin" -v --addr 0.0.0.2/8 --host-addr 0.0.0.1/8 || bad=1
    expect_error $prog-reserved "--addr" "255\.255\.255\.2" "reserved" -- "$bin" -v --addr 255.255.255.2/24 --host-addr 255.255.255.1/24 || bad=1
    expect_error $prog-mcast "--addr" "224\.0\.0\.2" "multicast" -- "$bin" -v --addr 224.0.0.2/24 --host-addr 224.0.0.1/24 || bad=1
    expect_error $prog-e-class "--addr" "240\.0\.0\.2" "reserved" -- "$bin" -v --addr 240.0.0.2/24 --host-addr 240.0.0.1/24 || bad=1
    expect_error $prog-network "--addr" "10\.0\.0\.0" "network address" -- "$bin" -v --addr 10.0.0.0/24 || bad=1
    expect_error $prog-bcast "--addr" "10\.0\.0\.255" "broadcast address" -- "$bin" -v --addr 10.0.0.255/24 || bad=1
    expect_error $prog-bcast25 "--addr" "10\.0\.0\.127" "broadcast address" -- "$bin" -v --addr 10.0.0.127/25 --host-addr 10.0.0.1/25 || bad=1
    expect_error $prog-host-lo "--host-addr" "127\.0\.0\.1" "loopback" -- "$bin" -v --addr 10.0.0.2/24 --host-addr 127.0.0.1/24 || bad=1
    expect_error $prog-host-bcast "--host-addr" "10\.0\.0\.255" "broadcast" -- "$bin" -v --host-addr 10.0.0.255/24 || bad=1
    expect_error $prog-host-same "10\.0\.0\.2" "share" -- "$bin" -v --host-addr 10.0.0.2/24 || bad=1
    expect_error $prog-host-out "subnet" "10\.0\.1\.1" -- "$bin" -v --host-addr 10.0.1.1/24 || bad=1
    expect_error $prog-prefixes "subnet" -- "$bin" -v --addr 10.0.0.2/16 || bad=1
    expect_error $prog-prefix31 "bad --addr" "'10\.0\.0\.2/31'" -- "$bin" -v --addr 10.0.0.2/31 || bad=1
    expect_error $prog-prefix0 "bad --addr" -- "$bin" -v --addr 10.0.0.2/0 || bad=1
    expect_error $prog-slash "bad --addr" -- "$bin" -v --addr 10.0.0.2/ || bad=1
    expect_error $prog-slash2 "bad --addr" -- "$bin" -v --addr 10.0.0.2/24/24 || bad=1
    expect_error $prog-slash-space "bad --addr" -- "$bin" -v --addr "10.0.0.2/ 24" || bad=1
    only_lo "$prog with a bad address"
    [ $bad -eq 0 ] && pass "$prog: loopback, 0/8, 255.255.255.x, multicast, 240/4, network and broadcast addresses (/24, /25), a bad --host-addr, a shared address, two subnets, /31, /0, '10.0.0.2/', '/24/24', '/ 24': exit 1 naming the value, before any TAP"

    # Numbers: digits only, within range; the new limits.
    bad=0
    expect_error $prog-mtu-space "bad --mtu" -- "$bin" -v --mtu " 1500" || bad=1
    expect_error $prog-mtu-plus "bad --mtu" -- "$bin" -v --mtu +1500 || bad=1
    expect_error $prog-mtu-unit "bad --mtu" -- "$bin" -v --mtu 1500x || bad=1
    expect_error $prog-mtu-big "bad --mtu" "65520" -- "$bin" -v --mtu 65521 || bad=1
    expect_error $prog-arp-0 "bad --arp-pending" "'0'" "1 to 4096" -- "$bin" -v --arp-pending 0 || bad=1
    expect_error $prog-arp-big "bad --arp-pending" "'4097'" -- "$bin" -v --arp-pending 4097 || bad=1
    expect_error $prog-arp-abc "bad --arp-pending" "'abc'" -- "$bin" -v --arp-pending abc || bad=1
    expect_error $prog-arp-none "arp-pending" "requires an argument" -- "$bin" -v --arp-pending || bad=1
    expect_error $prog-conns-0 "bad --max-conns" "'0'" -- "$bin" -v --max-conns 0 || bad=1
    expect_error $prog-conns-neg "bad --max-conns" "'-5'" -- "$bin" -v --max-conns -5 || bad=1
    expect_error $prog-backlog-big "bad --backlog" "'65536'" "65535" -- "$bin" -v --backlog 65536 || bad=1
    expect_error $prog-backlog-unit "bad --backlog" "'1k'" -- "$bin" -v --backlog 1k || bad=1
    expect_error $prog-flag-arg "nodelay" "doesn't allow an argument" -- "$bin" -v --nodelay=1 || bad=1
    expect_error $prog-ooo-0 "bad --max-ooo" "'0'" -- "$bin" -v --max-ooo 0 || bad=1
    expect_error $prog-mem-small "bad --mem-max" "'512K'" -- "$bin" -v --mem-max 512K || bad=1
    expect_error $prog-half-open-0 "bad --max-half-open" "'0'" -- "$bin" -v --max-half-open 0 || bad=1
    expect_error $prog-cookies "bad --syncookies" "'sometimes'" "full, never or always" -- "$bin" -v --syncookies sometimes || bad=1
    only_lo "$prog with a bad number"
    [ $bad -eq 0 ] && pass "$prog: --mtu ' 1500', +1500, 1500x, 65521; --arp-pending 0, 4097, abc, none; --max-conns 0, -5; --backlog 65536, 1k; --nodelay=1; --max-ooo 0; --mem-max 512K; --max-half-open 0; --syncookies sometimes: exit 1 with a message"

    # Files that cannot be written: at start, before any TAP.
    bad=0
    expect_error $prog-pcap-dir "pcap file /nonexistent/x\.pcap: No such file" -- "$bin" -v --pcap /nonexistent/x.pcap || bad=1
    expect_error $prog-pcap-full "pcap" "/dev/full" "No space left" -- "$bin" -v --pcap /dev/full || bad=1
    expect_error $prog-pcap-empty "pcap" -- "$bin" -v --pcap "" || bad=1
    expect_error $prog-svg-dir "ladder SVG" "/nonexistent/x\.svg" "No such file" -- "$bin" -v --ladder-svg /nonexistent/x.svg || bad=1
    expect_error $prog-svg-pcap "--pcap and --ladder-svg" "$TMP/same" -- "$bin" -v --pcap "$TMP/same" --ladder-svg "$TMP/same" || bad=1
    only_lo "$prog with a file it cannot write"
    [ $bad -eq 0 ] && pass "$prog: --pcap /nonexistent/x.pcap, /dev/full, ''; --ladder-svg /nonexistent/x.svg; --pcap and --ladder-svg one file: exit 1 at start, naming the file and why"
done

bad=0
expect_error tapnc-l0 "port" "'?0'?" -- "$TAPNC" -v -l 0 || bad=1
expect_error tapnc-lspace "port" -- "$TAPNC" -v -l " 5050" || bad=1
expect_error tapnc-lplus "port" "\+5050" -- "$TAPNC" -v -l +5050 || bad=1
expect_error tapnc-lunit "port" "5050x" -- "$TAPNC" -v -l 5050x || bad=1
expect_error tapnc-lnone "-l needs a PORT" -- "$TAPNC" -v -l || bad=1
expect_error tapnc-lp "one PORT" -- "$TAPNC" -v -l 5050 -p 5051 || bad=1
expect_error tapnc-k "-l with -k" -- "$TAPNC" -v -k || bad=1
expect_error tapnc-w0 "timeout invalid" -- "$TAPNC" -v -w 0 10.0.0.1 5050 || bad=1
expect_error tapnc-wspace "timeout invalid" -- "$TAPNC" -v -w " 5" 10.0.0.1 5050 || bad=1
expect_error tapnc-wbig "timeout invalid" "86400" -- "$TAPNC" -v -w 86401 10.0.0.1 5050 || bad=1
expect_error tapnc-wnone "requires an argument" -- "$TAPNC" -v -w || bad=1
expect_error tapnc-p0 "port" -- "$TAPNC" -v -p 0 10.0.0.1 5050 || bad=1
expect_error tapnc-hostonly "usage" -- "$TAPNC" -v 10.0.0.1 || bad=1
expect_error tapnc-extra "usage" -- "$TAPNC" -v 10.0.0.1 5050 extra || bad=1
expect_error tapnc-emptyhost "HOST" -- "$TAPNC" -v "" 5050 || bad=1
expect_error tapnc-emptyport "port" -- "$TAPNC" -v 10.0.0.1 "" || bad=1
expect_error tapnc-lohost "unicast" "127\.0\.0\.1" "loopback" -- "$TAPNC" -v 127.0.0.1 5050 || bad=1
expect_error tapnc-ehost "unicast" "240\.0\.0\.1" "reserved" -- "$TAPNC" -v 240.0.0.1 5050 || bad=1
expect_error tapnc-self "unicast" "10\.0\.0\.2" "own address" -- "$TAPNC" -v 10.0.0.2 5050 || bad=1
expect_error tapnc-pcapstdout "--pcap -" "stdout" -- "$TAPNC" -v --pcap - -l 5050 || bad=1
expect_error tapnc-svgstdout "--ladder-svg /dev/stdout" "stdout" -- "$TAPNC" -v --ladder-svg /dev/stdout -l 5050 || bad=1
expect_error tapnc-pcapsame "--pcap $TMP/tapnc-pcapsame\.out" "stdout" -- "$TAPNC" -v --pcap "$TMP/tapnc-pcapsame.out" 10.0.0.1 5050 || bad=1
expect_error tapnc-unknown "^tapnc: invalid option -- 'x'" -- "$TAPNC" -v -x || bad=1
expect_error tapd-unknown "^tapd: unrecognized option '--bogus'" -- "$TAPD" -v --bogus || bad=1
expect_error tapd-extra "unexpected argument" -- "$TAPD" -v 7 || bad=1
expect_error tapd-l "invalid option" -- "$TAPD" -v -l 7 || bad=1
expect_error tapd-conns-4 "--max-conns 4 leaves no room" "at least 5" -- "$TAPD" -v --max-conns 4 || bad=1
expect_error tapd-noecho-arg "no-echo" "doesn't allow an argument" -- "$TAPD" -v --no-echo=yes || bad=1
only_lo "tapnc and tapd with a bad command line"
[ $bad -eq 0 ] && pass "tapnc -l 0, ' 5050', +5050, 5050x, -l alone, -l with -p, -k alone, -w 0, ' 5', 86401, -w alone, -p 0, HOST alone, an extra argument, '' as HOST or PORT, HOST 127.0.0.1, 240.0.0.1 or the stack's own, --pcap - with -l, --ladder-svg /dev/stdout, --pcap naming the file stdout is, -x; tapd 7, -l, --max-conns 4 (its 4 listeners), --no-echo=yes, --bogus: exit 1 with a message"

# ---- 2. files that fail while running ----

# --pcap on a file system that fills up during the run: told at the first
# failure, the capture stops, the connection's data still arrives whole,
# and the exit status is 1.
mkdir -p "$TMP/small"
head -c 400000 /dev/urandom >"$TMP/400k"
start_bg "$NS" pcapfull sh -c 'mount -t tmpfs -o size=64k synack-small "$0" && exec "$@"' \
    "$TMP/small" "$TAPNC" -l 5050 --pcap "$TMP/small/cap.pcap"
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
ns_exec "$NS" timeout 10 nc -N "$STACK_IP" 5050 <"$TMP/400k" || fail "nc could not send 400 kB to tapnc -l"
wait_exit "$PID" 10 || fail "tapnc -l --pcap (file system full) did not exit after the connection"
n=$(grep -c "cannot write the pcap file $TMP/small/cap.pcap: No space left on device" "$TMP/pcapfull.err")
if [ "$EXIT_CODE" -ne 1 ] || [ "$n" != 1 ]; then
    show "$TMP/pcapfull.err"
    soft_fail "pcap file system full: exit $EXIT_CODE and $n 'cannot write the pcap file' lines, expected 1 and 1"
elif [ "$(sha "$TMP/pcapfull.out")" != "$(sha "$TMP/400k")" ]; then
    soft_fail "pcap file system full: the connection's data did not arrive whole ($(wc -c <"$TMP/pcapfull.out") bytes)"
else
    pass "--pcap on a file system that fills: told once ('$(head -n 1 "$TMP/pcapfull.err")'), the data arrives whole, exit 1"
fi

# --ladder-svg to a file that takes no data: the SVG is written when the
# connection ends and fails; told, exit 1.
start_bg "$NS" svgfull "$TAPNC" -l 5050 --ladder-svg /dev/full
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
echo hello | ns_exec "$NS" timeout 5 nc -N "$STACK_IP" 5050 || fail "nc could not send to tapnc -l --ladder-svg"
wait_exit "$PID" 10 || fail "tapnc -l --ladder-svg /dev/full did not exit after the connection"
if [ "$EXIT_CODE" -ne 1 ] || ! grep -q "cannot write the ladder SVG /dev/full: No space left" "$TMP/svgfull.err"; then
    show "$TMP/svgfull.err"
    soft_fail "--ladder-svg /dev/full: exit $EXIT_CODE, expected 1 with 'cannot write the ladder SVG /dev/full: No space left'"
else
    pass "--ladder-svg /dev/full: '$(grep -m1 'ladder SVG' "$TMP/svgfull.err")', exit 1"
fi

# --ladder-svg is made at start; a run without a connection leaves an SVG
# that says so, and exits 0.
start_bg "$NS" svgnone "$TAPNC" --ladder-svg "$TMP/none.svg"
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
[ -e "$TMP/none.svg" ] || soft_fail "--ladder-svg: $TMP/none.svg was not created at start"
kill -TERM "$PID"
wait_exit "$PID" 8 || fail "tapnc --ladder-svg did not stop on SIGTERM"
if [ "$EXIT_CODE" = 0 ] && grep -q "<svg.*no TCP connection was seen.*</svg>" <(tr -d '\n' <"$TMP/none.svg"); then
    pass "--ladder-svg without a connection: the file made at start says 'no TCP connection was seen', exit 0"
else
    show "$TMP/svgnone.err" "$TMP/none.svg"
    soft_fail "--ladder-svg without a connection: exit $EXIT_CODE, or no valid SVG saying so"
fi

# stdout closed, full, or a pipe whose reader left: what the peer sent is
# not dropped unsaid.
stdout_case()
{
    local name=$1 port=$2 redirect=$3 expect=$4
    start_bg "$NS" "$name" bash -c "exec '$TAPNC' -l $port $redirect"
    PID=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
    head -c 100000 /dev/zero | ns_exec "$NS" timeout 5 nc -N "$STACK_IP" "$port" >/dev/null 2>&1
    wait_exit "$PID" 10 || fail "$name: tapnc -l did not exit"
    if [ "$EXIT_CODE" -eq 0 ] || ! grep -q "tapnc: write to stdout failed: $expect" "$TMP/$name.err"; then
        show "$TMP/$name.err"
        soft_fail "$name: tapnc -l $redirect exited $EXIT_CODE; expected non-zero and 'write to stdout failed: $expect'"
        return 1
    fi
    log "$name: exit $EXIT_CODE: $(head -n 1 "$TMP/$name.err")"
}
bad=0
stdout_case closed 5051 ">&-" "Bad file descriptor" || bad=1
stdout_case full 5052 ">/dev/full" "No space left on device" || bad=1
stdout_case pipe 5053 "| head -c 5 >/dev/null; exit \${PIPESTATUS[0]}" "Broken pipe" || bad=1
[ $bad -eq 0 ] && pass "tapnc -l with stdout closed, /dev/full, or piped to head -c 5: 'write to stdout failed: ...', exit non-zero"

# ---- 3. a second instance on a subnet in use ----
start_bg "$NS" first "$TAPNC"
FIRST=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$FIRST"
bad=0
expect_error second "10\.0\.0\.0/24 is already on tap0" "--addr 10\.0\.1\.2/24 --host-addr 10\.0\.1\.1/24" -- "$TAPNC" -v --tap 'tap%d' || bad=1
expect_error second-tapd "already on tap0" -- "$TAPD" -v --tap tapd9 --addr 10.0.0.3/24 --host-addr 10.0.0.4/24 || bad=1
ip -n "$NS" -o link show | grep -qE ': (tap1|tapd9)[:@]' && { soft_fail "the refused instance left its TAP behind"; bad=1; }
kill -0 "$FIRST" 2>/dev/null || fail "the first tapnc died when a second one was refused"
[ $bad -eq 0 ] && pass "a second tapnc or tapd on 10.0.0.0/24 (tap%d, or another name and address): refused, naming tap0 and a free subnet"
# The stack's own address already local on an interface (here lo): the
# kernel would answer for it and never send a frame to the stack.
ip -n "$NS" addr add 10.0.1.2/32 dev lo || fail "ip addr add 10.0.1.2/32 dev lo failed"
expect_error local "10\.0\.1\.2 is already an address of this host, on lo" -- "$TAPNC" -v --tap 'tap%d' --addr 10.0.1.2/24 --host-addr 10.0.1.1/24 || bad=1
ip -n "$NS" addr del 10.0.1.2/32 dev lo
[ $bad -eq 0 ] && pass "the stack's address already on lo: refused, naming it"
# Another subnet is fine, beside the first.
start_bg "$NS" other "$TAPNC" --tap 'tap%d' --addr 10.0.1.2/24 --host-addr 10.0.1.1/24
OTHER=$BG_LAST
wait_tap_up "$NS" tap1 10.0.1.1 "$OTHER"
ns_exec "$NS" ping -c 1 -W 2 10.0.1.2 >/dev/null || fail "the second instance on 10.0.1.0/24 does not answer ping"
ns_exec "$NS" ping -c 1 -W 2 "$STACK_IP" >/dev/null || fail "the first instance stopped answering ping"
pass "a second instance on 10.0.1.0/24 (tap1) runs beside the first; both answer ping"
kill -TERM "$FIRST" "$OTHER"
wait_exit "$FIRST" 8 && wait_exit "$OTHER" 8 || fail "tapnc did not stop on SIGTERM"

# ---- 4. limits told once ----
# tapd with room for its 4 listeners and 2 connections; 8 host clients
# hold their connections open: SYNs are dropped, the limit is told once.
start_bg "$NS" limited "$TAPD" --max-conns 6
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
fifo clients 7
CLIENTS=()
for i in 1 2 3 4 5 6 7 8; do
    BG_IN=$TMP/clients start_bg "$NS" client$i nc "$STACK_IP" 7
    CLIENTS+=("$BG_LAST")
done
wait_for 5 grep -q "connection limit reached" "$TMP/limited.err"
sleep 2 # the clients' SYN retransmissions: still one line
n=$(grep -c "limit" "$TMP/limited.err")
if [ "$n" = 1 ] && grep -qx "tapd: connection limit reached: SYNs are being dropped (see --max-conns)" "$TMP/limited.err"; then
    pass "tapd --max-conns 6, 8 clients: '$(cat "$TMP/limited.err")', once"
else
    show "$TMP/limited.err"
    soft_fail "tapd --max-conns 6, 8 clients: $n lines about a limit, expected exactly 'tapd: connection limit reached: SYNs are being dropped (see --max-conns)'"
fi
exec 7>&-
kill -TERM "$PID" "${CLIENTS[@]}" 2>/dev/null
wait_exit "$PID" 8 || fail "tapd did not stop on SIGTERM"
stop_all

# tapnc to a neighbour that never answers ARP, with room for one frame:
# the SYN's first retransmission (1 s) finds the queue full and is dropped,
# before ARP gives up (3 s, when the default queue would drop); told once.
start_bg "$NS" noarp "$TAPNC" --arp-pending 1 -w 5 10.0.0.9 5050
PID=$BG_LAST
wait_for 2 grep -q "waiting for ARP" "$TMP/noarp.err" ||
    soft_fail "tapnc --arp-pending 1: no 'waiting for ARP' within 2 s (a full queue of 1 at the first retransmission)"
wait_exit "$PID" 10 || fail "tapnc -w 5 to a silent neighbour did not give up"
n=$(grep -c "waiting for ARP" "$TMP/noarp.err")
if [ "$n" = 1 ]; then
    pass "tapnc --arp-pending 1 to a silent neighbour: '$(grep 'ARP' "$TMP/noarp.err")', once"
else
    show "$TMP/noarp.err"
    soft_fail "tapnc --arp-pending 1 to a silent neighbour: $n lines about ARP, expected 1"
fi

finish
