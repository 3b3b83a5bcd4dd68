#!/usr/bin/env bash
# apps/demo.sh, the README's one-command demo: it runs the tutorial's
# session, prints tcpdump's capture next to the stack's trace (identical
# frame by frame) and the ladder, and leaves no namespace, process or
# temporary directory behind - also when it is interrupted half-way.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc tcpdump

DEMO=$LIB_DIR/../../apps/demo.sh
leftovers() { { ip netns list | grep -o 'synack-demo-[0-9]*'; ls -d /tmp/synack-demo.* 2>/dev/null; } | sort; }
leftovers >"$TMP/before"

# run_demo NAME: the demo in a session of its own; its PID in $BG_LAST.
run_demo()
{
    BUILD=$BUILD setsid bash "$DEMO" >"$TMP/$1.out" 2>"$TMP/$1.err" </dev/null &
    BG_LAST=$!
    BG_PIDS+=("$BG_LAST")
}

# 1. A whole run.
run_demo demo
DEMO_PID=$BG_LAST
wait_exit "$DEMO_PID" 60 || fail "the demo still runs after 60 s"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/demo.out" "$TMP/demo.err"; fail "the demo exited $EXIT_CODE"; }
out=$TMP/demo.out
summary=$(grep -E '^[0-9]+ of [0-9]+ frames that tcpdump saw are identical' "$out") ||
    { show "$out"; fail "no frame-by-frame summary"; }
read -r same _ total _ <<<"$summary"
[ "$total" -ge 10 ] && [ "$same" -eq "$total" ] ||
    { show "$out"; fail "tcpdump and the trace differ: $summary"; }
pass "$summary"
for f in 'S' 'S.' '.' 'P.' 'F.'; do
    grep -F "tcpdump    IP " "$out" | grep -qF "Flags [$f]" ||
        { show "$out"; fail "no [$f] segment in the capture"; }
done
pass "the capture shows S, S., ., P. and F."
grep -qE '^ +0\.000  \|-+ S seq 0 len 0 -+>\|$' "$out" || { show "$out"; fail "no ladder starting with the SYN"; }
grep -qE '\|<-+ F\. seq [0-9]+ ack [0-9]+ len 0 -+\|$' "$out" || { show "$out"; fail "no FIN from the stack in the ladder"; }
pass "the ladder runs from the SYN to the FINs"
grep -qx "synack got:    hello from the host's nc" "$out" &&
    grep -qx "the host got:  hello from synack's tapnc" "$out" ||
    { show "$out"; fail "a line did not arrive"; }
pass "a line went each way"
leftovers >"$TMP/after"
diff "$TMP/before" "$TMP/after" >/dev/null || { show "$TMP/after"; fail "the demo left a namespace or directory behind"; }
pass "nothing left behind"

# 2. Stopped (SIGTERM: a background job ignores SIGINT) while tapnc is up.
run_demo demo_int
INT_PID=$BG_LAST
demo_tap_up() { ip -n "synack-demo-$INT_PID" link show tap0 >/dev/null 2>&1; }
wait_for 10 demo_tap_up || fail "the stopped demo's tapnc never brought tap0 up"
kill -TERM "$INT_PID"
wait_exit "$INT_PID" 10 || fail "the demo still runs 10 s after SIGTERM"
[ "$EXIT_CODE" -ne 0 ] || fail "a stopped demo exited 0"
leftovers >"$TMP/after_int"
diff "$TMP/before" "$TMP/after_int" >/dev/null || { show "$TMP/after_int"; fail "the interrupted demo left a namespace or directory behind"; }
pass "stopped, it exits $EXIT_CODE and leaves nothing behind"
finish
