#!/usr/bin/env bash
# demo.sh - the seed tutorial's session, with synack in place of the
# kernel's TCP, in one command:
#
#   sudo apps/demo.sh
#
# In a throwaway network namespace (your host's network is not touched) it
# starts `tapnc -lvp 5050 --trace --ladder`, connects with the host's nc,
# sends a line each way, closes, and prints tcpdump's capture next to the
# stack's own trace, frame by frame, and the ladder diagram.  It cleans up whatever happens.
set -u

here=$(cd "$(dirname "$0")" && pwd)
BUILD=${BUILD:-$here/../build}
TAPNC=$BUILD/apps/tapnc
PORT=5050

die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root to make a network namespace and a TAP: run it with sudo"
[ -x "$TAPNC" ] || die "no $TAPNC: build first (meson setup build && ninja -C build), or set BUILD"
for t in ip nc tcpdump mkfifo timeout; do
    command -v "$t" >/dev/null || die "needs $t (apt-get install iproute2 netcat-openbsd tcpdump)"
done

NS=synack-demo-$$
TMP=$(mktemp -d /tmp/synack-demo.XXXXXX) || die "mktemp failed"
PIDS=()
cleanup()
{
    local pid
    # Every background job, also one started just before a signal came
    # (and not yet in PIDS).
    PIDS+=($(jobs -p))
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$NS" || die "cannot create a network namespace"
ip -n "$NS" link set lo up
# No IPv6 chatter on the link, so only the session shows.
ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1

# tap0 made here, before tapnc attaches to it: when tapnc exits, the TAP
# stays until the namespace goes, so tcpdump (which may lag on a busy
# machine) still takes the last frames rather than lose its interface.
ip -n "$NS" tuntap add dev tap0 mode tap || die "cannot create tap0"
mkfifo "$TMP/stack_in"
ip netns exec "$NS" timeout 30 "$TAPNC" -lvp "$PORT" --trace --ladder \
    <"$TMP/stack_in" >"$TMP/stack_got" 2>"$TMP/stack_err" &
TAPNC_PID=$!
PIDS+=("$TAPNC_PID")
exec 7>"$TMP/stack_in"

for _ in $(seq 1 100); do
    ip -n "$NS" addr show tap0 2>/dev/null | grep -q 'inet 10.0.0.1/' && break
    kill -0 "$TAPNC_PID" 2>/dev/null || { cat "$TMP/stack_err" >&2; die "tapnc did not start"; }
    sleep 0.05
done

ip netns exec "$NS" timeout 30 tcpdump -nn -l --immediate-mode -i tap0 \
    >"$TMP/tcpdump" 2>"$TMP/tcpdump_err" &
TCPDUMP_PID=$!
PIDS+=("$TCPDUMP_PID")
for _ in $(seq 1 100); do
    grep -q "listening on" "$TMP/tcpdump_err" 2>/dev/null && break
    sleep 0.05
done

# The client: the host's nc types a line, waits for the answer, then closes.
(sleep 0.3; echo "hello from the host's nc"; sleep 0.8) |
    ip netns exec "$NS" timeout 10 nc -N 10.0.0.2 "$PORT" >"$TMP/host_got" &
NC_PID=$!
PIDS+=("$NC_PID")
sleep 0.7
echo "hello from synack's tapnc" >&7
wait "$NC_PID"
exec 7>&-
for _ in $(seq 1 60); do
    kill -0 "$TAPNC_PID" 2>/dev/null || break
    sleep 0.05
done
# tcpdump may lag behind on a busy machine: wait (10 s at most) until it
# has printed both FINs and as many TCP frames as the trace, then stop it.
for _ in $(seq 1 200); do
    [ "$(grep -c 'Flags \[F' "$TMP/tcpdump" 2>/dev/null)" -ge 2 ] &&
        [ "$(grep -c 'Flags \[' "$TMP/tcpdump" 2>/dev/null)" -ge "$(grep -c '^[rt]x .*Flags \[' "$TMP/stack_err")" ] && break
    sleep 0.05
done
sleep 0.1
kill -INT "$TCPDUMP_PID" 2>/dev/null
wait "$TCPDUMP_PID" 2>/dev/null

# Bold headings on a terminal only.
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
section() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
sed -E '/^$/d; s/^[0-9:.]+ //' "$TMP/tcpdump" >"$TMP/tcpdump.txt"
sed -nE 's/^(rx|tx) [0-9:.]+ /\1 /p' "$TMP/stack_err" >"$TMP/trace.txt"
section "tcpdump -nn -i tap0 next to tapnc --trace, frame by frame"
echo "(tcpdump: the kernel's view of the link; synack rx/tx: the stack's own, in/out)"
# tcpdump starts after the stack's gratuitous ARP, so the trace may begin
# earlier: pair each tcpdump line with the trace line at the same place.
awk -v dump="$TMP/tcpdump.txt" '
    { mark[NR] = $1; line[NR] = substr($0, 4) }
    END {
        n = 0
        while ((getline d < dump) > 0) dl[++n] = d
        start = 1
        for (i = 1; i <= NR; i++) if (n && line[i] == dl[1]) { start = i; break }
        for (i = 1; i < start; i++)
            printf "\n  synack %s  %s\n  tcpdump    (not capturing yet)\n", mark[i], line[i]
        same = 0
        for (k = 1; k <= n; k++) {
            i = start + k - 1
            printf "\n  tcpdump    %s\n", dl[k]
            if (i <= NR) printf "  synack %s  %s\n", mark[i], line[i]
            if (i <= NR && line[i] == dl[k]) same++
        }
        printf "\n%d of %d frames that tcpdump saw are identical in the stack'"'"'s trace.\n", same, n
    }' "$TMP/trace.txt"
section "tapnc -v"
grep -E '^(Listening|Connection)' "$TMP/stack_err"
section "ladder diagram"
awk '/^ +[0-9.]+:[0-9]+ +[0-9.]+:[0-9]+$/ {on=1} on && /^$/ {exit} on' "$TMP/stack_err"
section "what each side received"
printf 'synack got:    %s' "$(cat "$TMP/stack_got")"
printf '\nthe host got:  %s\n' "$(cat "$TMP/host_got")"
