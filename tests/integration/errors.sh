#!/bin/bash
# errors.sh - bad options and missing permissions give a message naming the
# problem and exit 1, without creating a TAP; a TAP deleted under a running
# program makes it exit non-zero, saying so, without hanging.
. "$(dirname "$0")/lib.sh"
require_root
require_tools setpriv
require_nobody

ns_create
NS=$NS_LAST

# Bad option values, for both programs (they share the stack options).
for prog in tapnc tapd; do
    bin=$TAPNC
    [ $prog = tapd ] && bin=$TAPD
    bad=0
    expect_error $prog-addr "bad --addr" "10\.0\.0\.300" -- "$bin" --addr 10.0.0.300/24 || bad=1
    expect_error $prog-mtu "bad --mtu" "99" -- "$bin" --mtu 99 || bad=1
    expect_error $prog-tapname "too long" "abcdefghijklmnop" -- "$bin" --tap abcdefghijklmnop || bad=1
    expect_error $prog-same "10\.0\.0\.1" "share|same" -- "$bin" --addr 10.0.0.1/24 || bad=1
    expect_error $prog-subnet "subnet" -- "$bin" --addr 10.0.1.2/24 || bad=1
    expect_error $prog-unknown "bogus" -- "$bin" --bogus || bad=1
    only_lo "$prog with bad options"
    [ $bad -eq 0 ] && pass "$prog: bad --addr, --mtu 99, a 16-char --tap, shared address, two subnets, unknown option: exit 1 with a message"
    # A malformed --impair (docs/impair.md): the message names the item.
    bad=0
    expect_error $prog-impair-abc "bad --impair" "'loss=abc'" "percentage" -- "$bin" --impair loss=abc || bad=1
    expect_error $prog-impair-150 "bad --impair" "'loss=150%'" "0% to 100%" -- "$bin" --impair loss=150% || bad=1
    expect_error $prog-impair-bogus "bad --impair" "unknown key 'bogus'" -- "$bin" --impair bogus=1 || bad=1
    expect_error $prog-impair-neg "bad --impair" "'delay=-5ms'" "duration" -- "$bin" --impair delay=-5ms || bad=1
    expect_error $prog-impair-mix "bad --impair" "'delay=10ms'" "'in:loss=5%'" -- "$bin" --impair in:loss=5%,delay=10ms || bad=1
    expect_error $prog-impair-second "bad --impair" "'rate=100mbps'" -- "$bin" --impair loss=1% --impair rate=100mbps || bad=1
    only_lo "$prog with a malformed --impair"
    [ $bad -eq 0 ] && pass "$prog: --impair loss=abc, loss=150%, bogus=1, delay=-5ms, in:loss=5%,delay=10ms, a bad second --impair: exit 1 naming the item"
    # The TCP options: sizes 1024 to 1G with K, M, G; keep-alive's three
    # numbers; a known algorithm.
    bad=0
    expect_error $prog-rcvbuf-small "bad --rcvbuf" "'1000'" "1024" -- "$bin" --rcvbuf 1000 || bad=1
    expect_error $prog-rcvbuf-big "bad --rcvbuf" "'2G'" "1G" -- "$bin" --rcvbuf 2G || bad=1
    expect_error $prog-rcvbuf-over "bad --rcvbuf" "'1025M'" -- "$bin" --rcvbuf 1025M || bad=1
    expect_error $prog-sndbuf-unit "bad --sndbuf" "'4MB'" "4M" -- "$bin" --sndbuf 4MB || bad=1
    expect_error $prog-sndbuf-neg "bad --sndbuf" "'-65536'" -- "$bin" --sndbuf -65536 || bad=1
    expect_error $prog-sndbuf-empty "bad --sndbuf" -- "$bin" --sndbuf= || bad=1
    expect_error $prog-ka-two "bad --keepalive" "'10,2'" "IDLE,INTERVAL,COUNT" -- "$bin" --keepalive 10,2 || bad=1
    expect_error $prog-ka-four "bad --keepalive" "'10,2,3,4'" -- "$bin" --keepalive 10,2,3,4 || bad=1
    expect_error $prog-ka-zero "bad --keepalive" "'0,2,3'" "1 to 32767" -- "$bin" --keepalive 0,2,3 || bad=1
    expect_error $prog-ka-count "bad --keepalive" "'10,2,128'" "1 to 127" -- "$bin" --keepalive 10,2,128 || bad=1
    expect_error $prog-ka-unit "bad --keepalive" "'10s,2,3'" -- "$bin" --keepalive 10s,2,3 || bad=1
    expect_error $prog-ka-big "bad --keepalive" "'32768,2,3'" -- "$bin" --keepalive 32768,2,3 || bad=1
    expect_error $prog-cc "bad --cc" "'bbr'" "cubic or newreno" -- "$bin" --cc bbr || bad=1
    expect_error $prog-cc-none "--cc" "requires an argument" -- "$bin" --cc || bad=1
    only_lo "$prog with a bad TCP option"
    [ $bad -eq 0 ] && pass "$prog: --rcvbuf 1000, 2G, 1025M, --sndbuf 4MB, -65536, empty, --keepalive 10,2, 10,2,3,4, 0,2,3, 10,2,128, 10s,2,3, 32768,2,3, --cc bbr, --cc alone: exit 1 with a message"
