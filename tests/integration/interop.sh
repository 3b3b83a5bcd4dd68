#!/bin/bash
# interop.sh - synack against a host kernel that has switched TCP options
# off: first nothing off, then net.ipv4.tcp_sack=0, then
# net.ipv4.tcp_timestamps=0, then net.ipv4.tcp_window_scaling=0, each in a
# namespace of its own (these sysctls are per namespace).  In each:
#   - INTEROP_MB MiB (default 4) each way over 1% random loss, checked by
#     sha256: host nc -N -> tapnc -l, and tapnc -N -> host nc -l;
#   - tcpdump on tap0 shows the handshakes' options as RFC 2018 (SACK) and
#     RFC 7323 (timestamps, window scale) want them: synack offers all in its
#     SYN, answers in its SYN-ACK only what the host's SYN offered, and uses
#     on later segments only what both agreed on;
#   - synack's data never goes beyond the right edge of the window the host
#     advertised (scaled only when both SYNs had wscale), and with window
#     scaling off its own window is sent unscaled.
#
# The loss: nftables rules drop 1% of the frames crossing tap0 each way on
# the host's side.  A rule in the output hook drops the host's packet inside
# the host, whose TCP just sends it again, so synack would never see a hole
# in what it receives.  For host -> stack, tapnc adds --impair in:loss=1%
# (frames lost after they left the host): synack then holds out-of-order
# data, which is when it would send SACK blocks if it wrongly did so.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc sha256sum ss tcpdump nft sysctl

MB=${INTEROP_MB:-4}
LIMIT=60 # seconds, for any one transfer
head -c $((MB * 1024 * 1024)) /dev/urandom >"$TMP/data" || fail "cannot make the test data"
WANT=$(sha "$TMP/data")

# opts LINE: the options of a tcpdump line, "" if it has none.
opts() { sed -n 's/.*options \[\([^]]*\)\].*/\1/p' <<<"$1"; }

# has NAME WHAT OPTIONS TOKEN...: each TOKEN (an ERE) is in OPTIONS.
has()
{
    local name=$1 what=$2 o=$3 t
    shift 3
    for t in "$@"; do
        grep -Eq "(^|,)$t" <<<"$o" || { soft_fail "$name: $what lacks '$t': [$o]"; return; }
    done
    pass "$name: $what has $(sed 's/ \[0-9\]+//g' <<<"$*") [$o]"
}
# lacks NAME WHAT OPTIONS TOKEN...: no TOKEN is in OPTIONS.
lacks()
{
    local name=$1 what=$2 o=$3 t
    shift 3
    for t in "$@"; do
        grep -Eq "(^|,)$t" <<<"$o" && { soft_fail "$name: $what has '$t', which it must not: [$o]"; return; }
    done
    pass "$name: $what has no $* [$o]"
}

