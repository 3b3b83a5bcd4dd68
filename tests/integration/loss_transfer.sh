#!/bin/bash
# loss_transfer.sh - bulk data over a bad link arrives intact, each way,
# between the host's nc and tapnc:
#   1. through tapnc's --impair: 5% loss, 5% reordering, 2% duplicates and
#      1% corrupted frames, in both directions (LOSS_MB MiB each way,
#      default 50);
#   2. through 5% random loss made by nftables on the host's side of tap0,
#      no --impair (LOSS_NFT_MB MiB each way, default 20: see below);
#   3. a reader behind tapnc that stops for 5 s: synack's receive buffer
#      fills, its window goes to zero, the host probes it, and the transfer
#      resumes and completes (20 MiB, no loss).
# Every transfer is checked by sha256 and bounded by a timeout.
#
# In 2, "host -> stack" loses the host's data inside the host: a rule in
# the output hook makes the host's own TCP get an error back (EPERM), and
# its TCP sends the segment again later; it is never lost on the wire, so
# synack sees no hole there.  That direction tests lost ACKs (the input
# hook) and the host's retries; synack receiving through real loss is
# part 1's host -> stack (--impair drops frames after they left the host).
# "stack -> host" is real loss both ways.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc sha256sum ss tcpdump nft nstat dd

MB=${LOSS_MB:-50}
NFT_MB=${LOSS_NFT_MB:-20}
STALL_MB=20
LIMIT=120 # seconds, for any one transfer
IMPAIR="loss=5%,reorder=5%,dup=2%,corrupt=1%,seed=7"

head -c $((MB * 1024 * 1024)) /dev/urandom >"$TMP/data" || fail "cannot make the test data"
head -c $((NFT_MB * 1024 * 1024)) "$TMP/data" >"$TMP/data-nft"
head -c $((STALL_MB * 1024 * 1024)) /dev/urandom >"$TMP/data-stall" || fail "cannot make the test data"