done
expect_error tapnc-port "port" "70000" -- "$TAPNC" -l 70000 &&
    expect_error tapnc-host "HOST|address" "name\.example" -- "$TAPNC" name.example 80 &&
    pass "tapnc: bad port and non-numeric HOST: exit 1 with a message"
# HOST PORT means connect whatever HOST is (0.0.0.0 once meant ping-only
# mode, silently); a HOST that is no one host is refused before any TAP.
bad=0
expect_error tapnc-any "unicast" "0\.0\.0\.0" -- "$TAPNC" -v 0.0.0.0 5050 || bad=1
expect_error tapnc-bcast "unicast" "255\.255\.255\.255.*broadcast" -- "$TAPNC" -v 255.255.255.255 5050 || bad=1
expect_error tapnc-netbcast "unicast" "10\.0\.0\.255.*broadcast" -- "$TAPNC" -v 10.0.0.255 5050 || bad=1
expect_error tapnc-netbcast25 "unicast" "10\.0\.0\.127.*broadcast" -- "$TAPNC" -v --addr 10.0.0.2/25 10.0.0.127 5050 || bad=1
expect_error tapnc-network "unicast" "10\.0\.0\.0.*network address" -- "$TAPNC" -v 10.0.0.0 5050 || bad=1
expect_error tapnc-mcast "unicast" "224\.0\.0\.1.*multicast" -- "$TAPNC" -v 224.0.0.1 5050 || bad=1
expect_error tapnc-wping "-w" "-l|HOST" -- "$TAPNC" -v -w 1 || bad=1
only_lo "tapnc with a HOST that is no unicast address"
# Refused before any TAP was made: -v never announced the stack on one.
for n in any bcast netbcast netbcast25 network mcast wping; do
    if grep -q ' on tap0 ' "$TMP/tapnc-$n.err"; then
        show "$TMP/tapnc-$n.err"
        soft_fail "tapnc-$n: a TAP was brought up before the error"
        bad=1
    fi
done
[ $bad -eq 0 ] && pass "tapnc HOST 0.0.0.0, 255.255.255.255, the subnet's broadcast (/24 and /25) and network address, 224.0.0.1; -w without a connection: exit 1 with a message, before any TAP"

# No permission to create a TAP: nobody, /dev/net/tun open to all (as on
# distributions) but no CAP_NET_ADMIN.
expect_error nobody-create "no permission" "CAP_NET_ADMIN" -- "${WITH_TUN[@]}" 0666 "${NOBODY[@]}" "$TAPNC" &&
    pass "tapnc as nobody, no persistent TAP: exit 1, 'no permission' and 'CAP_NET_ADMIN'"

# /dev/net/tun itself closed to nobody (mode 0600, as in some containers):
# no permission to create a TAP either; the message must say so and where.
expect_error nobody-devtun "no permission" "/dev/net/tun" -- "${WITH_TUN[@]}" 0600 "${NOBODY[@]}" "$TAPNC" &&
    pass "tapnc as nobody, /dev/net/tun mode 0600: exit 1, 'no permission' and '/dev/net/tun'"

