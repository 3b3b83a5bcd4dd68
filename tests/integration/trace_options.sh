#!/usr/bin/env bash
# trace_options.sh - --trace keeps printing what `tcpdump -nn` prints when
# segments carry options (mss, sackOK, wscale, TS val/ecr, sack N {a:b}) and
# a lossy link makes SACK blocks, retransmissions and D-SACKs: 1 MiB each way
# between the host's nc and tapnc through --impair loss=3% in both
# directions, captured by tcpdump on tap0 at the same time.
#
# The two do not watch the same place.  --trace watches from the stack's
# side of the impaired link (docs/impair.md): it shows every frame the stack
# sent, and only the frames of the host that survived the *in* direction.
# tcpdump on tap0 watches from the kernel's side: every frame the host sent,
# and only the stack's frames that survived *out*.  Loss only (no dup,
# reorder or delay) keeps each direction in order, so per direction the
# smaller view is the larger one with the lost frames taken out:
#   tx (stack -> host): tcpdump's lines are a subsequence of the trace's,
#                       and the trace has exactly `out: frames dropped` more;
#   rx (host -> stack): the trace's lines are a subsequence of tcpdump's,
#                       and tcpdump has exactly `in: frames dropped` more.
# So every line tcpdump printed is in the trace, identical (our rx/tx mark
# and timestamp set aside), except the host's frames that --impair dropped
# before the stack saw them, and those are counted.  Both must start from
# the same frame: the TAP is made persistent and tcpdump listens on it
# before tapnc attaches, so it sees the stack's gratuitous ARP too.
# Relative sequence numbers agree although each saw frames the other did
# not: both learn a conversation's bases from a segment with SYN, which the
# handshake repeats until it gets through.
#
# Then trace_pcap formats tcpdump's own capture, which must be tcpdump -r's
# text exactly, every line.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc tcpdump python3
[ -x "$BUILD/tests/trace_pcap" ] || fail "no $BUILD/tests/trace_pcap: build everything first (ninja -C $BUILD)"

SEED=${TRACE_SEED:-11}
IMPAIR="loss=3%,seed=$SEED"

ns_create
NS=$NS_LAST
# No IPv6 on the link: the host's router solicitations would only add noise.
ns_exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
ip -n "$NS" tuntap add dev tap0 mode tap || fail "ip tuntap add tap0 failed"
ip -n "$NS" addr add "$HOST_IP/24" dev tap0 || fail "ip addr add on tap0 failed"
ip -n "$NS" link set tap0 up || fail "ip link set tap0 up failed"

head -c $((1024 * 1024)) /dev/urandom >"$TMP/to_host" || fail "cannot make the test data"
head -c $((1024 * 1024)) /dev/urandom >"$TMP/to_stack" || fail "cannot make the test data"

# Every frame, or the comparison fails: a 32 MiB ring, and a snapshot
# length near the frames' (at most 1514 bytes), since the ring's slots are
# sized from it (at the default 262144, a burst overflows it).
start_bg "$NS" tcpdump tcpdump -nn -U --immediate-mode -B 32768 -s 2048 -i tap0 -w "$TMP/host.pcap"
TCPDUMP_PID=$BG_LAST
wait_for 5 grep -q "listening on tap0" "$TMP/tcpdump.err" || { show "$TMP/tcpdump.err"; fail "tcpdump did not start"; }

