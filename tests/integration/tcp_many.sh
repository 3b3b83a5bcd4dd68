#!/bin/bash
# tcp_many.sh - many connections: 200 in a row to tapnc -l -k and to tapd's
# echo, 50 at once to echo with 64 KiB each (every byte back, per
# connection), daytime's one line, discard taking 1 MB, chargen's pattern.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc sha256sum

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

# 4. daytime: one line, then the server closes.
ns_exec "$NS" timeout 5 nc -n -d "$STACK_IP" 13 >"$TMP/daytime" 2>&1
rc=$?
[ $rc -eq 0 ] || { show "$TMP/daytime"; fail "daytime: nc exited $rc (the server should close after its line)"; }
lines=$(wc -l <"$TMP/daytime")
[ "$lines" -eq 1 ] || { show "$TMP/daytime"; fail "daytime: expected exactly one line, got $lines"; }
grep -q "$(date -u +%Y)" "$TMP/daytime" || { show "$TMP/daytime"; fail "daytime: the line has no current year"; }
log "daytime: $(tr -d '\r' <"$TMP/daytime")"
pass "daytime: one line, then closed"

# 5. discard: 1 MB taken; nothing comes back; the server closes after us.
head -c 1000000 /dev/urandom >"$TMP/mb"
ns_exec "$NS" timeout 15 nc -n -N "$STACK_IP" 9 <"$TMP/mb" >"$TMP/discard.out" 2>"$TMP/discard.err"
rc=$?
[ $rc -eq 0 ] || { show "$TMP/discard.err"; fail "discard: nc -N with 1 MB exited $rc"; }
[ ! -s "$TMP/discard.out" ] || fail "discard: data came back ($(stat -c %s "$TMP/discard.out") bytes)"
pass "discard: 1 MB accepted, nothing back, closed after our FIN"

# 6. chargen: the RFC 864 pattern (lines of 72 from ' ', each one later).
ns_exec "$NS" timeout 5 bash -c "nc -n -d $STACK_IP 19 | head -c 740" >"$TMP/chargen" 2>/dev/null
awk 'BEGIN { for (l = 0; l < 10; l++) { s = ""; for (c = 0; c < 72; c++) s = s sprintf("%c", 32 + (l + c) % 95); printf "%s\r\n", s } }' >"$TMP/chargen.want"
cmp -s "$TMP/chargen" "$TMP/chargen.want" || { show "$TMP/chargen"; fail "chargen: the first 10 lines are not the RFC 864 pattern"; }
pass "chargen: the first 10 lines follow RFC 864"

kill -0 "$TD" 2>/dev/null || { show "$TMP/tapd.err"; fail "tapd died"; }
ns_exec "$NS" timeout 5 ping -n -c 1 -W 2 "$STACK_IP" >/dev/null || fail "the stack no longer answers ping after all this"
kill -TERM "$TD"
wait_exit "$TD" 5 || fail "tapd did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapd.err"; fail "tapd exited $EXIT_CODE on SIGTERM"; }
pass "tapd still answers ping, and exits 0 on SIGTERM"

finish
