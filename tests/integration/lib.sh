# lib.sh - shared helpers for the integration tests (source it, do not run it).
#
# Every test runs in network namespaces it creates (ns_create) and deletes on
# exit.  All traffic is between the host side of the TAP (10.0.0.1) and the
# stack (10.0.0.2) inside that namespace.  Background processes are started
# with start_bg, which records their PIDs; the EXIT trap (also run on INT,
# TERM, HUP) stops exactly those PIDs and the process groups they lead
# (never by name), deletes exactly the namespaces made here, and removes
# $TMP.  Every wait is bounded.
#
# Usage in a test:
#   . "$(dirname "$0")/lib.sh"
#   require_root                      # else SKIP, exit 77
#   require_tools ping nc
#   ns_create; NS=$NS_LAST
#   start_bg "$NS" tapnc "$TAPNC" -l 5050   # $TMP/tapnc.out, .err; PID in $BG_LAST
#   wait_tap_up "$NS" tap0 "$HOST_IP" "$BG_LAST"
#   ...checks, each ending in pass "..." or fail "..." (or soft_fail)
#   finish

# No pipefail: "cmd | grep -q" must be the status of grep, which may exit
# (and SIGPIPE cmd) at its first match.
# Variables here are for the scripts that source this file.
# shellcheck disable=SC2034
set -u

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST_NAME=$(basename "$0" .sh)
BUILD=${BUILD:-$LIB_DIR/../../build}
TAPNC=$BUILD/apps/tapnc
TAPD=$BUILD/apps/tapd

HOST_IP=10.0.0.1
STACK_IP=10.0.0.2

BG_PIDS=()        # every background process we started
BG_LAST=          # PID of the last one
NAMESPACES=()     # every namespace we created
NS_LAST=
NS_COUNT=0
TMP=
CHECKS=0
FAILURES=0

log() { printf '%s: %s\n' "$TEST_NAME" "$*"; }

fail()
{
    printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

pass()
{
    CHECKS=$((CHECKS + 1))
    printf '%s: ok: %s\n' "$TEST_NAME" "$*"
}

# soft_fail MSG: a failed check that does not stop the test (the others
# still run); finish then exits 1.
soft_fail()
{
    FAILURES=$((FAILURES + 1))
    printf '%s: FAIL: %s\n' "$TEST_NAME" "$*" >&2
}

finish()
{
    if [ "$FAILURES" -gt 0 ]; then
        printf '%s: FAIL: %d check(s) failed, %d passed\n' "$TEST_NAME" "$FAILURES" "$CHECKS" >&2
        exit 1
    fi
    log "all $CHECKS checks passed"
    exit 0
}

# Show a file on stderr, indented (for diagnostics before fail).
show()
{
    local f
    for f in "$@"; do
        [ -e "$f" ] || continue
        printf -- '--- %s:\n' "$f" >&2
        head -c 4000 "$f" | sed 's/^/    /' >&2
    done
}

require_root()
{
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: needs root (network namespaces and TAP devices)"
        exit 77
    fi
}

require_tools()
{
    local t missing=()
    for t in ip timeout setsid "$@"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        fail "required tools not found: ${missing[*]} (install them: iproute2, iputils-ping," \
            "netcat-openbsd, tcpdump, util-linux, coreutils)"
    fi
    # nc flags used here (-N, -z, -l PORT) are those of OpenBSD netcat.
    for t in "$@"; do
        if [ "$t" = nc ] && ! nc -h 2>&1 | grep -q OpenBSD; then
            fail "nc is not OpenBSD netcat (install netcat-openbsd); its flags are what these tests use"
        fi
    done
    [ -x "$TAPNC" ] || fail "no tapnc at $TAPNC: build first (ninja -C build) or set BUILD"
    [ -x "$TAPD" ] || fail "no tapd at $TAPD: build first (ninja -C build) or set BUILD"
    [ -c /dev/net/tun ] || fail "/dev/net/tun is missing (modprobe tun)"
}

# Stop every process we started that still runs (still one of this shell's
# running jobs: so never a recycled PID), with the process group it leads
# (see start_bg): TERM, a bounded wait, then KILL.
running_bg()
{
    local pid running
    running=$(jobs -pr) # (not in a pipeline: its subshell has no jobs)
    running=" $(echo $running) "
    for pid in "${BG_PIDS[@]}"; do
        case $running in *" $pid "*) echo "$pid" ;; esac
    done
}

