#!/usr/bin/env bash
# gdb in batch mode with docs/gdb/synack.py: synack-break-state stops at
# each state of a passive and an active session, in order; synack-tcbs
# lists the connections and the TCB printer shows them relative to ISS and
# IRS.  The passive run sources the script, the active one relies on gdb
# auto-loading the copy the build puts beside tapnc.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc gdb

SCRIPT=$LIB_DIR/../../docs/gdb/synack.py
[ -r "$SCRIPT" ] || fail "no gdb script at $SCRIPT"

# gdb_script FILE LOAD STATE...: LOAD the helpers (a command, or "" when
# gdb auto-loads them), break at each state, print the TCB list and the
# TCB itself (still in its old state: the breakpoint is at the entry of
# tcp_set_state), go on.
gdb_script()
{
    local f=$1 load=$2 n=0 s
    shift 2
    {
        echo "set pagination off"
        echo "set confirm off"
        [ -z "$load" ] || echo "$load"
        for s in "$@"; do
            echo "synack-break-state $s"
            n=$((n + 1))
        done
        echo "commands 1-$n"
        echo "silent"
        echo "synack-tcbs"
        echo "print *c"
        echo "continue"
        echo "end"
        echo "run"
    } >"$f"
}

# seen FILE: the "synack: A -> B" lines' new states, one per line.
seen() { sed -nE 's/^synack: .* -> ([A-Z_0-9]+)$/\1/p' "$1" | tr '\n' ' ' | sed 's/ $//'; }

ns_create
NS=$NS_LAST

# Passive side: tapnc -l under gdb, the host's nc connects, sends, closes.
gdb_script "$TMP/passive.gdb" "source $SCRIPT" LISTEN SYN_RECEIVED ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED
start_bg "$NS" gdb_passive timeout 60 gdb -q -batch -x "$TMP/passive.gdb" --args "$TAPNC" -l 5050
PID=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$PID"
wait_for 10 grep -q -- '-> LISTEN' "$TMP/gdb_passive.out" || { show "$TMP/gdb_passive.out"; fail "gdb never saw LISTEN"; }
(printf 'hello\n'; sleep 0.3) | ns_exec "$NS" timeout 20 nc -N "$STACK_IP" 5050 >/dev/null || fail "nc failed"
wait_exit "$PID" 30 || fail "tapnc under gdb did not finish"
got=$(seen "$TMP/gdb_passive.out")
want="LISTEN SYN_RECEIVED ESTABLISHED CLOSE_WAIT LAST_ACK CLOSED"
[ "$got" = "$want" ] || { show "$TMP/gdb_passive.out"; fail "passive side: saw '$got', want '$want'"; }
grep -q 'SYN_RECEIVED 10.0.0.2:5050 ' "$TMP/gdb_passive.out" || fail "synack-tcbs did not list the connection"
pass "passive side stopped at: $got"
# Entering CLOSE_WAIT the TCB is still ESTABLISHED, and has taken the 6
# bytes and the FIN: rcv_nxt = IRS + 1 + 6 + 1; our SYN is acknowledged.
grep -qE '^\$[0-9]+ = TCB ESTABLISHED 10\.0\.0\.2:5050 <-> 10\.0\.0\.1:[0-9]+$' "$TMP/gdb_passive.out" &&
    grep -qE '^  snd_una=ISS\+1 .* iss=[0-9]+$' "$TMP/gdb_passive.out" &&
    grep -qE '^  rcv_nxt=IRS\+8 .* irs=[0-9]+ mss=[0-9]+$' "$TMP/gdb_passive.out" ||
    { show "$TMP/gdb_passive.out"; fail "the TCB printer did not show the connection relative to ISS and IRS"; }
pass "print *c: TCB ESTABLISHED, snd_una=ISS+1, rcv_nxt=IRS+8"

# Active side: tapnc connects to the host's nc -l; it closes first.
[ -r "$BUILD/apps/tapnc-gdb.py" ] || fail "the build did not put tapnc-gdb.py beside tapnc"
gdb_script "$TMP/active.gdb" "" SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT
start_bg "$NS" host_nc timeout 30 nc -l 6000
start_bg "$NS" gdb_active timeout 60 gdb -q -batch -iex "add-auto-load-safe-path $BUILD/apps" \
    -x "$TMP/active.gdb" --args "$TAPNC" -N "$HOST_IP" 6000
PID=$BG_LAST
wait_exit "$PID" 30 || fail "tapnc under gdb did not finish"
got=$(seen "$TMP/gdb_active.out")
want="SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT"
[ "$got" = "$want" ] || { show "$TMP/gdb_active.out" "$TMP/gdb_active.err"; fail "active side: saw '$got', want '$want'"; }
pass "active side stopped at: $got (helpers auto-loaded from tapnc-gdb.py)"
finish