# check_copy NAME GOT WANT MS: GOT is WANT, byte for byte.
check_copy()
{
    local name=$1 got=$2 want=$3 ms=$4 size
    size=$(stat -c %s "$want")
    if [ "$(sha "$got")" != "$(sha "$want")" ]; then
        show "$TMP"/*.err
        fail "$name: received $(stat -c %s "$got") of $size bytes, sha256 differs"
    fi
    pass "$name: $((size / 1048576)) MiB, sha256 equal, in $((ms / 1000)).$(printf %03d $((ms % 1000))) s"
}

# counter FILE TEXT: the number on the counter line TEXT of tapnc -v, or 0.
counter()
{
    awk -v t="$2" '{ n = $1; sub(/^ *[0-9]+ /, ""); if ($0 == t) { print n; f = 1; exit } } END { if (!f) print 0 }' "$1"
}

# h2s NS NAME FILE [TAPNC ARGS...]: host nc -N -> tapnc -l 5001 (which
# creates tap0 in NS).  Times until tapnc, the receiver, has exited after
# EOF; its output is $TMP/NAME-rx.out, its stderr $TMP/NAME-rx.err.
h2s()
{
    local ns=$1 name=$2 file=$3 rx tx t0
    shift 3
    start_bg "$ns" "$name-rx" timeout $LIMIT "$TAPNC" -v "$@" -l 5001
    rx=$BG_LAST
    wait_tap_up "$ns" tap0 "$HOST_IP" "$rx"
    wait_for 5 grep -q "Listening on" "$TMP/$name-rx.err" || fail "$name: tapnc -l 5001 is not listening"
    t0=$(now_ms)
    BG_IN=$file start_bg "$ns" "$name-tx" timeout $LIMIT nc -n -N "$STACK_IP" 5001
    tx=$BG_LAST
    wait_exit "$rx" $((LIMIT + 5)) || fail "$name: tapnc -l still running after $LIMIT s"
    MS=$(($(now_ms) - t0))
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-rx.err" "$TMP/$name-tx.err"; fail "$name: tapnc -l exited $EXIT_CODE (124: timed out)"; }
    wait_exit "$tx" 10 || fail "$name: host nc still running 10 s after tapnc got EOF"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-tx.err" "$TMP/$name-rx.err"; fail "$name: host nc exited $EXIT_CODE"; }
}

# s2h NS NAME FILE [TAPNC ARGS...]: tapnc -N -> host nc -l 6001.  Times
# until the host's nc, the receiver, has exited after EOF; its output is
# $TMP/NAME-rx.out; tapnc's stderr $TMP/NAME-tx.err.
s2h()
{
    local ns=$1 name=$2 file=$3 rx tx t0
    shift 3
    start_bg "$ns" "$name-rx" timeout $LIMIT nc -n -l 6001
    rx=$BG_LAST
    wait_listen "$ns" 6001 || fail "$name: host nc -l 6001 is not listening"
    t0=$(now_ms)
    BG_IN=$file start_bg "$ns" "$name-tx" timeout $LIMIT "$TAPNC" -v "$@" -N "$HOST_IP" 6001
    tx=$BG_LAST
    wait_exit "$rx" $((LIMIT + 5)) || fail "$name: host nc -l still running after $LIMIT s"
    MS=$(($(now_ms) - t0))
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-rx.err" "$TMP/$name-tx.err"; fail "$name: host nc -l exited $EXIT_CODE (124: timed out)"; }
    wait_exit "$tx" 10 || fail "$name: tapnc -N still running 10 s after the host got EOF"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$name-tx.err"; fail "$name: tapnc -N exited $EXIT_CODE"; }
}

# impaired_all ERRFILE DIR: every kind of damage happened in direction DIR
# (in or out) of the link, so the transfer went through what it claims.
impaired_all()
{
    local err=$1 dir=$2 what n
    for what in "frames dropped (loss)" "frames duplicated (dup)" \
        "frames held back for the next to overtake (reorder)" "frames with one bit flipped (corrupt)"; do
        n=$(counter "$err" "$dir: $what")
        [ "$n" -gt 0 ] || { show "$err"; fail "no '$dir: $what' in tapnc's counters: the link was not as bad as meant"; }
    done
}

# --- 1. --impair, both directions damaged.
ns_create
NS=$NS_LAST
h2s "$NS" imp-h2s "$TMP/data" --impair "$IMPAIR"
check_copy "--impair $IMPAIR, host -> stack" "$TMP/imp-h2s-rx.out" "$TMP/data" $MS
impaired_all "$TMP/imp-h2s-rx.err" in
impaired_all "$TMP/imp-h2s-rx.err" out
[ "$(counter "$TMP/imp-h2s-rx.err" "TCP dropped: bad checksum")" -gt 0 ] ||
    fail "host -> stack: synack counted no bad checksum, though 1% of frames were corrupted"
log "  synack (receiver): $(grep -E 'out of order|duplicate data|bad checksum|D-SACKs sent|SACK blocks' \
    "$TMP/imp-h2s-rx.err" | sed 's/^ *//' | paste -sd ';' -)"
rm -f "$TMP/imp-h2s-rx.out"

s2h "$NS" imp-s2h "$TMP/data" --impair "$IMPAIR"
check_copy "--impair $IMPAIR, stack -> host" "$TMP/imp-s2h-rx.out" "$TMP/data" $MS
impaired_all "$TMP/imp-s2h-tx.err" in
impaired_all "$TMP/imp-s2h-tx.err" out
log "  synack (sender): $(grep -E 'retransmi|fast retransmits|RACK|tail loss|spurious|D-SACKs received|congestion events' \
    "$TMP/imp-s2h-tx.err" | sed 's/^ *//' | paste -sd ';' -)"
rm -f "$TMP/imp-s2h-rx.out"

# --- 2. nftables: 5% of the frames crossing tap0, each way, on the host's
# side (the table lives and dies with the namespace).
ns_create
NS=$NS_LAST
ns_exec "$NS" nft -f - <<'EOF' || fail "nft: cannot load the loss rules"
table inet synack_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "tap0" numgen random mod 100 < 5 counter drop
    }
    chain output {
        type filter hook output priority 0; policy accept;
        oifname "tap0" numgen random mod 100 < 5 counter drop
    }
}
EOF
# nft_drops: "IN OUT", the frames dropped so far each way.
nft_drops()
{
    ns_exec "$NS" nft list table inet synack_loss |
        awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n[$1] = $(i + 1) }
             END { printf "%d %d\n", n["iifname"], n["oifname"] }'
}
read -r in0 out0 <<<"$(nft_drops)"
# --no-offload: nftables drops frames, and a TSO frame of synack's would
# be 45 segments lost at once, not one.
h2s "$NS" nft-h2s "$TMP/data-nft" --no-offload
read -r in1 out1 <<<"$(nft_drops)"
check_copy "nftables 5% loss, host -> stack" "$TMP/nft-h2s-rx.out" "$TMP/data-nft" $MS
[ $((in1 - in0)) -gt 0 ] && [ $((out1 - out0)) -gt 0 ] ||
    fail "host -> stack: nftables dropped $((in1 - in0)) frames in, $((out1 - out0)) out; want some each way"
log "  nftables dropped $((out1 - out0)) host frames (data), $((in1 - in0)) synack frames (ACKs)"
rm -f "$TMP/nft-h2s-rx.out"

s2h "$NS" nft-s2h "$TMP/data-nft" --no-offload
read -r in2 out2 <<<"$(nft_drops)"
check_copy "nftables 5% loss, stack -> host" "$TMP/nft-s2h-rx.out" "$TMP/data-nft" $MS
[ $((in2 - in1)) -gt 0 ] && [ $((out2 - out1)) -gt 0 ] ||
    fail "stack -> host: nftables dropped $((in2 - in1)) frames in, $((out2 - out1)) out; want some each way"
