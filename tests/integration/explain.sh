#!/usr/bin/env bash
# explain.sh - --explain: each --trace line carries the rule that sent the
# segment, or what became of the one received, and --pcap has the same
# words as each packet's comment (read back with tshark):
#   1. a session with tapnc -l and the host's nc: the handshake, data each
#      way, then hping3 puts a SYN into the live connection (RFC 5961 4.2:
#      a challenge ACK) and a segment with a bad checksum (dropped, with
#      its counter's words), then the close;
#   2. a transfer each way through a lossy link (--impair loss=3%): fast
#      retransmits of ours, and duplicate ACKs for out-of-order data that
#      say where that data starts;
#   3. tshark reads both files: the comments are the trace's reasons, frame
#      for frame, and tshark -V prints them.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc hping3 tshark

ns_create
NS=$NS_LAST
ns_exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

# "rx 18:31:07.826748 IP ...  # WORDS (RFC ...)" -> the reason, or "" for none.
reasons() { awk '/^(rx|tx) [0-9:.]+ / { i = index($0, "  # "); print (i ? substr($0, i + 4) : "") }' "$1"; }
# One line of the trace, for messages.
first_line() { grep -m1 -E -- "$2" "$1" | cut -c1-300; }

# 1. A session: handshake, data, challenge ACK, a drop, close.
fifo stack_in 7
BG_IN=$TMP/stack_in start_bg "$NS" tapnc "$TAPNC" -l -k 5050 --trace --explain --pcap "$TMP/session.pcapng" \
    --ladder --ladder-svg "$TMP/session.svg"
TAPNC_PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TAPNC_PID"
fifo host_in 5
BG_IN=$TMP/host_in start_bg "$NS" host nc -N -n -p 40000 "$STACK_IP" 5050
NC_PID=$BG_LAST
echo "hello from the host" >&5
wait_for 5 grep -q "hello from the host" "$TMP/tapnc.out" || fail "tapnc did not get the host's line"
echo "hello from the stack" >&7
wait_for 5 grep -q "hello from the stack" "$TMP/host.out" || fail "the host did not get the stack's line"
# A SYN from the live connection's port into it, at RCV.NXT (the host's
# ISN + 1 + the 20 bytes it sent): in the window, so RFC 5961 4.2 decides
# (one outside it is only not acceptable, RFC 9293 3.10.7.4), then a bad
# checksum.
isn=$(sed -nE 's/^rx [0-9:.]+ IP 10\.0\.0\.1\.40000 > 10\.0\.0\.2\.5050: Flags \[S\], seq ([0-9]+),.*/\1/p' "$TMP/tapnc.err" | head -n 1)
[ -n "$isn" ] || { show "$TMP/tapnc.err"; fail "no SYN from the host in the trace"; }
ns_exec "$NS" timeout 5 hping3 -c 1 -S -s 40000 -k -p 5050 -M $(((isn + 21) % 4294967296)) "$STACK_IP" >"$TMP/syn.out" 2>&1
ns_exec "$NS" timeout 5 hping3 -c 1 -A --badcksum -s 40000 -k -p 5050 "$STACK_IP" >"$TMP/bad.out" 2>&1
wait_for 3 grep -q "bad checksum" "$TMP/tapnc.err" || true
exec 5>&- # the host closes: FIN
wait_exit "$NC_PID" 5 || fail "the host's nc did not end"
wait_for 3 grep -q "the app closed" "$TMP/tapnc.err" || true
kill -TERM "$TAPNC_PID"
wait_exit "$TAPNC_PID" 5 || fail "tapnc did not stop"
[ "$EXIT_CODE" = 0 ] || { show "$TMP/tapnc.err"; fail "tapnc exited with $EXIT_CODE"; }
T=$TMP/tapnc.err

