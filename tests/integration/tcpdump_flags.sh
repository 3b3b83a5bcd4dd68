#!/bin/bash
# tcpdump_flags.sh - what the wire shows for a short session (host nc to
# tapnc -l, a line each way, the host closes), as the handshake tutorial
# tells it: S, S., ., then P. (data), then F.; the SYN-ACK acknowledges the
# SYN's sequence number + 1; both sides send a FIN.
. "$(dirname "$0")/lib.sh"
require_root
require_tools nc tcpdump

ns_create
NS=$NS_LAST
PORT=5050

fifo to_stack 5
fifo to_host 6
# -k: tapnc (and so tap0) stays after the session, so tcpdump ends cleanly
# rather than with "the interface disappeared" and its last packets lost.
BG_IN=$TMP/to_stack start_bg "$NS" tapnc "$TAPNC" -v -l -k $PORT
TP=$BG_LAST
wait_tap_up "$NS" tap0 "$HOST_IP" "$TP"

# tcpdump on the host side of the TAP (it exists only once tapnc runs).
# --immediate-mode -U: each packet taken and written at once; -Z root:
# keep writing to our own directory.
start_bg "$NS" tcpdump tcpdump -nn --immediate-mode -U -Z root -i tap0 -w "$TMP/session.pcap" "tcp port $PORT"
TD=$BG_LAST
wait_for 5 grep -q "listening on tap0" "$TMP/tcpdump.err" || { show "$TMP/tcpdump.err"; fail "tcpdump did not start on tap0"; }

# The session: one line each way, then the host closes (nc -N at stdin EOF).
BG_IN=$TMP/to_host start_bg "$NS" nc nc -n -N "$STACK_IP" $PORT
NC=$BG_LAST
echo "ping from host" >&6
wait_for 5 grep -qx "ping from host" "$TMP/tapnc.out" || { show "$TMP/tapnc.err" "$TMP/nc.err"; fail "the host's line did not reach tapnc"; }
echo "pong from stack" >&5
wait_for 5 grep -qx "pong from stack" "$TMP/nc.out" || fail "the stack's line did not reach the host"
exec 6>&-
wait_exit "$NC" 5 || fail "host nc did not exit after closing"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/nc.err"; fail "host nc exited $EXIT_CODE"; }
sleep 0.3 # the last ACK through tcpdump
kill -INT "$TD"
wait_exit "$TD" 5 || fail "tcpdump did not stop on SIGINT"
kill -0 "$TP" 2>/dev/null || { show "$TMP/tapnc.err"; fail "tapnc -l -k exited during the session"; }
kill -TERM "$TP"
wait_exit "$TP" 5 || fail "tapnc -l -k did not exit on SIGTERM"
[ "$EXIT_CODE" -eq 0 ] || { show "$TMP/tapnc.err"; fail "tapnc -l -k exited $EXIT_CODE"; }
exec 5>&-
pass "session: a line each way, host closed; tcpdump and tapnc stopped cleanly"

# Read it back: absolute sequence numbers (-S).
tcpdump -nn -S -r "$TMP/session.pcap" >"$TMP/session.txt" 2>"$TMP/read.err" ||
    { show "$TMP/read.err"; fail "tcpdump -r cannot read the capture"; }
log "the capture:"
sed 's/^/    /' "$TMP/session.txt"
mapfile -t flags < <(grep -o 'Flags \[[^]]*\]' "$TMP/session.txt" | sed 's/Flags \[\(.*\)\]/\1/')
[ ${#flags[@]} -ge 7 ] || fail "only ${#flags[@]} TCP packets captured; a session has at least 7"
log "flags in order: ${flags[*]}"

# The three-way handshake, in the tutorial's order, first thing on the wire.
[ "${flags[0]}" = S ] || fail "first packet has flags [${flags[0]}], expected [S]"
[ "${flags[1]}" = S. ] || fail "second packet has flags [${flags[1]}], expected [S.]"
[ "${flags[2]}" = . ] || fail "third packet has flags [${flags[2]}], expected [.]"
pass "handshake on the wire: S, S., ."

# Who sent what: SYN host -> stack, SYN-ACK stack -> host.
line_of() { grep 'Flags \[' "$TMP/session.txt" | sed -n "$1p"; }
syn=$(line_of 1)
synack=$(line_of 2)
printf '%s\n' "$syn" | grep -q "IP $HOST_IP\.[0-9]* > $STACK_IP\.$PORT:" || fail "the SYN is not host -> $STACK_IP.$PORT: $syn"
printf '%s\n' "$synack" | grep -q "IP $STACK_IP\.$PORT > $HOST_IP\.[0-9]*:" || fail "the SYN-ACK is not $STACK_IP.$PORT -> host: $synack"
syn_seq=$(printf '%s\n' "$syn" | sed -n 's/.*seq \([0-9]*\),.*/\1/p')
synack_ack=$(printf '%s\n' "$synack" | sed -n 's/.*ack \([0-9]*\),.*/\1/p')
[ -n "$syn_seq" ] && [ -n "$synack_ack" ] || fail "cannot read the SYN's seq or the SYN-ACK's ack"
[ "$synack_ack" = $(((syn_seq + 1) % 4294967296)) ] ||
    fail "SYN-ACK ack $synack_ack is not the SYN's seq $syn_seq + 1"
pass "the SYN-ACK acknowledges the SYN's seq + 1 ($syn_seq + 1 = $synack_ack)"

# Then data (P.), then FIN (F.), in that order; a FIN from each side.
first_p=-1 first_f=-1
for i in "${!flags[@]}"; do
    case ${flags[$i]} in
    *P*) [ $first_p -lt 0 ] && first_p=$i ;;
    esac
    case ${flags[$i]} in
    *F*) [ $first_f -lt 0 ] && first_f=$i ;;
    esac
done
[ $first_p -ge 3 ] || fail "no data packet [P.] after the handshake"
[ $first_f -gt $first_p ] || fail "the first FIN (packet $((first_f + 1))) does not come after the data (packet $((first_p + 1)))"
npush=$(grep -c 'Flags \[P\.\]' "$TMP/session.txt")
[ "$npush" -ge 2 ] || fail "expected a data packet [P.] each way, saw $npush"
grep 'Flags \[F' "$TMP/session.txt" | grep -q "IP $HOST_IP\.[0-9]* > $STACK_IP\.$PORT:" || fail "no FIN from the host"
grep 'Flags \[F' "$TMP/session.txt" | grep -q "IP $STACK_IP\.$PORT > $HOST_IP\.[0-9]*:" || fail "no FIN from the stack"
! grep -q 'Flags \[R' "$TMP/session.txt" || fail "an RST in a clean session: $(grep 'Flags \[R' "$TMP/session.txt")"
pass "then data [P.] ($npush packets), then [F.] from each side, no RST"

finish
