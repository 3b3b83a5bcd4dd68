#!/bin/bash
# many_conns.sh - 100,000 connections at once to tapd's echo: the table
# grows past the 4,096 it once had and none is refused.  Six host-side
# processes (tests/tools/connmany) open them from six addresses added to
# the host side of the TAP (a process holds at most 20,000 fds, an address
# about 64,000 ports to one service); tapd's own table (SIGUSR1) must list
# every one ESTABLISHED; echo still works on one more; then all close and
# tapd's table is empty again.  MANY_CONNS=N for another count (the
# benchmark, tests/bench/scale.sh, measures memory and time).
. "$(dirname "$0")/lib.sh"
require_root
require_tools ss
CONNMANY=$BUILD/tests/connmany
[ -x "$CONNMANY" ] || fail "no connmany at $CONNMANY: build first (ninja -C build)"

N=${MANY_CONNS:-100000}
NPROC=6
PER=$(((N + NPROC - 1) / NPROC))

ns_create
NS=$NS_LAST
# Ports from 1024 up: each source address then has 64,000 to a service.
ns_exec "$NS" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" || fail "cannot widen the port range"
# SYNs of 6 clients at once, 200 each in flight: a half-open queue of 8192.
start_bg "$NS" tapd "$TAPD" --backlog 8192
TD=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"
for i in $(seq 1 $NPROC); do
    ip -n "$NS" addr add "10.0.0.$((100 + i))/24" dev tap0 || fail "cannot add 10.0.0.$((100 + i)) to tap0"
done

# The stack learns each client address's MAC before the SYNs come (an
# echo reply needs it), so no SYN-ACK waits in its ARP queue.
for i in $(seq 1 $NPROC); do
    ns_exec "$NS" ping -n -q -c 1 -W 2 -I "10.0.0.$((100 + i))" "$STACK_IP" >/dev/null ||
        fail "no ping answer to 10.0.0.$((100 + i))"
done

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$TD/status"; }
rss0=$(rss_kb)

# 1. Open them all, from NPROC processes at once; each holds its share.
t0=$(now_ms)
start_holders "$NPROC" "$PER" 40
wait_for 45 all_holding || { show "$TMP"/holder*.err "$TMP/tapd.err"; fail "the $NPROC clients did not all finish connecting in 45 s"; }
ms=$(($(now_ms) - t0))
est=$(cat "$TMP"/holder*.out | awk '/^established / { s += $2 } END { print s + 0 }')
failed=$(cat "$TMP"/holder*.out | awk '/^failed / { s += $2 } END { print s + 0 }')
log "$est connections established in $ms ms ($failed failed); tapd's RSS $rss0 -> $(rss_kb) KiB"
[ "$est" -eq $((PER * NPROC)) ] || { show "$TMP"/holder*.err; fail "$est of $((PER * NPROC)) connections established ($failed failed)"; }
pass "$est connections established from $NPROC processes and addresses"

# 2. tapd's own table: every one ESTABLISHED (SIGUSR1 prints counters and
# the table on its stderr).
table_count()
{
    # $1: the byte offset of tapd.err where this dump starts; $2: state.
    tail -c +"$(($1 + 1))" "$TMP/tapd.err" | grep -c "^$2 .* $STACK_IP:7 "
}
dumped()
{
    tail -c +"$(($1 + 1))" "$TMP/tapd.err" | grep -q "^$2 "
}
# dump: SIGUSR1, then wait until the dump stops growing; its offset in $off.
dump()
{
    local prev=-1 sz i
    off=$(stat -c %s "$TMP/tapd.err")
    kill -USR1 "$TD"
    for i in $(seq 1 100); do
        sz=$(stat -c %s "$TMP/tapd.err")
        [ "$sz" -eq "$prev" ] && [ "$sz" -gt "$off" ] && return 0
        prev=$sz
        sleep 0.2
    done
}
# A client counts a connection once the SYN-ACK came; tapd, once the ACK
# did.  An ACK lost in the TAP's queue (6 clients' SYNs at once) is
# repaired by the SYN-ACK's retransmission, a few seconds at most.
for try in $(seq 1 10); do
    dump
    n=$(table_count "$off" ESTAB)
    [ "$n" -eq "$est" ] && break
    sleep 1