# The host listens and sends its file; tapnc connects and sends its own;
# each sends FIN at the end of its file (-N) and reads until the other's.
BG_IN=$TMP/to_stack start_bg "$NS" host_nc timeout 60 nc -n -l -N 6000
NC_PID=$BG_LAST
wait_listen "$NS" 6000 || fail "the host's nc -l 6000 is not listening"
BG_IN=$TMP/to_host start_bg "$NS" tapnc timeout 60 "$TAPNC" -v -N --trace --impair "$IMPAIR" "$HOST_IP" 6000
TAPNC_PID=$BG_LAST
wait_exit "$TAPNC_PID" 65 || fail "tapnc still runs after 60 s"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapnc.err" "$TMP/host_nc.err"; fail "tapnc exited $EXIT_CODE (124: timed out)"; }
wait_exit "$NC_PID" 10 || fail "the host's nc still runs 10 s after tapnc finished"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/host_nc.err"; fail "the host's nc exited $EXIT_CODE"; }
cmp -s "$TMP/host_nc.out" "$TMP/to_host" || fail "the host got $(stat -c %s "$TMP/host_nc.out") bytes, not the 1 MiB tapnc sent"
cmp -s "$TMP/tapnc.out" "$TMP/to_stack" || fail "tapnc got $(stat -c %s "$TMP/tapnc.out") bytes, not the 1 MiB the host sent"
pass "1 MiB each way through --impair $IMPAIR, intact"

# tapnc has left the TAP (it stays: it is persistent), so nothing more
# crosses it; -v printed tapnc's counters as it exited.
kill -INT "$TCPDUMP_PID"
wait_exit "$TCPDUMP_PID" 5 || fail "tcpdump did not stop"
grep -q "^0 packets dropped by kernel" "$TMP/tcpdump.err" || { show "$TMP/tcpdump.err"; fail "tcpdump dropped packets: the comparison needs all of them"; }

tcpdump -nn -t -r "$TMP/host.pcap" 2>/dev/null >"$TMP/tcpdump.txt"
# "rx 18:31:07.826748 IP ..." -> "rx IP ..."
sed -nE 's/^(rx|tx) [0-9:.]+ /\1 /p' "$TMP/tapnc.err" >"$TMP/trace.txt"
# counter TEXT: the number of tapnc -v's counter line TEXT, or 0.
counter()
{
    awk -v t="$1" '{ n = $1; sub(/^ *[0-9]+ /, ""); if ($0 == t) { print n; f = 1; exit } } END { if (!f) print 0 }' "$TMP/tapnc.err"
}
out_lost=$(counter "out: frames dropped (loss)")
in_lost=$(counter "in: frames dropped (loss)")
rtx=$(counter "TCP segments retransmitted")
log "--impair dropped $out_lost frames of the stack's and $in_lost of the host's; the stack retransmitted $rtx segments"

python3 - "$TMP/tcpdump.txt" "$TMP/trace.txt" "$out_lost" "$in_lost" "$STACK_IP" "$HOST_IP" >"$TMP/compare.txt" 2>&1 <<'PY'
import re, sys
dump_f, trace_f, out_lost, in_lost, stack, host = sys.argv[1:]
out_lost, in_lost = int(out_lost), int(in_lost)

def sender(line):
    """Who sent a frame tcpdump printed: 'stack', 'host' or None."""
    m = re.match(r"IP (\d+\.\d+\.\d+\.\d+)[.:]", line)
    if m:
        return {stack: "stack", host: "host"}.get(m.group(1))
    m = re.match(r"ARP, (?:Request who-has \S+(?: \(\S+\))? tell ([\d.]+)|Reply ([\d.]+) is-at)", line)
    if m:
        return {stack: "stack", host: "host"}.get(m.group(1) or m.group(2))
    return None

dump = [l.rstrip("\n") for l in open(dump_f)]
trace = [l.rstrip("\n").split(" ", 1) for l in open(trace_f)]
bad = [l for l in dump if sender(l) is None]
if bad:
    sys.exit("tcpdump printed frames from neither side:\n  " + "\n  ".join(bad[:5]))
d_tx = [l for l in dump if sender(l) == "stack"]
d_rx = [l for l in dump if sender(l) == "host"]
t_tx = [l for m, l in trace if m == "tx"]
t_rx = [l for m, l in trace if m == "rx"]

def unmatched(small, big):
    """The lines of big that small (a subsequence of it) lacks, or the
    first line of small that big does not have in order."""
    j, missing = 0, []
    for i, line in enumerate(small):
        while j < len(big) and big[j] != line:
            missing.append(big[j])
            j += 1
        if j == len(big):
            return None, (i, line)
        j += 1
    return missing + big[j:], None

