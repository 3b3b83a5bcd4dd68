#!/usr/bin/env bash
# app_options.sh - the TCP options tapnc and tapd give every connection:
#   1. --keepalive 1,1,3: on an idle connection to the host's nc, tcpdump
#      sees a probe about every second (SEG.SEQ = SND.NXT - 1, no data), each
#      answered by the host with an ACK of SND.NXT; once nftables drops
#      everything on tap0, 3 probes go unanswered and tapnc aborts about
#      1 + 3 s later: "read failed: Connection timed out", exit 1, and -v's
#      counters say why;
#   2. --nodelay: small writes a little apart, over a link with a 100 ms
#      delay, leave as one segment each; without it Nagle's algorithm holds
#      them while one is unacknowledged and sends them together;
#   3. --rcvbuf sets the window scale the SYN offers, --cc the algorithm,
#      both shown by the ss-like table (SIGUSR1), in tapnc and in tapd.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc tcpdump nft python3

ns_create
NS=$NS_LAST
# No IPv6 on the link: the host's router solicitations would only add noise.
ns_exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

# counter FILE TEXT: the number of tapnc -v's counter line TEXT, or 0.
counter()
{
    awk -v t="$2" '{ n = $1; sub(/^ *[0-9]+ /, ""); if ($0 == t) { print n; f = 1; exit } } END { if (!f) print 0 }' "$1"
}

# ---- 1. keep-alive ----
start_bg "$NS" host_nc nc -n -l 6000
HOSTNC_PID=$BG_LAST
wait_listen "$NS" 6000 || fail "the host's nc -l 6000 is not listening"
fifo ka_in 7 # held open: tapnc's stdin never ends, the connection stays idle
BG_IN=$TMP/ka_in start_bg "$NS" tapnc "$TAPNC" -v --states --keepalive 1,1,3 "$HOST_IP" 6000
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
start_bg "$NS" tcpdump tcpdump -nn -U --immediate-mode -i tap0 -w "$TMP/ka.pcap" tcp port 6000
TCPDUMP_PID=$BG_LAST
wait_for 5 grep -q "listening on tap0" "$TMP/tcpdump.err" || fail "tcpdump did not start"
wait_for 5 grep -q "succeeded" "$TMP/tapnc.err" || { show "$TMP/tapnc.err"; fail "tapnc did not connect"; }

# Idle: probes a second apart, each answered (bounded: 3 within 6 s).
wait_for 6 bash -c "[ \$(grep -c '\\* keep-alive probe seq 0$' '$TMP/tapnc.err') -ge 3 ]" ||
    { show "$TMP/tapnc.err"; fail "--states shows fewer than 3 keep-alive probes after 6 s idle"; }
sleep 0.3 # the third one's answer
kill -0 "$PID" 2>/dev/null || { show "$TMP/tapnc.err"; fail "tapnc exited while its probes were answered"; }
pass "--states notes a keep-alive probe about every second: '$(grep -m1 'keep-alive probe' "$TMP/tapnc.err")'"

# Now the host drops everything on tap0, both ways.
ns_exec "$NS" nft -f - <<'NFT' || fail "nft could not add the drop rules"
table inet synack_block {
    chain in { type filter hook input priority 0; policy accept; iifname "tap0" drop; }
    chain out { type filter hook output priority 0; policy accept; oifname "tap0" drop; }
}
NFT
t0=$(now_ms)
wait_exit "$PID" 10 || fail "tapnc still runs 10 s after the host stopped answering"
ms=$(($(now_ms) - t0))
[ "$EXIT_CODE" -eq 1 ] || { show "$TMP/tapnc.err"; fail "tapnc exited $EXIT_CODE after keep-alive gave up, expected 1"; }
grep -qx "tapnc: read failed: Connection timed out" "$TMP/tapnc.err" ||
    { show "$TMP/tapnc.err"; fail "no 'tapnc: read failed: Connection timed out'"; }
# The next probe within a second, then 3 s to 3 unanswered probes.
[ "$ms" -ge 2500 ] && [ "$ms" -le 5500 ] || fail "tapnc gave up $ms ms after the host went silent, expected about 3000 to 4000"
pass "host silent: tapnc gave up after $ms ms: 'read failed: Connection timed out', exit 1"
grep -qF "ESTABLISHED -> CLOSED (keep-alive unanswered)" "$TMP/tapnc.err" ||
    { show "$TMP/tapnc.err"; fail "--states lacks 'ESTABLISHED -> CLOSED (keep-alive unanswered)'"; }