done
[ "$n" -eq "$est" ] || { tail -c +"$((off + 1))" "$TMP/tapd.err" | grep -v '^ESTAB\|^\s' | head -60 >&2; fail "tapd's table lists $n ESTABLISHED connections on port 7, not $est"; }
if tail -c +"$((off + 1))" "$TMP/tapd.err" | grep -q "connections dropped\|SYNs dropped: connection limit"; then
    soft_fail "tapd counted connections refused for a limit"
fi
pass "tapd's own table: all $n ESTABLISHED"

# 3. Echo on one more connection, with all of them open.
ns_exec "$NS" timeout 30 "$CONNMANY" -b "$HOST_IP" -n 0 -r 50 -z 100 -T 20 "$STACK_IP" 7 >"$TMP/rr.out" 2>"$TMP/rr.err" ||
    { show "$TMP/rr.err" "$TMP/rr.out"; fail "echo on one more connection failed with $est open"; }
log "echo with $est open: median $(awk '/^rr_median_us/ { print $2 }' "$TMP/rr.out") us"
pass "echo works on one more connection with $est open (50 round trips, every byte back)"

# 4. Close them all: a FIN from each client, tapd's FIN back on every one.
t0=$(now_ms)
for pid in "${HOLDERS[@]}"; do
    kill -USR1 "$pid"
done
for i in $(seq 1 $NPROC); do
    wait_exit "${HOLDERS[$((i - 1))]}" 60 || fail "client $i did not finish closing in 60 s"
    if [ "$EXIT_CODE" -ne 0 ]; then
        show "$TMP/holder$i.err" "$TMP/holder$i.out"
        ip -n "$NS" -s link show tap0 >&2
        ns_exec "$NS" ss -tan state all | awk 'NR > 1 { print $1 }' | sort | uniq -c >&2
        dump
        tail -c +"$((off + 1))" "$TMP/tapd.err" | grep -v '^ESTAB\|^\s' | head -60 >&2
        tail -c +"$((off + 1))" "$TMP/tapd.err" | awk '/^[A-Z]/ { print $1 }' | sort | uniq -c >&2
        fail "client $i exited $EXIT_CODE"
    fi
done
ms=$(($(now_ms) - t0))
closed=$(cat "$TMP"/holder*.out | awk '/^closed / { s += $2 } END { print s + 0 }')
lost=$(cat "$TMP"/holder*.out | awk '/^lost_while_holding / { s += $2 } END { print s + 0 }')
log "$closed closed in $ms ms"
[ "$lost" -eq 0 ] || fail "$lost connections were closed or reset by tapd while held"
[ "$closed" -eq "$est" ] || fail "$closed of $est connections saw tapd's FIN"
pass "all $closed closed (FIN both ways) in $ms ms"

# 5. Nothing is left in tapd's table but its listeners.
none_left()
{
    local o
    o=$(stat -c %s "$TMP/tapd.err")
    kill -USR1 "$TD"
    sleep 0.3
    dumped "$o" LISTEN || return 1
    [ "$(tail -c +"$((o + 1))" "$TMP/tapd.err" | grep -Ec '^(ESTAB|SYN-RECV|FIN-WAIT|CLOSE-WAIT|CLOSING|LAST-ACK|TIME-WAIT|CLOSED) ')" -eq 0 ]
}
wait_for 10 none_left || { tail -c 2000 "$TMP/tapd.err" >&2; fail "connections are left in tapd's table after all closed"; }
pass "tapd's table holds only its listeners after the close"

kill -0 "$TD" 2>/dev/null || { show "$TMP/tapd.err"; fail "tapd died"; }
kill -TERM "$TD"
wait_exit "$TD" 10 || fail "tapd did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || fail "tapd exited $EXIT_CODE on SIGTERM"
pass "tapd exits 0 on SIGTERM"
finish