ok = True
for name, small, big, lost, what in (
        ("tx", d_tx, t_tx, out_lost, "the stack sent (trace) but tcpdump did not see"),
        ("rx", t_rx, d_rx, in_lost, "the host sent (tcpdump) but the stack did not get")):
    missing, stray = unmatched(small, big)
    if stray:
        i, line = stray
        print(f"{name}: line {i + 1} is not in the other view, in order: {line}")
        ok = False
        continue
    print(f"{name}: {len(small)} lines in order in the other view's {len(big)}; "
          f"{len(missing)} frames {what}, --impair dropped {lost}")
    for line in missing[:5]:
        print(f"    {name} lost: {line}")
    if len(missing) != lost:
        print(f"{name}: {len(missing)} frames differ, but --impair dropped {lost}")
        ok = False

# What the options look like, and a D-SACK: a block at or below the ACK.
sack = [l for l in dump if re.search(r"[\[,]sack \d", l)]
dsack = []
for l in sack:
    ack = re.search(r", ack (\d+),", l)
    for a, b in re.findall(r"\{(\d+):(\d+)\}", l):
        if ack and int(b) <= int(ack.group(1)):
            dsack.append(l)
print(f"sack lines: {len(sack)} ({sum(1 for l in sack if sender(l) == 'stack')} from the stack, "
      f"{sum(1 for l in sack if sender(l) == 'host')} from the host); D-SACK lines: {len(dsack)}")
for l in sack[:2] + dsack[:2]:
    print("    " + l)
syn = [l for l in dump if "Flags [S" in l]
print("handshake: " + "\n           ".join(syn[:2]))
sys.exit(0 if ok else 1)
PY
rc=$?
sed 's/^/    /' "$TMP/compare.txt"
[ $rc -eq 0 ] || fail "--trace and tcpdump -nn disagree (see above)"
n=$(wc -l <"$TMP/tcpdump.txt")
pass "$n frames: every line tcpdump printed is in --trace, identical, but the $in_lost --impair dropped on the way in; the trace's $out_lost extra are the ones it dropped on the way out"

grep -q "^sack lines: [1-9]" "$TMP/compare.txt" || fail "no segment with SACK blocks: the loss made no hole"
grep -qE "^IP $STACK_IP\.[0-9]+ > .*Flags \[S\].*options \[mss [0-9]+,sackOK,TS val [0-9]+ ecr 0,nop,wscale [0-9]+\]" "$TMP/tcpdump.txt" ||
    fail "no SYN from the stack with mss, sackOK, TS and wscale"
grep -qE "^IP $HOST_IP\.6000 > .*Flags \[S\.\].*options \[mss [0-9]+,sackOK,TS val [0-9]+ ecr [0-9]+,nop,wscale [0-9]+\]" "$TMP/tcpdump.txt" ||
    fail "no SYN-ACK from the host with mss, sackOK, TS and wscale"
[ "$rtx" -gt 0 ] || fail "the stack retransmitted nothing"
pass "options as tcpdump prints them: SYNs with mss, sackOK, TS, wscale; $(grep -cE '[[,]sack [0-9]' "$TMP/tcpdump.txt") lines with sack blocks; $rtx retransmissions"
if grep -q "D-SACK lines: [1-9]" "$TMP/compare.txt"; then
    pass "D-SACK blocks printed alike too"
else
    log "no D-SACK in this run (none was needed)"
fi

# The formatter over tcpdump's own capture: all of it, exactly.
"$BUILD/tests/trace_pcap" "$TMP/host.pcap" >"$TMP/formatted.txt" || fail "trace_pcap could not read the capture"
if ! diff -u "$TMP/tcpdump.txt" "$TMP/formatted.txt" >"$TMP/diff.txt"; then
    show "$TMP/diff.txt"
    fail "trace_pcap's reading of the capture differs from tcpdump -nn -t -r"
fi
pass "trace_pcap formats tcpdump's lossy capture as tcpdump -nn -t -r does ($n frames)"
finish