stop_all()
{
    local pid i left
    left=$(running_bg)
    for pid in $left; do
        kill -TERM -- "-$pid" 2>/dev/null
        kill -TERM "$pid" 2>/dev/null
    done
    for i in $(seq 1 30); do
        left=$(running_bg)
        [ -z "$left" ] && break
        sleep 0.1
    done
    for pid in $left; do
        kill -KILL -- "-$pid" 2>/dev/null
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${BG_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    BG_PIDS=()
}

cleanup()
{
    local rc=$? ns i
    trap - EXIT
    stop_all
    for ns in "${NAMESPACES[@]}"; do
        # Bounded retries: a process just killed may still pin it a moment.
        for i in 1 2 3 4 5 6 7 8 9 10; do
            ip netns del "$ns" 2>/dev/null && break
            ip netns list | grep -qw "^$ns" || break
            sleep 0.1
        done
        ip netns list | grep -qw "^$ns" && echo "$TEST_NAME: could not delete namespace $ns" >&2
    done
    # KEEP_TMP=1 keeps the outputs for a look after a run.
    if [ -n "$TMP" ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; elif [ -n "$TMP" ]; then echo "outputs kept in $TMP" >&2; fi
    exit $rc
}

trap cleanup EXIT
# Signals end the script through exit, so the EXIT trap still cleans up.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

TMP=$(mktemp -d "/tmp/synack-$TEST_NAME.XXXXXX") || fail "mktemp failed"

# ns_create: a fresh namespace with lo up; its name in $NS_LAST.
ns_create()
{
    NS_COUNT=$((NS_COUNT + 1))
    NS_LAST="synack-test-$$-$NS_COUNT"
    ip netns add "$NS_LAST" || fail "ip netns add $NS_LAST failed"
    NAMESPACES+=("$NS_LAST")
    ip -n "$NS_LAST" link set lo up || fail "cannot bring lo up in $NS_LAST"
}

# veth_pair DEV ADDR_A ADDR_B: two fresh namespaces, $VETH_A and $VETH_B,
# joined by a veth pair, DEV0 in the first with ADDR_A and DEV1 in the
# second with ADDR_B (A.B.C.D/P), both up.
veth_pair()
{
    ns_create
    VETH_A=$NS_LAST
    ns_create
    VETH_B=$NS_LAST
    ip link add "${1}0" netns "$VETH_A" type veth peer name "${1}1" netns "$VETH_B" || fail "veth failed"
    ip -n "$VETH_A" addr add "$2" dev "${1}0" || fail "cannot give ${1}0 $2"
    ip -n "$VETH_B" addr add "$3" dev "${1}1" || fail "cannot give ${1}1 $3"
    ip -n "$VETH_A" link set "${1}0" up
    ip -n "$VETH_B" link set "${1}1" up
}

# ns_exec NS CMD...: run CMD in the namespace (foreground).
ns_exec()
{
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# start_bg NS NAME CMD...: run CMD in the background inside NS, stdout to
# $TMP/NAME.out, stderr to $TMP/NAME.err, stdin from $BG_IN (default
# /dev/null; BG_IN=file start_bg ... to feed it).  PID in $BG_LAST.
# CMD leads its own process group (setsid execs it, keeping the PID), so
# cleanup stops what CMD started too (a pipeline in bash -c, say) by that
# PID.  Descriptors 5 to 9 are the tests' fifo writers: the child does not
# get them, so closing one in the test gives its reader EOF.
start_bg()
{
    local ns=$1 name=$2
    shift 2
    ip netns exec "$ns" setsid "$@" <"${BG_IN:-/dev/null}" >"$TMP/$name.out" 2>"$TMP/$name.err" \
        5>&- 6>&- 7>&- 8>&- 9>&- &
    BG_LAST=$!
    BG_PIDS+=("$BG_LAST")
}

# wait_for SECS CMD...: poll CMD every 50 ms until it succeeds; 1 if SECS pass.
wait_for()
{
    local secs=$1 i
    shift
    for i in $(seq 1 $((secs * 20))); do
        "$@" && return 0
        sleep 0.05
    done
    "$@"
}

# wait_exit PID SECS: wait for a background PID to exit; its status in
# $EXIT_CODE.  Returns 1 (and leaves it running) if it did not exit in time.
EXIT_CODE=
wait_exit()
{
    local pid=$1 secs=$2 i
    for i in $(seq 1 $((secs * 20))); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            EXIT_CODE=$?
            return 0
        fi
        sleep 0.05
    done
    EXIT_CODE=
    return 1
}

tap_is_up()
{
    local ns=$1 dev=$2 addr=$3
    ip -n "$ns" -o link show dev "$dev" 2>/dev/null | grep -q '[<,]UP[,>]' &&
        ip -n "$ns" -o addr show dev "$dev" 2>/dev/null | grep -q "inet $addr/"
}

# wait_tap_up NS DEV ADDR [PID]: wait (5 s at most) until DEV is up with ADDR;
# fail at once if PID (the program bringing it up) dies first.
wait_tap_up()
{
    local ns=$1 dev=$2 addr=$3 pid=${4:-} i
    for i in $(seq 1 100); do
        tap_is_up "$ns" "$dev" "$addr" && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            show "$TMP"/*.err
            fail "the program bringing up $dev (pid $pid) exited before $dev was up with $addr"
        fi
        sleep 0.05
    done
    ip -n "$ns" addr >&2
    show "$TMP"/*.err
    fail "$dev did not come up with $addr within 5 s"
}

# wait_listen NS PORT [SECS]: wait until the host side listens on TCP PORT.
wait_listen()
{
    local ns=$1 port=$2 secs=${3:-5}
    wait_for "$secs" bash -c "ip netns exec '$ns' ss -Hltn 'sport = :$port' | grep -q LISTEN"
}

# Milliseconds since the epoch, for timing.
now_ms() { date +%s%3N; }

sha() { sha256sum <"$1" | cut -d' ' -f1; }

# Unprivileged runs.  NOBODY=(...) is the prefix that drops to the nobody user.
NOBODY_UID=$(id -u nobody 2>/dev/null)
NOBODY_GID=$(id -g nobody 2>/dev/null)
NOBODY=(setpriv --reuid="${NOBODY_UID:-65534}" --regid="${NOBODY_GID:-65534}" --clear-groups)

require_nobody()
{
    [ -n "$NOBODY_UID" ] || fail "there is no user 'nobody' to run tapnc unprivileged"
    command -v setpriv >/dev/null || fail "setpriv (util-linux) is needed to run as nobody"
    "${NOBODY[@]}" test -x "$TAPNC" ||
        fail "user nobody cannot execute $TAPNC: the build dir $BUILD (and each directory" \
            "above it) must be readable and searchable by others (chmod o+rx), or set BUILD"
}

# WITH_TUN MODE CMD...: (a command prefix for ns_exec/start_bg) run CMD with
# /dev/net/tun replaced, in the private mount namespace that ip netns exec
# makes, by a fresh node of mode MODE.  Some containers ship /dev/net/tun
# as 0600; Linux distributions make it 0666.  This makes the test the same
# everywhere and changes nothing outside the namespace.
WITH_TUN=(sh -c 'mount -t tmpfs -o mode=0755 synack-tun /dev/net &&
    mknod -m "$0" /dev/net/tun c 10 200 && exec "$@"')

# fifo NAME FD: make $TMP/NAME a fifo and open it read-write on FD (5 to 9);
# opening read-write never blocks.  Write to it with >&FD, close it with
# exec FD>&- to give the reader EOF.
fifo()
{
    rm -f "$TMP/$1"
    mkfifo "$TMP/$1" || fail "mkfifo $TMP/$1 failed"
    eval "exec $2<>\"\$TMP/\$1\""
}

# expect_error NAME PATTERN... -- CMD...: CMD (in $NS) exits 1 within 5 s,
# stdin from /dev/null, and its stderr matches every PATTERN (grep -E,
# case-insensitive); otherwise a soft failure, and 1 is returned.  With
# EXPECT_NO_TAP=1 it must also refuse before bringing a TAP up.  What is
# shown of CMD skips the wrappers (WITH_TUN, setpriv) and the build path.
expect_error()
{
    local name=$1 pats=() p rc what
    shift
    while [ "$1" != -- ]; do
        pats+=("$1")
        shift
    done
    shift
    what="$*"
    what=${what##*" --clear-groups "}
    what=${what//"$BUILD/apps/"/}
    ns_exec "$NS" timeout 5 "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err"
    rc=$?
    if [ $rc -eq 124 ]; then
        soft_fail "$name: '$what' was accepted and kept running (killed after 5 s)"
        return 1
    fi
    if [ $rc -ne 1 ]; then
        show "$TMP/$name.err"
        soft_fail "$name: '$what' exited $rc, expected 1"
        return 1
    fi
    for p in "${pats[@]}"; do
        if ! grep -qiE -- "$p" "$TMP/$name.err"; then
            show "$TMP/$name.err"
            soft_fail "$name: the message of '$what' does not mention '$p'"
            return 1
        fi
    done
    if [ -n "${EXPECT_NO_TAP:-}" ] && grep -qE ': stack [0-9.]+/[0-9]+ at ' "$TMP/$name.err"; then
        show "$TMP/$name.err"
        soft_fail "$name: '$what' brought a TAP up before refusing"
        return 1
    fi
    log "$name: exit 1: $(head -n 1 "$TMP/$name.err")"
}

# only_lo WHAT: nothing but lo is left in $NS (WHAT named the runs).
only_lo()
{
    local links
    links=$(ip -n "$NS" -o link show | grep -v ': lo:' | cut -d: -f2 | tr -d ' ' | tr '\n' ' ')
    [ -z "$links" ] || fail "$1 left network devices behind in the namespace: $links"
}

# start_holders N PER SECS: N connmany processes in $NS ($CONNMANY), the
# i-th from 10.0.0.(100+i), each opening PER connections to tapd's echo
# at $STACK_IP and holding them (SECS at most); their PIDs in HOLDERS,
# their outputs $TMP/holderI.out and .err.
start_holders()
{
    local i
    HOLDERS=()
    for i in $(seq 1 "$1"); do
        start_bg "$NS" holder$i "$CONNMANY" -b "10.0.0.$((100 + i))" -n "$2" -p 200 -w -T "$3" "$STACK_IP" 7
        HOLDERS+=("$BG_LAST")
    done
}

# all_holding: every holder said it holds its connections.
all_holding()
{
    local i
    for i in $(seq 1 ${#HOLDERS[@]}); do
        grep -q '^holding$' "$TMP/holder$i.out" 2>/dev/null || return 1
    done
}
