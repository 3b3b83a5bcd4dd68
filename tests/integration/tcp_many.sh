#!/bin/bash
# tcp_many.sh - many connections: 200 in a row to tapnc -l -k and to tapd's
# echo, 3 open at once to tapnc -l -k (each one's data arrives, stdin goes
# to all), 50 at once to echo with 64 KiB each (every byte back, per
# connection).  What each of tapd's services sends: tapd_services.sh.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc ss sha256sum

ns_create
NS=$NS_LAST

# 1. 200 connections in a row to tapnc -l -k, one short line each.
start_bg "$NS" keep "$TAPNC" -l -k 5050
TK=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TK"
t0=$(now_ms)
ns_exec "$NS" timeout 60 bash -c '
    fails=0
    for i in $(seq 1 200); do
        echo "line $i" | timeout 5 nc -n -N '"$STACK_IP"' 5050 >/dev/null || fails=$((fails + 1))
    done
    exit $fails' >"$TMP/seq.out" 2>"$TMP/seq.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "200 sequential connections to tapnc -l -k: not done in 60 s"
[ $rc -eq 0 ] || { show "$TMP/seq.err" "$TMP/keep.err"; fail "200 sequential connections to tapnc -l -k: $rc failed"; }
wait_for 2 bash -c "[ \$(grep -c '^line ' '$TMP/keep.out') -ge 200 ]"
n=$(grep -c '^line ' "$TMP/keep.out")
[ "$n" -eq 200 ] || fail "tapnc -l -k received $n of 200 lines"
seq 1 200 | sed 's/^/line /' | sort >"$TMP/seq.want"
sort "$TMP/keep.out" | cmp -s - "$TMP/seq.want" || fail "tapnc -l -k: the 200 lines received are not lines 1 to 200"
kill -0 "$TK" 2>/dev/null || fail "tapnc -l -k exited during the connections"
log "200 sequential connections to tapnc -l -k in $ms ms"
pass "200 connections in a row to tapnc -l -k: every line arrived"
kill -TERM "$TK"
wait_exit "$TK" 5 || fail "tapnc -l -k did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || fail "tapnc -l -k exited $EXIT_CODE on SIGTERM"
wait_for 3 bash -c "! ip -n '$NS' link show tap0 >/dev/null 2>&1" || fail "tap0 still exists after tapnc exited"

# 1b. tapnc -l -k serving 3 connections at once: all 3 are established
# (the host's ss sees them) before any sends or closes; a line from each,
# sent while all are open, arrives; a line on tapnc's stdin goes to all 3;
# then each closes (nc -N) and tapnc -l -k keeps listening.
fifo k_in 5
BG_IN=$TMP/k_in start_bg "$NS" many "$TAPNC" -v -l -k 5060
TM=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TM"
wait_for 5 grep -q "Listening on" "$TMP/many.err" || fail "tapnc -l -k 5060 did not say it listens"
NCS=()
for i in 1 2 3; do
    fifo k_nc$i $((5 + i))
    BG_IN=$TMP/k_nc$i start_bg "$NS" many-nc$i nc -n -N -p $((40010 + i)) "$STACK_IP" 5060
    NCS+=("$BG_LAST")
done
established() { ip netns exec "$NS" ss -Htn state established 'dport = :5060' | wc -l; }
wait_for 5 bash -c "[ \$(ip netns exec '$NS' ss -Htn state established 'dport = :5060' | wc -l) -eq 3 ]" ||
    { ip netns exec "$NS" ss -tan >&2; fail "tapnc -l -k: 3 host connections are not all established at once"; }
wait_for 5 bash -c "[ \$(grep -c '^Connection received on ' '$TMP/many.err') -eq 3 ]" ||
    { show "$TMP/many.err"; fail "tapnc -l -k -v: not 3 'Connection received' lines"; }
for i in 1 2 3; do
    grep -qx "Connection received on $HOST_IP $((40010 + i))" "$TMP/many.err" ||
        { show "$TMP/many.err"; fail "tapnc -l -k -v: no 'Connection received on $HOST_IP $((40010 + i))'"; }
done
for i in 1 2 3; do
    echo "from client $i" >&$((5 + i))
done
wait_for 5 bash -c "[ \$(grep -c '^from client [123]\$' '$TMP/many.out') -eq 3 ]" ||
    { show "$TMP/many.out"; fail "tapnc -l -k: not every client's line arrived on stdout"; }
echo "to every client" >&5
for i in 1 2 3; do
    wait_for 5 grep -qx "to every client" "$TMP/many-nc$i.out" ||
        fail "tapnc -l -k: the line on its stdin did not reach client $i"
