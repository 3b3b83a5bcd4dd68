#!/bin/bash
# tapd_services.sh - what each of tapd's services does, and its switches:
# echo (7) returns the bytes, discard (9) takes them and sends nothing,
# daytime (13) sends one line and closes, chargen (19) sends the RFC 864
# pattern; with --no-echo, --no-discard, --no-daytime or --no-chargen that
# port is refused at once (RST) while the other three still answer; with
# all four off tapd says so and the stack still answers ping.
# (Many connections to these services at once: tcp_many.sh.)
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc ping sha256sum

SERVICES=(echo discard daytime chargen)
declare -A PORT=([echo]=7 [discard]=9 [daytime]=13 [chargen]=19)

head -c 100000 /dev/urandom >"$TMP/data"
# The first 96 lines of RFC 864: 72 characters from ' ', each line one
# later in the 95 printable ones; line 95 starts again like line 0.
awk 'BEGIN { for (l = 0; l < 96; l++) { s = ""; for (c = 0; c < 72; c++) s = s sprintf("%c", 32 + (l + c) % 95); printf "%s\r\n", s } }' >"$TMP/chargen.want"

# check_SERVICE TAG: the service answers as it should, or a soft failure
# (returns 1).  TAG names the tapd run, for the messages.
check_echo()
{
    ns_exec "$NS" timeout 10 nc -n -N "$STACK_IP" 7 <"$TMP/data" >"$TMP/$1.echo" 2>"$TMP/$1.echo.err"
    local rc=$?
    [ $rc -eq 0 ] || { show "$TMP/$1.echo.err"; soft_fail "$1: echo: nc -N exited $rc"; return 1; }
    [ "$(sha "$TMP/data")" = "$(sha "$TMP/$1.echo")" ] ||
        { soft_fail "$1: echo: $(stat -c %s "$TMP/$1.echo") bytes came back, not the 100000 sent"; return 1; }
}

check_discard()
{
    # nc -N exits once the server closes after our FIN: 0 means all taken.
    ns_exec "$NS" timeout 10 nc -n -N "$STACK_IP" 9 <"$TMP/data" >"$TMP/$1.discard" 2>"$TMP/$1.discard.err"
    local rc=$?
    [ $rc -eq 0 ] || { show "$TMP/$1.discard.err"; soft_fail "$1: discard: nc -N with 100000 bytes exited $rc"; return 1; }
    [ ! -s "$TMP/$1.discard" ] ||
        { soft_fail "$1: discard: data came back ($(stat -c %s "$TMP/$1.discard") bytes)"; return 1; }
}

check_daytime()
{
    # nc -d: no stdin; it exits 0 only when the server closes.
    ns_exec "$NS" timeout 5 nc -n -d "$STACK_IP" 13 >"$TMP/$1.daytime" 2>&1
    local rc=$? lines
    [ $rc -eq 0 ] || { show "$TMP/$1.daytime"; soft_fail "$1: daytime: nc exited $rc (the server should close after its line)"; return 1; }
    lines=$(wc -l <"$TMP/$1.daytime")
    [ "$lines" -eq 1 ] || { show "$TMP/$1.daytime"; soft_fail "$1: daytime: expected exactly one line, got $lines"; return 1; }
    # As tapd writes it: "Tuesday, November 24, 2026 20:37:56-UTC" CR LF.
    grep -qE "^[A-Z][a-z]+day, [A-Z][a-z]+ [0-3][0-9], $(date -u +%Y) [0-2][0-9]:[0-5][0-9]:[0-6][0-9]-UTC"$'\r'"\$" "$TMP/$1.daytime" ||
        { show "$TMP/$1.daytime"; soft_fail "$1: daytime: the line is not 'Weekday, Month DD, YYYY HH:MM:SS-UTC' CR LF of this year"; return 1; }
    DAYTIME_LINE=$(tr -d '\r' <"$TMP/$1.daytime")
}

check_chargen()
{
    ns_exec "$NS" timeout 5 bash -c "nc -n -d $STACK_IP 19 | head -c $(stat -c %s "$TMP/chargen.want")" >"$TMP/$1.chargen" 2>/dev/null
    cmp -s "$TMP/$1.chargen" "$TMP/chargen.want" ||
        { show "$TMP/$1.chargen"; soft_fail "$1: chargen: the first 96 lines are not the RFC 864 pattern"; return 1; }
}