S='IP 10\.0\.0\.1\.40000 > 10\.0\.0\.2\.5050'
R='IP 10\.0\.0\.2\.5050 > 10\.0\.0\.1\.40000'
bad=0
expect()
{
    # expect WHAT REGEX: a trace line matches
    grep -qE -- "$2" "$T" || { soft_fail "no $1: no trace line matches /$2/"; bad=1; }
}
expect "SYN explained" "^rx [0-9:.]+ $S: Flags \[S\], .*  # SYN: a new connection, in SYN_RECEIVED \(RFC 9293 3\.10\.7\.2\)$"
expect "SYN-ACK explained" "^tx [0-9:.]+ $R: Flags \[S\.\], .*  # answers a SYN \(RFC 9293 3\.10\.7\.2\)$"
expect "handshake ACK explained" "^rx [0-9:.]+ $S: Flags \[\.\], ack 1, .*  # ACK of our SYN: ESTABLISHED \(RFC 9293 3\.10\.7\.4\)$"
expect "host data explained" "^rx [0-9:.]+ $S: Flags \[P\.\], seq 1:21, .*  # data in order: delivered \(RFC 9293 3\.10\.7\.4\)$"
expect "ACK of the host's data explained" "^tx [0-9:.]+ $R: Flags \[\.\], ack 21, .*  # (quick ACK|delayed ACK|ACK: a second)"
expect "our data explained" "^tx [0-9:.]+ $R: Flags \[P\.\], seq 1:22, .*  # new data: the windows allow it \(RFC 5681 3\.1\)$"
expect "SYN into the connection explained" "^rx [0-9:.]+ $S: Flags \[S\], .*  # SYN on a synchronized connection: challenged \(RFC 5961 4\.2\)$"
expect "challenge ACK explained" "^tx [0-9:.]+ $R: Flags \[\.\], ack 21, .*  # challenge ACK \(RFC 5961 "
expect "bad checksum explained" "^rx [0-9:.]+ $S: Flags \[\.\], .*  # dropped: TCP dropped: bad checksum$"
expect "the host's FIN explained" "^rx [0-9:.]+ $S: Flags \[F\.\], seq 21, .*  # FIN: the peer closed its side \(RFC 9293 3\.10\.7\.4\)$"
expect "our FIN explained" "^tx [0-9:.]+ $R: Flags \[F\.\], seq 22, .*  # the app closed: FIN after the data \(RFC 9293 3\.6\)$"
# The challenge ACK answers the SYN: the line right after it.
syn=$(grep -nE "^rx [0-9:.]+ $S: Flags \[S\], .*challenged" "$T" | cut -d: -f1)
[ -n "$syn" ] && sed -n "$((syn + 1))p" "$T" | grep -q "# challenge ACK" ||
    { soft_fail "the line after the SYN into the connection is not the challenge ACK"; bad=1; }
# A frame no rule explains (ARP) has no reason.
grep -E '^(rx|tx) [0-9:.]+ ARP' "$T" | grep -q '#' && { soft_fail "an ARP line has a reason"; bad=1; }
[ $bad -eq 0 ] && pass "session: SYN, SYN-ACK, ACK, data each way, SYN challenged and the challenge ACK after it, the bad checksum dropped, both FINs: each line with its reason"
[ $bad -eq 0 ] || show "$T"
# The ladder (drawn at exit) carries the same reasons; the dropped segment's
# arrow ends in x, in the text and, red, in the SVG.
grep -qE '^ +[0-9.]+  \|-+ S seq 21 len 0 -+>\|  SYN on a synchronized connection: challenged \(RFC 5961 4\.2\)$' "$T" &&
    grep -qE '^ +[0-9.]+  \|<-+ \. ack 21 len 0 -+\|  challenge ACK \(RFC 5961 ' "$T" &&
    grep -qE '^ +[0-9.]+  \|-+ \. ack [0-9]+ len 0 -+x\|  dropped: TCP dropped: bad checksum$' "$T" &&
    pass "--ladder --explain: the challenged SYN, the challenge ACK, and the dropped segment drawn -----x|" ||
    { show "$T"; soft_fail "the text ladder lacks the reasons or the x of the drop"; }
grep -q '<title>challenge ACK (RFC 5961 ' "$TMP/session.svg" && grep -q 'stroke="#c00" stroke-width="2"' "$TMP/session.svg" &&
    pass "--ladder-svg --explain: reasons as tooltips, a red x for the drop" ||
    soft_fail "the SVG lacks the reasons or the x of the drop"