done
n=$(established)
[ "$n" -eq 3 ] || { ip netns exec "$NS" ss -tan >&2; fail "tapnc -l -k: $n of 3 connections still established after the lines, expected all 3"; }
pass "tapnc -l -k: 3 connections open at once, each one's line arrived, stdin reached all 3"
for i in 1 2 3; do
    eval "exec $((5 + i))>&-" # nc -N: FIN; tapnc -l closes that one in turn
done
for i in 1 2 3; do
    wait_exit "${NCS[$((i - 1))]}" 5 || fail "host nc $i did not exit after its FIN"
    [ "$EXIT_CODE" -eq 0 ] || fail "host nc $i exited $EXIT_CODE"
done
kill -0 "$TM" 2>/dev/null || { show "$TMP/many.err"; fail "tapnc -l -k exited when its connections closed"; }
ns_exec "$NS" timeout 5 nc -n -z "$STACK_IP" 5060 || fail "tapnc -l -k no longer accepts after its 3 connections closed"
sort "$TMP/many.out" | cmp -s - <(printf 'from client %s\n' 1 2 3) ||
    { show "$TMP/many.out"; fail "tapnc -l -k: stdout is not exactly the 3 clients' lines"; }
kill -TERM "$TM"
wait_exit "$TM" 5 || fail "tapnc -l -k did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || fail "tapnc -l -k exited $EXIT_CODE on SIGTERM"
exec 5>&-
pass "tapnc -l -k: the 3 closed, it kept listening; exit 0 on SIGTERM"
wait_for 3 bash -c "! ip -n '$NS' link show tap0 >/dev/null 2>&1" || fail "tap0 still exists after tapnc exited"

# tapd from here on.
start_bg "$NS" tapd "$TAPD" -v
TD=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"

# 2. 200 connections in a row to echo: each line comes back.
t0=$(now_ms)
ns_exec "$NS" timeout 60 bash -c '
    fails=0
    for i in $(seq 1 200); do
        got=$(echo "echo $i" | timeout 5 nc -n -N '"$STACK_IP"' 7)
        [ "$got" = "echo $i" ] || { echo "connection $i: got [$got]" >&2; fails=$((fails + 1)); }
    done
    exit $fails' >"$TMP/eseq.out" 2>"$TMP/eseq.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "200 sequential echo connections: not done in 60 s"
[ $rc -eq 0 ] || { show "$TMP/eseq.err"; fail "200 sequential echo connections: $rc did not get their line back"; }
log "200 sequential echo connections in $ms ms"
pass "200 connections in a row to echo: every line came back"

# 3. 50 connections at once to echo, 64 KiB of distinct data each.
mkdir "$TMP/par"
for i in $(seq 1 50); do
    head -c 65536 /dev/urandom >"$TMP/par/in.$i"
done
t0=$(now_ms)
ns_exec "$NS" timeout 60 bash -c '
    cd "$1"
    pids=()
    for i in $(seq 1 50); do
        timeout 30 nc -n -N '"$STACK_IP"' 7 <in.$i >out.$i 2>err.$i &
        pids[$i]=$!
    done
    fails=0
    for i in $(seq 1 50); do
        wait ${pids[$i]}
        rc=$?
        [ $rc -eq 0 ] || { echo "connection $i: nc exited $rc" >&2; fails=$((fails + 1)); }
    done
    exit $fails' par "$TMP/par" 2>"$TMP/par.err"
rc=$?
ms=$(($(now_ms) - t0))
[ $rc -ne 124 ] || fail "50 parallel echo connections: not done in 60 s"
bad=()
for i in $(seq 1 50); do
    [ "$(sha "$TMP/par/in.$i")" = "$(sha "$TMP/par/out.$i")" ] || bad+=("$i:$(stat -c %s "$TMP/par/out.$i")")
done
[ ${#bad[@]} -eq 0 ] || { show "$TMP/tapd.err"; fail "50 parallel echo connections: ${#bad[@]} did not get their 65536 bytes back (conn:bytes ${bad[*]})"; }
[ $rc -eq 0 ] || { show "$TMP/par.err"; fail "50 parallel echo connections: $rc nc exited non-zero"; }
log "50 parallel echo connections x 64 KiB in $ms ms"
pass "50 connections at once to echo, 64 KiB each: every byte back (sha256 per connection)"

kill -0 "$TD" 2>/dev/null || { show "$TMP/tapd.err"; fail "tapd died"; }
ns_exec "$NS" timeout 5 ping -n -c 1 -W 2 "$STACK_IP" >/dev/null || fail "the stack no longer answers ping after all this"
kill -TERM "$TD"
wait_exit "$TD" 5 || fail "tapd did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapd.err"; fail "tapd exited $EXIT_CODE on SIGTERM"; }
pass "tapd still answers ping, and exits 0 on SIGTERM"

finish