probes=$(counter "$TMP/tapnc.err" "keep-alive probes sent")
aborts=$(counter "$TMP/tapnc.err" "connections aborted: keep-alive unanswered")
[ "$probes" -ge 6 ] && [ "$aborts" = 1 ] ||
    { show "$TMP/tapnc.err"; fail "-v counters: $probes keep-alive probes sent, $aborts aborted (expected >= 6 and 1)"; }
pass "-v: $probes keep-alive probes sent, 1 connection aborted: keep-alive unanswered"

# tcpdump stops by itself when tapnc's exit takes tap0 away.
kill -INT "$TCPDUMP_PID" 2>/dev/null
wait_exit "$TCPDUMP_PID" 5 || fail "tcpdump did not stop"
# What tcpdump saw: probes (from the stack, no data, one below what the host
# acknowledged), their answers, their spacing, and none answered after t0.
python3 - "$TMP/ka.pcap" "$STACK_IP" "$t0" >"$TMP/ka.txt" 2>&1 <<'PY'
import struct, sys
path, stack, t0 = sys.argv[1], sys.argv[2], int(sys.argv[3]) / 1000.0
stack = bytes(int(x) for x in stack.split("."))
data = open(path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
segs, off = [], 24
while off + 16 <= len(data):
    sec, frac, caplen, _ = struct.unpack(end + "IIII", data[off:off + 16])
    f = data[off + 16:off + 16 + caplen]
    off += 16 + caplen
    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
        continue
    ihl = (f[14] & 15) * 4
    t = f[14 + ihl:]
    tot = struct.unpack(">H", f[16:18])[0]
    seq, ack = struct.unpack(">II", t[4:12])
    hl = (t[12] >> 4) * 4
    segs.append(dict(t=sec + frac / (1e9 if nano else 1e6), from_stack=f[26:30] == stack,
                     seq=seq, ack=ack, flags=t[13], len=tot - ihl - hl))
# On the idle connection the stack sends nothing but probes; an answer is
# the host's next segment, acknowledging the byte after the probe's.
probes = []
for s in segs:
    if s["from_stack"] and s["len"] == 0 and not s["flags"] & 0x07:
        s["answer"] = None
        probes.append(s)
    elif not s["from_stack"] and probes and probes[-1]["answer"] is None and \
            s["ack"] == (probes[-1]["seq"] + 1) & 0xFFFFFFFF:
        probes[-1]["answer"] = s["t"]
before = [p for p in probes if p["t"] < t0]
after = [p for p in probes if p["t"] >= t0]
# All at SND.NXT - 1: one sequence number, the one the answers acknowledge.
if len({p["seq"] for p in probes}) != 1:
    print("the probes do not all carry the same sequence number")
    sys.exit(1)
for p in probes:
    ans = "answered in %.3f ms" % ((p["answer"] - p["t"]) * 1000) if p["answer"] else "unanswered"
    print("probe at %+.3f s: seq %u, %s" % (p["t"] - t0, p["seq"], ans))
gaps = [b["t"] - a["t"] for a, b in zip(probes, probes[1:])]
ok = len(before) >= 3 and all(p["answer"] for p in before)
ok = ok and len(after) == 3 and not any(p["answer"] for p in after)
ok = ok and all(0.8 <= g <= 1.6 for g in gaps)
print("gaps: " + " ".join("%.3f" % g for g in gaps))
sys.exit(0 if ok else 1)
PY
rc=$?
sed 's/^/    /' "$TMP/ka.txt"
[ $rc -eq 0 ] || fail "tcpdump's view of the probes is not: answered ones ~1 s apart, then 3 unanswered"
pass "tcpdump: probes ~1 s apart at SND.NXT-1, each answered with an ACK of SND.NXT; after the drop, 3 unanswered"
stop_all
exec 7>&-
ip netns exec "$NS" nft delete table inet synack_block || fail "cannot remove the drop rules"

# ---- 2. --nodelay ----
# nagle NAME [ARGS...]: tapnc sends 20 lines 10 ms apart to the host over a
# link that delays the stack's frames 100 ms; SEGS is the number of data
# segments it sent (its --trace).
SEGS=
nagle()
{
    local name=$1 i
    shift
    start_bg "$NS" "$name-host" timeout 20 nc -n -l 6001
    local host=$BG_LAST
    wait_listen "$NS" 6001 || fail "$name: the host's nc -l 6001 is not listening"
    fifo "$name-in" 8
    BG_IN=$TMP/$name-in start_bg "$NS" "$name" timeout 20 "$TAPNC" -N --trace --impair out:delay=100ms "$@" "$HOST_IP" 6001
    local pid=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$pid"
    wait_for 5 grep -q "Flags \[S\.\]" "$TMP/$name.err" || { show "$TMP/$name.err"; fail "$name: no handshake"; }
    sleep 0.3
    for i in $(seq 10 29); do
        printf 'line %s\n' "$i" >&8
        sleep 0.01
    done
    exec 8>&-
    wait_exit "$pid" 15 || fail "$name: tapnc did not finish"
    wait_exit "$host" 5 || fail "$name: the host's nc did not finish"
    [ "$(wc -l <"$TMP/$name-host.out")" = 20 ] || { show "$TMP/$name-host.out"; fail "$name: the host got $(wc -l <"$TMP/$name-host.out") of 20 lines"; }
    SEGS=$(grep -cE "^tx .*> $HOST_IP\.6001: Flags \[[^]]*\], seq [0-9]+:[0-9]+" "$TMP/$name.err")
}
nagle nagle
with=$SEGS
nagle nodelay --nodelay
without=$SEGS
log "20 small writes 10 ms apart, 100 ms round trip: $with data segments with Nagle, $without with --nodelay"
[ "$without" -ge 15 ] || fail "--nodelay: $without data segments for 20 writes, expected one each"
[ "$with" -le 8 ] || fail "Nagle: $with data segments for 20 writes, expected them merged while one is in flight"
pass "--nodelay: $without segments for 20 small writes; Nagle's algorithm (the default) merged them into $with"

# ---- 3. --rcvbuf, --sndbuf and --cc, in the SYN and the table ----
start_bg "$NS" host_nc2 nc -n -l 6002
wait_listen "$NS" 6002 || fail "the host's nc -l 6002 is not listening"
fifo t_in 9
BG_IN=$TMP/t_in start_bg "$NS" tbl "$TAPNC" -v --trace --rcvbuf 16M --sndbuf 64K --cc newreno "$HOST_IP" 6002
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
wait_for 5 grep -q "succeeded" "$TMP/tbl.err" || { show "$TMP/tbl.err"; fail "tapnc --rcvbuf 16M did not connect"; }
# 16 MiB needs a shift of 9 (65535 << 8 is just short of it).
grep -qE "^tx .*Flags \[S\], .*wscale 9\]" "$TMP/tbl.err" || { show "$TMP/tbl.err"; fail "--rcvbuf 16M: the SYN does not offer wscale 9"; }
kill -USR1 "$PID"
wait_for 5 grep -q "^ESTAB " "$TMP/tbl.err" || { show "$TMP/tbl.err"; fail "SIGUSR1 printed no ESTAB line"; }
line=$(grep -A1 "^ESTAB " "$TMP/tbl.err" | tail -n 1)
echo "$line" | grep -qE "^	 ts sack newreno wscale:[0-9]+,9 rto:[0-9]+ " ||
    fail "the table's line is not 'ts sack newreno wscale:N,9 rto:...': $line"
pass "tapnc --rcvbuf 16M --cc newreno: the SYN offers wscale 9; the table: $line"
exec 9>&-
stop_all

start_bg "$NS" tapd "$TAPD" -v --cc newreno --rcvbuf 32K --nodelay --keepalive 10,2,3 --no-daytime --no-chargen --no-discard
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
fifo e_in 9
BG_IN=$TMP/e_in start_bg "$NS" echo_nc nc -n "$STACK_IP" 7
wait_for 5 grep -q "echo connection from" "$TMP/tapd.err" || { show "$TMP/tapd.err"; fail "tapd got no echo connection"; }
echo hello >&9
wait_for 5 grep -q hello "$TMP/echo_nc.out" || fail "tapd's echo did not answer"
kill -USR1 "$PID"
wait_for 5 grep -q "^ESTAB " "$TMP/tapd.err" || { show "$TMP/tapd.err"; fail "SIGUSR1 printed no ESTAB line"; }
line=$(grep -A1 "^ESTAB " "$TMP/tapd.err" | tail -n 1)
# 32 KiB fits an unscaled window: our scale is 0.
echo "$line" | grep -qE "^	 ts sack newreno wscale:[0-9]+,0 " || fail "tapd's table line is not 'ts sack newreno wscale:N,0': $line"
pass "tapd --cc newreno --rcvbuf 32K: its accepted connection has them: $line"
exec 9>&-
finish