# check_refused TAG PORT: nc -z fails at once (the stack answers RST).
check_refused()
{
    local t0 rc ms
    t0=$(now_ms)
    ns_exec "$NS" timeout 5 nc -n -z "$STACK_IP" "$2" >/dev/null 2>&1
    rc=$?
    ms=$(($(now_ms) - t0))
    [ $rc -ne 124 ] || { soft_fail "$1: nc -z to port $2 hung (no RST?)"; return 1; }
    [ $rc -ne 0 ] || { soft_fail "$1: port $2 accepted a connection; its service is off"; return 1; }
    [ $ms -lt 2000 ] || { soft_fail "$1: port $2 took $ms ms to refuse (expected an RST at once)"; return 1; }
}

# run_tapd TAG OPTIONS...: tapd -v in a fresh namespace; $NS, $TD.
run_tapd()
{
    local tag=$1
    shift
    ns_create
    NS=$NS_LAST
    start_bg "$NS" "$tag" "$TAPD" -v "$@"
    TD=$BG_LAST
    wait_tap_up "$NS" tap0 "$HOST_IP" "$TD"
}

# stop_tapd TAG: SIGTERM, exit 0.
stop_tapd()
{
    kill -TERM "$TD"
    wait_exit "$TD" 5 || fail "$1: tapd did not exit on SIGTERM"
    [ "$EXIT_CODE" -eq 0 ] || { show "$TMP/$1.err"; soft_fail "$1: tapd exited $EXIT_CODE on SIGTERM"; }
}

# 1. Every service on (the default).
run_tapd all
check_echo all && pass "echo: 100000 bytes sent, the same 100000 back (sha256)"
check_discard all && pass "discard: 100000 bytes taken, nothing back, closed after our FIN"
check_daytime all && pass "daytime: one line, then closed: $DAYTIME_LINE"
check_chargen all && pass "chargen: the first 96 lines follow RFC 864 (the pattern's whole period and its restart)"
stop_tapd all

# 2. Each switch: that port refused at once, the three others still answer,
# and tapd -v names only those it serves.
for off in "${SERVICES[@]}"; do
    tag=no-$off
    run_tapd "$tag" "--no-$off"
    bad=0
    check_refused "$tag" "${PORT[$off]}" || bad=1
    on=()
    for svc in "${SERVICES[@]}"; do
        [ "$svc" = "$off" ] && continue
        on+=("$svc")
        "check_$svc" "$tag" || bad=1
    done
    for svc in "${SERVICES[@]}"; do
        line="tapd: $svc on $STACK_IP ${PORT[$svc]}"
        if [ "$svc" = "$off" ]; then
            ! grep -qx "$line" "$TMP/$tag.err" || { soft_fail "$tag: tapd -v says '$line'"; bad=1; }
        else
            grep -qx "$line" "$TMP/$tag.err" || { show "$TMP/$tag.err"; soft_fail "$tag: tapd -v does not say '$line'"; bad=1; }
        fi
    done
    stop_tapd "$tag"
    [ $bad -eq 0 ] && pass "--no-$off: port ${PORT[$off]} refused at once; ${on[*]} still answer"
done

# 3. All four off: every port refused, tapd says it only answers ping, and
# it does.
run_tapd none --no-echo --no-discard --no-daytime --no-chargen
bad=0
for svc in "${SERVICES[@]}"; do
    check_refused none "${PORT[$svc]}" || bad=1
done
grep -qx "tapd: every service is off; answering ping only" "$TMP/none.err" ||
    { show "$TMP/none.err"; soft_fail "none: tapd did not say 'every service is off; answering ping only'"; bad=1; }
ns_exec "$NS" timeout 5 ping -n -c 1 -W 2 "$STACK_IP" >/dev/null || { soft_fail "none: the stack does not answer ping"; bad=1; }
stop_tapd none
[ $bad -eq 0 ] && pass "every service off: ports 7, 9, 13, 19 refused at once, 'answering ping only', ping answered"

finish
