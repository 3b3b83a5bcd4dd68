#!/bin/bash
# offload.sh - TAP offloads and large frames, with the real kernel on the
# other side of the TAP:
#   1. by default tapd asks for the virtio-net header with checksum and TSO
#      offloads: -v says so, ethtool shows TSO on tap0, 64 MiB go each way
#      intact (sha256), and tcpdump on tap0 sees TCP frames longer than one
#      MTU in both directions (the kernel's TSO frames to synack, synack's
#      to the kernel); the kernel's frames were read straight into the
#      receive buffer (sk_rx_place), also with a window smaller than a TSO
#      frame (--rcvbuf 24K: a frame longer than the place is put together);
#   2. --no-offload: the same transfers, and no frame longer than the MTU;
#   3. --mtu 65520, with and without offloads: the transfers, and ping -s
#      60000 answered in one frame each way;
#   4. the frames of one round of the loop go out together: in the
#      --no-offload transfers of 2. tapd wrote its frames in batches of
#      several (io_uring, counted by -v at exit); --no-batch writes each
#      alone, and the transfers are as intact;
#   5. loss the sender cannot see: a sender in another namespace whose TSO
#      frames are forwarded to tap0, 3% of them dropped on the way; synack
#      holds out-of-order data while it reads the next frames in place,
#      and the echo comes back intact.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc tcpdump ethtool sha256sum ping nft

MB=${OFFLOAD_MB:-64}
head -c $((MB * 1024 * 1024)) /dev/urandom >"$TMP/data"
want=$(sha "$TMP/data")

# run NAME MTU [TAPD ARGS...]: tapd in a fresh namespace, tcpdump counting
# frame sizes on tap0, MB each way: into discard, through echo.
run()
{
    local name=$1 mtu=$2 ns td dump
    shift 2
    ns_create
    ns=$NS_LAST
    start_bg "$ns" "$name-tapd" "$TAPD" -v --mtu "$mtu" "$@"
    td=$BG_LAST
    wait_tap_up "$ns" tap0 "$HOST_IP" "$td"
    # Lengths only (tcpdump -q prints "length N" per frame).
    start_bg "$ns" "$name-dump" tcpdump -i tap0 -nn -q -l "tcp"
    dump=$BG_LAST
    wait_for 5 grep -q "listening on" "$TMP/$name-dump.err" || fail "$name: tcpdump did not start"
    ns_exec "$ns" timeout 60 nc -N "$STACK_IP" 9 <"$TMP/data" ||
        fail "$name: $MB MiB into tapd's discard failed"
    ns_exec "$ns" timeout 60 nc -N "$STACK_IP" 7 <"$TMP/data" >"$TMP/$name.echo" ||
        fail "$name: $MB MiB through tapd's echo failed"
    [ "$(sha "$TMP/$name.echo")" = "$want" ] ||
        fail "$name: the echo returned $(stat -c %s "$TMP/$name.echo") bytes, not the $MB MiB sent"
    sleep 0.3
    kill -TERM "$dump" 2>/dev/null
    wait "$dump" 2>/dev/null
    # The largest IP datagram each way (tcpdump -q: "IP a.p > b.p: tcp N",
    # N the TCP payload; the datagram adds the headers: compare payloads).
    IN_MAX=$(awk -v s="$STACK_IP" '$3 ~ "^"s"\\." && $NF ~ /^[0-9]+$/ { if ($NF > m) m = $NF } END { print m + 0 }' "$TMP/$name-dump.out")
    OUT_MAX=$(awk -v s="$STACK_IP" '$5 ~ "^"s"\\." && $NF ~ /^[0-9]+$/ { if ($NF > m) m = $NF } END { print m + 0 }' "$TMP/$name-dump.out")
    ETHTOOL=$(ns_exec "$ns" ethtool -k tap0 2>/dev/null | awk '/^tcp-segmentation-offload:/ { print $2 }')
    PING=
    if [ "$mtu" -ge 61000 ]; then
        PING=$(ns_exec "$ns" ping -c 2 -W 2 -s 60000 "$STACK_IP" | grep -c "bytes from") || true
    fi
    kill -TERM "$td"
    wait_exit "$td" 5 || fail "$name: tapd did not exit on SIGTERM"
    SAID=$(grep "offloads:" "$TMP/$name-tapd.err")
    OUT_SAID=$(grep "frames out:" "$TMP/$name-tapd.err")
    # "N frames written to the TAP in M batches (io_uring)", or nothing.
    read -r BATCHED BATCHES < <(awk '/frames written to the TAP in/ { print $1, $(NF - 2) }' "$TMP/$name-tapd.err")
    PLACED=$(awk '/TCP segments received in place/ { print $1 }' "$TMP/$name-tapd.err")
}

# 1. Offloads, by default.
run default 1500
echo "$SAID" | grep -q "checksums and TSO" || { show "$TMP/default-tapd.err"; fail "tapd -v did not say it has checksum and TSO offloads: $SAID"; }
[ "$ETHTOOL" = on ] || fail "ethtool -k tap0: tcp-segmentation-offload is '$ETHTOOL', not on"
[ "$OUT_MAX" -gt 1460 ] || fail "no TCP frame from synack carried more than one MTU's data (largest $OUT_MAX)"
[ "$IN_MAX" -gt 1460 ] || fail "no TCP frame from the kernel carried more than one MTU's data (largest $IN_MAX)"
pass "offloads: $MB MiB each way intact; TSO frames of up to $OUT_MAX bytes of data from synack, $IN_MAX from the kernel ($SAID)"
[ "${PLACED:-0}" -gt 100 ] || { show "$TMP/default-tapd.err"; fail "tapd received ${PLACED:-no} segments in place"; }
pass "offloads: $PLACED segments read straight into the receive buffer"
run smallwin 1500 --rcvbuf 24K
[ "${PLACED:-0}" -gt 0 ] || { show "$TMP/smallwin-tapd.err"; fail "--rcvbuf 24K: no segment received in place"; }
pass "offloads, --rcvbuf 24K: $MB MiB each way intact, $PLACED segments received in place"