# A persistent TAP owned by another user (root): nobody may not attach.
ip -n "$NS" tuntap add dev taproot mode tap user root || fail "ip tuntap add taproot user root failed"
expect_error nobody-attach "no permission" "taproot" -- "${WITH_TUN[@]}" 0666 "${NOBODY[@]}" "$TAPNC" --tap taproot &&
    pass "tapnc as nobody on root's persistent TAP: exit 1, 'no permission'"
ip -n "$NS" link del taproot

# nobody's own persistent TAP, but not configured: nobody cannot set the
# host side's address; the message says how to configure it beforehand.
ip -n "$NS" tuntap add dev tapbare mode tap user nobody || fail "ip tuntap add tapbare user nobody failed"
expect_error nobody-unconf "no permission" "ip addr add" -- "${WITH_TUN[@]}" 0666 "${NOBODY[@]}" "$TAPNC" --tap tapbare &&
    pass "tapnc as nobody on its unconfigured persistent TAP: exit 1, 'no permission', how to configure it"
ip -n "$NS" link del tapbare
only_lo "the permission checks"

# A name that exists but is no TAP: a dummy device (or a veth if the dummy
# module is missing), and a TUN.
if ip -n "$NS" link add notatap type dummy 2>/dev/null; then
    kind=dummy
else
    ip -n "$NS" link add notatap type veth peer name notatap-peer || fail "cannot create a dummy or a veth device"
    kind=veth
fi
expect_error notatap "not a TAP" "notatap" -- "$TAPNC" --tap notatap &&
    pass "--tap naming a $kind device: exit 1, 'not a TAP'"
ip -n "$NS" link del notatap
ip -n "$NS" tuntap add dev tun9 mode tun || fail "ip tuntap add tun9 mode tun failed"
expect_error tun "TUN" -- "$TAPNC" --tap tun9 &&
    pass "--tap naming a TUN device: exit 1, message says it is a TUN"
ip -n "$NS" link del tun9
only_lo "the device checks"

# The TAP deleted while running: exit non-zero with "went away", quickly.
for prog in tapnc tapd; do
    bin=$TAPNC
    [ $prog = tapd ] && bin=$TAPD
    start_bg "$NS" $prog-run "$bin"
    PID=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
    if [ $prog = tapnc ]; then
        # A second program on the same TAP: it is in use.
        expect_error busy "tap0" "in use|busy" -- "$TAPNC" &&
            pass "a second tapnc on a TAP in use: exit 1, says it is in use"
        kill -0 "$PID" 2>/dev/null || fail "the first tapnc died when a second one tried its TAP"
    fi
    ip -n "$NS" link del tap0 || fail "ip link del tap0 failed"
    wait_exit "$PID" 5 || fail "$prog still running 5 s after its TAP was deleted"
    [ "$EXIT_CODE" -ne 0 ] || fail "$prog exited 0 after its TAP was deleted, expected non-zero"
    grep -q "went away" "$TMP/$prog-run.err" || { show "$TMP/$prog-run.err"; fail "$prog: no 'went away' message after the TAP was deleted"; }
    log "$prog: exit $EXIT_CODE: $(head -n 1 "$TMP/$prog-run.err")"
    pass "$prog: TAP deleted under it: exit $EXIT_CODE with 'went away'"
done

# The same for a tapnc with an open connection (data pending both ways).
start_bg "$NS" listen "$TAPNC" -l 5050
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
start_bg "$NS" conn timeout 10 bash -c "exec 3<>/dev/tcp/$STACK_IP/5050 && echo hello >&3 && sleep 1"
wait_for 5 grep -q hello "$TMP/listen.out" || fail "the connection to tapnc -l did not carry its line"
ip -n "$NS" link del tap0 || fail "ip link del tap0 failed"
wait_exit "$PID" 5 || fail "tapnc -l (connected) still running 5 s after its TAP was deleted"
[ "$EXIT_CODE" -ne 0 ] || fail "tapnc -l (connected) exited 0 after its TAP was deleted"
grep -q "went away" "$TMP/listen.err" || { show "$TMP/listen.err"; fail "tapnc -l (connected): no 'went away' message"; }
pass "tapnc -l with a connection: TAP deleted: exit $EXIT_CODE with 'went away'"

finish
