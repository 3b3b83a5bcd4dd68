#!/usr/bin/env bash
# make_corpus.sh - writes the fuzz targets' seed corpus (tests/fuzz/corpus/)
# from real sessions, plus the TCP target's hand-written scenarios.
#
# Three sessions between the host's tools and tapnc, each in a network
# namespace made here and deleted at the end (tests/integration/lib.sh),
# captured by tapnc --pcap:
#   passive  ping, then host nc sends 3000 bytes to tapnc -l and reads its reply
#   active   tapnc connects to host nc -l and they exchange a few KB
#   lossy    as passive, 8 KB over a link losing 15% (MTU 576): SACK, retransmissions
# fuzz_seeds (seeds.c) turns each capture into inputs of all four targets
# (session-<name>*), and writes the TCP scenarios.  Other files in corpus/
# (the grown corpus, named by hash) are left alone.
#
#   sudo tests/fuzz/make_corpus.sh            # with build/ (meson setup build)
#   sudo BUILD=$PWD/build-x tests/fuzz/make_corpus.sh
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_tools ping nc
SEEDS=$BUILD/tests/fuzz/fuzz_seeds
[ -x "$SEEDS" ] || fail "$SEEDS is not built (ninja -C $BUILD)"
OUT=$(cd "$LIB_DIR/../fuzz/corpus" && pwd)

head -c 3000 /dev/zero | tr '\0' 'h' >"$TMP/host3k"
head -c 2000 /dev/zero | tr '\0' 's' >"$TMP/stack2k"
head -c 8000 /dev/zero | tr '\0' 'L' >"$TMP/host8k"

# passive: the host connects to tapnc -l.
ns_create
NS=$NS_LAST
BG_IN=$TMP/stack2k start_bg "$NS" tapnc "$TAPNC" -N -l 5050 --pcap "$TMP/session-passive.pcap"
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
ns_exec "$NS" ping -c 2 -i 0.2 "$STACK_IP" >/dev/null || fail "ping failed"
ns_exec "$NS" timeout 10 nc -N "$STACK_IP" 5050 <"$TMP/host3k" >"$TMP/passive.out" ||
    fail "nc to tapnc failed"
wait_exit "$PID" 10 || fail "tapnc -l did not exit"
pass "passive session captured"

# active: tapnc connects to the host's nc -l.
ns_create
NS=$NS_LAST
BG_IN=$TMP/host3k start_bg "$NS" hostnc nc -N -l 6000
HPID=$BG_LAST
wait_listen "$NS" 6000 || fail "host nc does not listen"
BG_IN=$TMP/stack2k start_bg "$NS" tapnc "$TAPNC" -N --pcap "$TMP/session-active.pcap" \
    "$HOST_IP" 6000
PID=$BG_LAST
wait_exit "$PID" 15 || fail "tapnc did not exit"
wait_exit "$HPID" 5 || fail "host nc did not exit"
pass "active session captured"

# lossy: SACK and retransmissions, in both directions.
ns_create
NS=$NS_LAST
start_bg "$NS" tapnc "$TAPNC" -l 5051 --mtu 576 --impair loss=15%,seed=3 \
    --pcap "$TMP/session-lossy.pcap"
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
ns_exec "$NS" timeout 30 nc -N "$STACK_IP" 5051 <"$TMP/host8k" >/dev/null ||
    fail "nc over the lossy link failed"
wait_exit "$PID" 30 || fail "tapnc -l (lossy) did not exit"
pass "lossy session captured"

for t in frames tcp options trace; do
    mkdir -p "$OUT/$t"
    rm -f "$OUT/$t"/session-*
done
for s in passive active lossy; do
    "$SEEDS" pcap "$TMP/session-$s.pcap" "$OUT" || fail "fuzz_seeds pcap $s failed"
done
"$SEEDS" tcp "$OUT/tcp" || fail "fuzz_seeds tcp failed"
pass "corpus written to $OUT: $(find "$OUT" -type f | wc -l) files, $(du -sk "$OUT" | cut -f1) KB"
finish