# run_config NAME [SYSCTL=VALUE]: the two transfers and the checks.
run_config()
{
    local name=$1 setting=${2:-} ns txt port syn synack rest scale nd
    ns_create
    ns=$NS_LAST
    if [ -n "$setting" ]; then
        ns_exec "$ns" sysctl -q -w "$setting" || fail "$name: sysctl -w $setting failed"
        [ "$(ns_exec "$ns" sysctl -n "${setting%=*}")" = "${setting#*=}" ] || fail "$name: $setting did not hold"
    fi
    # A persistent tap0, so that tcpdump can watch it before tapnc starts
    # (tapnc attaches to it; each run's tapnc has a new MAC, so the host's
    # neighbour entry is flushed before each).
    ip -n "$ns" tuntap add dev tap0 mode tap || fail "$name: ip tuntap add failed"
    ip -n "$ns" addr add "$HOST_IP/24" dev tap0 || fail "$name: ip addr add failed"
    ip -n "$ns" link set tap0 up || fail "$name: ip link set up failed"
    ns_exec "$ns" nft -f - <<'EOF' || fail "$name: nft: cannot load the loss rules"
table inet synack_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "tap0" numgen random mod 100 < 1 counter drop
    }
    chain output {
        type filter hook output priority 0; policy accept;
        oifname "tap0" numgen random mod 100 < 1 counter drop
    }
}
EOF
    # Headers only (-s 128), a big buffer (-B, KiB), every packet written
    # at once: a packet the capture missed would make the window check
    # below see too small a window.
    start_bg "$ns" "$name-tcpdump" tcpdump -i tap0 -nn -s 128 -B 32768 -U --immediate-mode \
        -w "$TMP/$name.pcap" tcp
    local td=$BG_LAST
    wait_for 5 grep -q "listening on tap0" "$TMP/$name-tcpdump.err" ||
        { show "$TMP/$name-tcpdump.err"; fail "$name: tcpdump did not start"; }

    # host -> stack, port 5001.
    start_bg "$ns" "$name-h2s-rx" timeout $LIMIT "$TAPNC" --tap tap0 -v --impair "in:loss=1%,seed=3" -l 5001
    local rx=$BG_LAST
    wait_for 5 grep -q "Listening on" "$TMP/$name-h2s-rx.err" ||
        { show "$TMP/$name-h2s-rx.err"; fail "$name: tapnc -l 5001 is not listening"; }
    ns_exec "$ns" timeout $LIMIT nc -n -N "$STACK_IP" 5001 <"$TMP/data" 2>"$TMP/$name-h2s-tx.err" ||
        { show "$TMP/$name-h2s-tx.err" "$TMP/$name-h2s-rx.err"; fail "$name: host -> stack: host nc failed"; }
    wait_exit "$rx" 10 || fail "$name: host -> stack: tapnc -l still running 10 s after the host closed"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-h2s-rx.err"; fail "$name: host -> stack: tapnc exited $EXIT_CODE"; }
    [ "$(sha "$TMP/$name-h2s-rx.out")" = "$WANT" ] ||
        fail "$name: host -> stack: $(stat -c %s "$TMP/$name-h2s-rx.out") bytes arrived, sha256 differs"
    pass "$name: host -> stack, $MB MiB, sha256 equal"

    # stack -> host, port 6001.  --no-offload: one segment per frame, so
    # the host ACKs some 1,400 of them and the 1% rules meet enough frames
    # each way (with TSO frames of 64 KiB the host sent so few ACKs that
    # now and then none was dropped, and the check below failed).
    ip -n "$ns" neigh flush dev tap0
    start_bg "$ns" "$name-s2h-rx" timeout $LIMIT nc -n -l 6001
    rx=$BG_LAST
    wait_listen "$ns" 6001 || fail "$name: host nc -l 6001 is not listening"
    BG_IN=$TMP/data start_bg "$ns" "$name-s2h-tx" timeout $LIMIT "$TAPNC" --tap tap0 -v --no-offload \
        -N "$HOST_IP" 6001
    local tx=$BG_LAST
    wait_exit "$rx" $((LIMIT + 5)) || fail "$name: stack -> host: host nc -l still running after $LIMIT s"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-s2h-tx.err"; fail "$name: stack -> host: host nc exited $EXIT_CODE"; }
    wait_exit "$tx" 10 || fail "$name: stack -> host: tapnc -N still running 10 s after the host closed"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-s2h-tx.err"; fail "$name: stack -> host: tapnc exited $EXIT_CODE"; }
    [ "$(sha "$TMP/$name-s2h-rx.out")" = "$WANT" ] ||
        fail "$name: stack -> host: $(stat -c %s "$TMP/$name-s2h-rx.out") bytes arrived, sha256 differs"
    pass "$name: stack -> host, $MB MiB, sha256 equal"

    # The last ACKs are on the wire by now; tcpdump flushes each packet.
    sleep 0.2
    kill -INT "$td"
    wait_exit "$td" 5 || fail "$name: tcpdump did not stop on SIGINT"
    nd=$(sed -n 's/^\([0-9]*\) packets dropped by kernel$/\1/p' "$TMP/$name-tcpdump.err")
    [ "${nd:-0}" -eq 0 ] || soft_fail "$name: tcpdump missed $nd packets; the window check may be wrong"
    local din dout
    read -r din dout < <(ns_exec "$ns" nft list table inet synack_loss |
        awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n[$1] = $(i + 1) }
             END { printf "%d %d\n", n["iifname"], n["oifname"] }')
    [ "$din" -gt 0 ] && [ "$dout" -gt 0 ] ||
        soft_fail "$name: nftables dropped $din frames in and $dout out; the loss did not happen"
    log "$name: nftables dropped $din frames from synack and $dout from the host;" \
        "--impair dropped $(awk '$0 ~ /in: frames dropped \(loss\)$/ { print $1 }' "$TMP/$name-h2s-rx.err") host frames"

    txt=$TMP/$name.txt
    tcpdump -nn -r "$TMP/$name.pcap" >"$txt" 2>/dev/null || fail "$name: tcpdump cannot read its capture"

    # --- host -> stack: the host's SYN and synack's SYN-ACK.
    syn=$(grep -m1 -F "> $STACK_IP.5001: Flags [S]," "$txt")
    synack=$(grep -m1 -F "IP $STACK_IP.5001 > " "$txt" | grep -F "Flags [S.],")
    [ -n "$syn" ] && [ -n "$synack" ] || { show "$txt"; fail "$name: no SYN or SYN-ACK on port 5001 in the capture"; }
    # --- stack -> host: synack's SYN and the host's SYN-ACK.
    local syn2 synack2
    syn2=$(grep -F "> $HOST_IP.6001: Flags [S]," "$txt" | grep -m1 -F "IP $STACK_IP.")
    synack2=$(grep -m1 -F "IP $HOST_IP.6001 > " "$txt" | grep -F "Flags [S.],")
    [ -n "$syn2" ] && [ -n "$synack2" ] || { show "$txt"; fail "$name: no SYN or SYN-ACK on port 6001 in the capture"; }
    # synack always offers everything in its own SYN.
    has "$name" "synack's SYN" "$(opts "$syn2")" "mss [0-9]+" sackOK "TS val" "wscale [0-9]+"

    # Segments after the handshake, from synack and from the host.
    local from_us from_host
    from_us=$(grep -F "IP $STACK_IP." "$txt" | grep -v "Flags \[S")
    from_host=$(grep -F "IP $HOST_IP." "$txt" | grep -v "Flags \[S")

    case $name in
    all-on)
        has "$name" "the host's SYN" "$(opts "$syn")" "mss [0-9]+" sackOK "TS val" "wscale [0-9]+"
        has "$name" "synack's SYN-ACK" "$(opts "$synack")" "mss [0-9]+" sackOK "TS val" "wscale [0-9]+"
        has "$name" "the host's SYN-ACK" "$(opts "$synack2")" "mss [0-9]+" sackOK "TS val" "wscale [0-9]+"
        # RFC 7323 3.2: once agreed, TSopt on every segment but a RST.
        rest=$(grep -v "TS val" <<<"$from_us" | grep -v "Flags \[R")
        if [ -z "$rest" ]; then
            pass "$name: every segment from synack after the SYN carries TS val"
        else
            soft_fail "$name: $(grep -c . <<<"$rest") segments from synack lack TS val, e.g.: $(head -1 <<<"$rest")"
        fi
        # With holes to report (--impair), synack sends SACK blocks.
        if grep -F "IP $STACK_IP.5001 > " <<<"$from_us" | grep -Eq "sack [0-9]+ \{"; then
            pass "$name: synack sent SACK blocks for the holes in what it received"
        else
            soft_fail "$name: synack never sent a SACK block, though --impair made holes"
        fi
        ;;
    sack-off)
        lacks "$name" "the host's SYN" "$(opts "$syn")" sackOK
        lacks "$name" "synack's SYN-ACK" "$(opts "$synack")" sackOK
        has "$name" "synack's SYN-ACK" "$(opts "$synack")" "mss [0-9]+" "TS val" "wscale [0-9]+"
        lacks "$name" "the host's SYN-ACK" "$(opts "$synack2")" sackOK
        rest=$(grep -E "sack [0-9]+ \{" <<<"$from_us")
        if [ -z "$rest" ]; then
            pass "$name: no SACK block from synack (SACK not agreed), though it had holes"
        else
            soft_fail "$name: synack sent $(grep -c . <<<"$rest") SACK blocks without SACK agreed: $(head -1 <<<"$rest")"
        fi
        ;;
    ts-off)
        lacks "$name" "the host's SYN" "$(opts "$syn")" "TS val"
        lacks "$name" "synack's SYN-ACK" "$(opts "$synack")" "TS val"
        has "$name" "synack's SYN-ACK" "$(opts "$synack")" "mss [0-9]+" sackOK "wscale [0-9]+"
        lacks "$name" "the host's SYN-ACK" "$(opts "$synack2")" "TS val"
        rest=$(printf '%s\n%s\n' "$from_us" "$from_host" | grep -F "TS val")
        if [ -z "$rest" ]; then
            pass "$name: no TS val on any segment after the SYNs"
        else
            soft_fail "$name: $(grep -c . <<<"$rest") segments after the SYNs carry TS val: $(head -1 <<<"$rest")"
        fi
        ;;
    ws-off)
        lacks "$name" "the host's SYN" "$(opts "$syn")" "wscale"
        lacks "$name" "synack's SYN-ACK" "$(opts "$synack")" "wscale"
        has "$name" "synack's SYN-ACK" "$(opts "$synack")" "mss [0-9]+" sackOK "TS val"
        lacks "$name" "the host's SYN-ACK" "$(opts "$synack2")" "wscale"
        # Unscaled, synack's window is its buffer (4 MiB) clamped to 65535;
        # scaled by mistake, it would be that shifted right (at most 32767
        # for any shift).
        local maxw
        maxw=$(grep -F "IP $STACK_IP.5001 > " <<<"$from_us" | sed -n 's/.* win \([0-9]*\),.*/\1/p' | sort -n | tail -1)
        if [ "${maxw:-0}" -le 65535 ] && [ "${maxw:-0}" -ge 32768 ]; then
            pass "$name: synack's window is unscaled (at most $maxw, <= 65535)"
        else
            soft_fail "$name: synack's largest window is ${maxw:-none}: not an unscaled window of its 4 MiB buffer"
        fi
        ;;
    esac

    # synack's data (port 6001) never beyond the host's right edge: the
    # largest ack + win << scale seen so far (the SYN-ACK's window is never
    # scaled, RFC 7323 2.2; tcpdump prints its ack absolute, and relative
    # numbers after it).  The capture sees the host's ACKs before synack
    # does, so the edge it computes is never behind synack's.
    scale=0
    if grep -q "wscale" <<<"$(opts "$syn2")" && grep -q "wscale" <<<"$(opts "$synack2")"; then
        scale=$(opts "$synack2" | sed -n 's/.*wscale \([0-9]*\).*/\1/p')
    fi
    local over
    over=$(awk -v us="IP $STACK_IP." -v host="IP $HOST_IP.6001 > " -v dport="> $HOST_IP.6001:" -v scale="$scale" '
        function num(re,   s) { if (!match($0, re)) return -1; s = substr($0, RSTART, RLENGTH); gsub(/[^0-9:]/, "", s); return s }
        index($0, host) {
            a = num("ack [0-9]+"); w = num("win [0-9]+")
            if (a < 0 || w < 0) next
            if ($0 ~ /Flags \[S/) e = 1 + w; else e = a + w * 2 ^ scale
            if (e > edge) edge = e
            next
        }
        index($0, us) && index($0, dport) && $0 ~ /seq [0-9]+:[0-9]+/ {
            split(num("seq [0-9]+:[0-9]+"), r, ":")
            if (r[2] + 0 > edge) { n++; if (n == 1) first = $0 " (edge " edge ")" }
        }
        END { if (n) print n " segments, first: " first }' "$txt")
    if [ -z "$over" ]; then
        pass "$name: synack's data stayed within the host's window (scale $scale)"
    else
        soft_fail "$name: synack sent beyond the host's window: $over"
    fi
}

run_config all-on
run_config sack-off net.ipv4.tcp_sack=0
run_config ts-off net.ipv4.tcp_timestamps=0
run_config ws-off net.ipv4.tcp_window_scaling=0
finish
