#!/usr/bin/env bash
# Throughput and connection rate of synack over a TAP, against a reference
# measured in the same run: the Linux kernel's TCP between two network
# namespaces over veth.  Prints MB/s, connections/s and the ratios.
# Run with: sudo meson test -C build --benchmark --verbose
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_tools nc

MB=${BENCH_MB:-256}
CONNS=${BENCH_CONNS:-300}
head -c $((MB * 1024 * 1024)) /dev/zero >"$TMP/data"

# --- synack: the host's nc into tapd's discard (9), and 300 echo connections.
ns_create
NS=$NS_LAST
start_bg "$NS" tapd "$TAPD"
wait_tap_up "$NS" tap0 "$HOST_IP" "$BG_LAST"
t0=$(now_ms)
ns_exec "$NS" timeout 120 nc -N "$STACK_IP" 9 <"$TMP/data" || fail "transfer to synack failed"
t1=$(now_ms)
syn_ms=$((t1 - t0))
# The other way: the host reads MB MiB of chargen from the stack.
t0=$(now_ms)
ns_exec "$NS" timeout 120 sh -c "nc -d $STACK_IP 19 | head -c $((MB * 1024 * 1024)) >/dev/null" ||
    fail "transfer from synack failed"
t1=$(now_ms)
syn_out_ms=$((t1 - t0))
t0=$(now_ms)
for i in $(seq 1 "$CONNS"); do
    echo x | ns_exec "$NS" timeout 5 nc -N "$STACK_IP" 7 >/dev/null || fail "echo connection $i failed"
done
t1=$(now_ms)
syn_conn_ms=$((t1 - t0))

# --- the kernel: the same over veth between two namespaces.
ns_create
A=$NS_LAST
ns_create
B=$NS_LAST
ip link add synack-bv0 netns "$A" type veth peer name synack-bv1 netns "$B" || fail "veth failed"
ip -n "$A" addr add 10.9.0.1/24 dev synack-bv0
ip -n "$B" addr add 10.9.0.2/24 dev synack-bv1
ip -n "$A" link set synack-bv0 up
ip -n "$B" link set synack-bv1 up
start_bg "$B" sink sh -c 'while :; do nc -l 9 >/dev/null || exit; done'
wait_listen "$B" 9 || fail "reference listener did not start"
t0=$(now_ms)
ns_exec "$A" timeout 120 nc -N 10.9.0.2 9 <"$TMP/data" || fail "transfer to the kernel failed"
t1=$(now_ms)
ref_ms=$((t1 - t0))
start_bg "$B" source sh -c "head -c $((MB * 1024 * 1024)) /dev/zero | nc -N -l 19"
wait_listen "$B" 19 || fail "reference source did not start"
t0=$(now_ms)
ns_exec "$A" timeout 120 sh -c "nc -d 10.9.0.2 19 | head -c $((MB * 1024 * 1024)) >/dev/null" ||
    fail "transfer from the kernel failed"
t1=$(now_ms)
ref_out_ms=$((t1 - t0))
start_bg "$B" echo_ref nc -lk 7
wait_listen "$B" 7 || fail "reference echo did not start"
t0=$(now_ms)
for i in $(seq 1 "$CONNS"); do
    echo x | ns_exec "$A" timeout 5 nc -N 10.9.0.2 7 >/dev/null || fail "reference connection $i failed"
done
t1=$(now_ms)
ref_conn_ms=$((t1 - t0))

rate() { awk -v mb="$1" -v ms="$2" 'BEGIN { printf "%.0f", mb * 1000 / (ms > 0 ? ms : 1) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "bulk ${MB} MiB host -> stack:  synack $(rate "$MB" "$syn_ms") MiB/s ($syn_ms ms),"\
    "kernel over veth $(rate "$MB" "$ref_ms") MiB/s ($ref_ms ms), ratio $(ratio "$ref_ms" "$syn_ms")"
echo "bulk ${MB} MiB stack -> host:  synack $(rate "$MB" "$syn_out_ms") MiB/s ($syn_out_ms ms),"\
    "kernel over veth $(rate "$MB" "$ref_out_ms") MiB/s ($ref_out_ms ms), ratio $(ratio "$ref_out_ms" "$syn_out_ms")"
echo "$CONNS sequential connections: synack ${syn_conn_ms} ms, kernel ${ref_conn_ms} ms,"\
    "ratio $(ratio "$ref_conn_ms" "$syn_conn_ms")"
pass "benchmark ran (ratios are synack's speed relative to the kernel's; 1.00 = as fast)"
finish