[ "$(counter "$TMP/nft-s2h-tx.err" "TCP segments retransmitted")" -gt 0 ] ||
    fail "stack -> host: synack retransmitted nothing, though nftables dropped $((in2 - in1)) of its frames"
log "  nftables dropped $((in2 - in1)) synack frames (data), $((out2 - out1)) host frames (ACKs);" \
    "synack: $(grep -E 'retransmi|fast retransmits|RACK|tail loss|congestion events' \
        "$TMP/nft-s2h-tx.err" | sed 's/^ *//' | paste -sd ';' -)"
rm -f "$TMP/nft-s2h-rx.out"

# --- 3. tapnc's reader stops for 5 s after 4 MiB: dd reads exactly that
# much (iflag=fullblock: a pipe gives short reads), then the reader sleeps,
# then cat reads the rest.  tcpdump counts synack's segments that advertise
# a zero window; the host's nstat counts its window probes.
ns_create
NS=$NS_LAST
start_zw_capture()
{
    # Segments from synack whose window field (bytes 14-15) is 0, but not
    # a RST's.
    start_bg "$NS" zw-tcpdump tcpdump -i tap0 -n -U -w "$TMP/zw.pcap" \
        "src host $STACK_IP and tcp[14:2] = 0 and tcp[tcpflags] & tcp-rst = 0"
    ZW=$BG_LAST
    wait_for 5 grep -q "listening on" "$TMP/zw-tcpdump.err" || { show "$TMP/zw-tcpdump.err"; fail "tcpdump did not start"; }
}
start_bg "$NS" stall-rx timeout $LIMIT bash -c '"$0" -v -l 5001 |
    { dd bs=65536 count=64 iflag=fullblock 2>/dev/null; sleep 5; cat; }' "$TAPNC"
rx=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$rx"
wait_for 5 grep -q "Listening on" "$TMP/stall-rx.err" || fail "stalled reader: tapnc -l 5001 is not listening"
start_zw_capture
probes0=$(NSTAT_HISTORY=$TMP/nstat.hist ns_exec "$NS" nstat -asz TcpExtTCPWinProbe | awk '$1 == "TcpExtTCPWinProbe" { print $2 }')
t0=$(now_ms)
BG_IN=$TMP/data-stall start_bg "$NS" stall-tx timeout $LIMIT nc -n -N "$STACK_IP" 5001
tx=$BG_LAST
wait_exit "$rx" $((LIMIT + 5)) || fail "stalled reader: tapnc -l still running after $LIMIT s"
MS=$(($(now_ms) - t0))
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/stall-rx.err"; fail "stalled reader: the reader's pipeline exited $EXIT_CODE"; }
wait_exit "$tx" 10 || fail "stalled reader: host nc still running 10 s after tapnc got EOF"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/stall-tx.err"; fail "stalled reader: host nc exited $EXIT_CODE"; }
probes1=$(NSTAT_HISTORY=$TMP/nstat.hist ns_exec "$NS" nstat -asz TcpExtTCPWinProbe | awk '$1 == "TcpExtTCPWinProbe" { print $2 }')
# (tcpdump may have ended already: tap0 went away with tapnc.)
kill -INT "$ZW" 2>/dev/null
wait_exit "$ZW" 5 || fail "tcpdump did not stop on SIGINT"
check_copy "reader stalled 5 s, host -> stack" "$TMP/stall-rx.out" "$TMP/data-stall" $MS
[ "$MS" -ge 5000 ] || fail "reader stalled 5 s: the transfer took only $MS ms, so the reader did not stall"
zw=$(tcpdump -n -r "$TMP/zw.pcap" 2>/dev/null | wc -l)
[ "$zw" -gt 0 ] || fail "reader stalled 5 s: synack never advertised a zero window"
pass "reader stalled 5 s: synack advertised a zero window ($zw segments with win 0) and then opened it again"
# The first zero-window segment closes the window; each later one answers a
# probe of the host's.  Linux probes with a zero-window probe (counted in
# TcpExtTCPWinProbe) when nothing of its is in flight, and by retransmitting
# what is in flight otherwise (RFC 9293 3.8.6.1 allows both); under load a
# tail retransmission can be in flight as the window closes, so both count.
[ "$zw" -ge 2 ] ||
    fail "reader stalled 5 s: synack answered no probe of the host's with its zero window ($zw segment with win 0; TcpExtTCPWinProbe moved by $((${probes1:-0} - ${probes0:-0})))"
pass "the host probed the zero window $((zw - 1)) times ($((${probes1:-0} - ${probes0:-0})) zero-window probes), and synack's answers kept it closed until the reader read"

finish