# 2. Through a lossy link, 200 KiB from the stack, then 200 KiB to it (one
# at a time: tapnc ends a connection once the peer has closed its side).
head -c 204800 /dev/urandom >"$TMP/up"
head -c 204800 /dev/urandom >"$TMP/down"
lossy()
{
    # lossy NAME SEED TAPNC_FLAG NC_FLAG: tapnc -l reads $TMP/NAME.in, the
    # host's nc $TMP/NAME.host_in; their outputs are NAME.out, NAME.host_out
    BG_IN=$TMP/$1.in start_bg "$NS" "$1" "$TAPNC" -l $3 5050 --trace --explain \
        --impair "loss=3%,seed=$2" --pcap "$TMP/$1.pcapng"
    local pid=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$pid"
    ns_exec "$NS" timeout 30 nc $4 "$STACK_IP" 5050 <"$TMP/$1.host_in" >"$TMP/$1.host_out" ||
        fail "$1: the host's nc failed over the lossy link"
    wait_exit "$pid" 10 || fail "$1: tapnc did not end after the transfer"
    [ "$EXIT_CODE" = 0 ] || { show "$TMP/$1.err"; fail "$1: tapnc exited with $EXIT_CODE"; }
}
cp "$TMP/down" "$TMP/lossy_out.in"
: >"$TMP/lossy_out.host_in"
lossy lossy_out 11 -N -d
[ "$(sha "$TMP/lossy_out.host_out")" = "$(sha "$TMP/down")" ] || fail "lossy_out: the data did not arrive whole"
: >"$TMP/lossy_in.in"
cp "$TMP/up" "$TMP/lossy_in.host_in"
lossy lossy_in 12 -v -N
[ "$(sha "$TMP/lossy_in.out")" = "$(sha "$TMP/up")" ] || fail "lossy_in: the data did not arrive whole"
L=$TMP/lossy_out.err
# Every fast retransmit resends a range the trace showed leaving before.
nfr=0
while read -r range; do
    nfr=$((nfr + 1))
    n=$(grep -cE "^tx [0-9:.]+ IP 10\.0\.0\.2\.5050 > [0-9.]+: Flags \[[^]]*\], seq $range, " "$L")
    [ "$n" -ge 2 ] || { soft_fail "fast retransmit of $range: no original before it ($n lines)"; break; }
done < <(sed -nE 's/^tx [0-9:.]+ IP 10\.0\.0\.2\.5050 > [0-9.]+: Flags \[[^]]*\], seq ([0-9]+:[0-9]+), .*  # fast retransmit: the first loss of an episode \(RFC 5681 3\.2, RFC 6675 5\)$/\1/p' "$L")
[ "$nfr" -gt 0 ] && pass "lossy link: $nfr fast retransmits explained, each of a range sent before: $(first_line "$L" '# fast retransmit')" ||
    { show "$L"; soft_fail "no fast retransmit explained over the lossy link"; }
# A dup ACK for out-of-order data follows the segment and names its start.
prev=
nooo=0
okooo=0
while IFS= read -r line; do
    if [[ $line == tx*"# dup ACK: out-of-order data at "* ]]; then
        nooo=$((nooo + 1))
        at=$(sed -nE 's/.*out-of-order data at ([0-9]+) \(RFC 5681 4\.2\)$/\1/p' <<<"$line")
        [[ $prev == rx*", seq $at"[:,]*"# out of order: queued past a gap"* ]] && okooo=$((okooo + 1))
    fi
    prev=$line
done <"$TMP/lossy_in.err"
[ "$nooo" -gt 0 ] && [ "$okooo" -eq "$nooo" ] &&
    pass "lossy link: $nooo dup ACKs for out-of-order data, each right after the segment it names: $(first_line "$TMP/lossy_in.err" '# dup ACK: out-of-order')" ||
    soft_fail "dup ACKs for out-of-order data: $nooo, of which $okooo follow the segment they name"

# 3. tshark: the comments are the trace's reasons, frame for frame.
for cap in session lossy_out lossy_in; do
    log="$TMP/$cap.err"
    [ $cap = session ] && log=$T
    tshark -r "$TMP/$cap.pcapng" -T fields -e frame.comment >"$TMP/$cap.comments" 2>"$TMP/$cap.tshark.err" ||
        { show "$TMP/$cap.tshark.err"; fail "tshark cannot read $cap.pcapng"; }
    reasons "$log" >"$TMP/$cap.reasons"
    n=$(grep -c . "$TMP/$cap.comments")
    if ! diff -u "$TMP/$cap.reasons" "$TMP/$cap.comments" >"$TMP/$cap.diff"; then
        show "$TMP/$cap.diff"
        soft_fail "$cap: tshark's frame.comment differs from the trace's reasons"
    elif [ "$n" -lt 10 ]; then
        soft_fail "$cap: only $n comments in the pcapng"
    else
        pass "$cap: tshark reads $(wc -l <"$TMP/$cap.comments") frames, $n comments, each the reason on the trace line of that frame"
    fi
done
tshark -r "$TMP/session.pcapng" -V >"$TMP/session.V" 2>/dev/null
grep -A1 -x 'Packet comments' "$TMP/session.V" | grep -qE '^    challenge ACK \(RFC 5961 ' &&
    grep -A1 -x 'Packet comments' "$TMP/session.V" | grep -qx '    dropped: TCP dropped: bad checksum' &&
    grep -q 'Direction: Outbound' "$TMP/session.V" &&
    pass "tshark -V prints the comments (challenge ACK, the drop) and each frame's direction" ||
    { show "$TMP/session.V"; soft_fail "tshark -V does not print the comments"; }
finish