# 2. --no-offload: one segment per frame.
run plain 1500 --no-offload
echo "$SAID" | grep -q "off (--no-offload)" || fail "tapd -v did not say offloads are off: $SAID"
[ "$OUT_MAX" -le 1460 ] || fail "--no-offload: synack sent $OUT_MAX bytes of data in one frame"
[ "$IN_MAX" -le 1460 ] || fail "--no-offload: the kernel sent $IN_MAX bytes of data in one frame"
pass "--no-offload: $MB MiB each way intact, no frame above the MTU (largest $OUT_MAX out, $IN_MAX in)"
# 4. Batches, in the transfers just made (tapd's data out of echo, its ACKs).
echo "$OUT_SAID" | grep -q "in batches (io_uring)" || { show "$TMP/plain-tapd.err"; fail "tapd -v did not say it writes frames in batches: $OUT_SAID"; }
[ -n "$BATCHES" ] && [ "$BATCHES" -gt 0 ] || { show "$TMP/plain-tapd.err"; fail "tapd counted no batch of frames"; }
per=$((BATCHED / BATCHES))
[ "$per" -ge 4 ] || fail "tapd wrote $BATCHED frames in $BATCHES batches: $per a batch, not at least 4"
pass "batches: tapd wrote $BATCHED frames in $BATCHES io_uring_enter() calls ($per a batch)"
run nobatch 1500 --no-offload --no-batch
echo "$OUT_SAID" | grep -q "one write each (--no-batch)" || fail "tapd -v did not say --no-batch: $OUT_SAID"
[ -z "$BATCHES" ] || fail "--no-batch: tapd still counted $BATCHES batches"
pass "--no-batch: $MB MiB each way intact, each frame written alone"

# 3. The largest MTU a TAP takes, with and without offloads.
for mode in offload plain; do
    args=()
    [ $mode = plain ] && args=(--no-offload)
    run "big-$mode" 65520 "${args[@]}"
    [ "$OUT_MAX" -gt 9000 ] || fail "--mtu 65520 ($mode): synack's largest frame carried $OUT_MAX bytes"
    [ "$PING" = 2 ] || fail "--mtu 65520 ($mode): ping -s 60000 got $PING of 2 answers"
    pass "--mtu 65520 ($mode): $MB MiB each way intact, frames of up to $OUT_MAX bytes of data, ping -s 60000 answered"
done
# 5. A sender, C, one hop away: NS forwards its frames to tap0 (masqueraded
# as the host side's address: synack has no route beyond its subnet) and
# drops 3% of them there, after the sender's TCP let them go, so they are
# lost as on a wire, not refused locally (a local drop is only retried).
veth_pair synack-fw 10.7.0.2/24 10.7.0.1/24
C=$VETH_A NS=$VETH_B
ip -n "$C" route add "${STACK_IP%.*}.0/24" via 10.7.0.1 || fail "no route from C"
ns_exec "$NS" sysctl -q -w net.ipv4.ip_forward=1 || fail "cannot forward in $NS"
start_bg "$NS" fw-tapd "$TAPD" -v
td=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$td"
ns_exec "$NS" nft -f - <<'EOF' || fail "nft: cannot load the forwarding rules"
table ip synack_fw {
    chain forward_loss {
        type filter hook forward priority 0; policy accept;
        iifname "synack-fw1" oifname "tap0" numgen random mod 100 < 3 counter drop
    }
    chain postrouting_nat {
        type nat hook postrouting priority 100; policy accept;
        oifname "tap0" masquerade
    }
}
EOF
ns_exec "$C" timeout 60 nc -N "$STACK_IP" 7 <"$TMP/data" >"$TMP/fw.echo" ||
    fail "forwarded, 3% loss: $MB MiB through tapd's echo failed"
[ "$(sha "$TMP/fw.echo")" = "$want" ] ||
    fail "forwarded, 3% loss: the echo returned $(stat -c %s "$TMP/fw.echo") bytes, not the $MB MiB sent, or other bytes"
dropped=$(ns_exec "$NS" nft list table ip synack_fw |
    awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1) }')
kill -TERM "$td"
wait_exit "$td" 5 || fail "forwarded: tapd did not exit on SIGTERM"
placed=$(awk '/TCP segments received in place/ { print $1 }' "$TMP/fw-tapd.err")
ooo=$(awk '/TCP segments queued out of order/ { print $1 }' "$TMP/fw-tapd.err")
[ "${dropped:-0}" -gt 0 ] && [ "${ooo:-0}" -gt 0 ] && [ "${placed:-0}" -gt 0 ] ||
    { show "$TMP/fw-tapd.err"; fail "forwarded, 3% loss: dropped ${dropped:-?}, out of order ${ooo:-0}, in place ${placed:-0}: want each above 0"; }
pass "forwarded, 3% loss: $MB MiB echoed intact; $dropped frames dropped, $ooo segments out of order, $placed received in place"
finish
