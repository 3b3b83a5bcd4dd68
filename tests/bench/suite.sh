#!/usr/bin/env bash
# suite.sh - the benchmark suite: synack on its TAP and the Linux kernel
# over a veth pair, measured in the same run, in one table with ratios.
#
#   synack:  host tools (kernel TCP) <-> tap0 <-> tapd or tapnc (synack)
#   kernel:  host tools in A <-> veth <-> echo_srv or nc in B (both kernel)
#
# Figures (each the median of BENCH_RUNS runs, synack's and the kernel's
# runs taking turns so that a slow spell of this shared machine slows both):
#   bulk host -> stack: tests/tools/bulk send into tapd's discard (9), or
#       into echo_srv's discard in B; timed until the discard service has
#       read everything and closed (MB/s, MB = 10^6 bytes);
#   bulk stack -> host: `bulk gen | tapnc -N HOST PORT` (tapnc reading a
#       pipe), or the same pipe into the kernel's nc in B, to `bulk recv`,
#       timed from its accept to EOF; and, for information, `bulk fetch`
#       reading as much from tapd's chargen (19) or echo_srv's;
#   each at MTU 1500 with offloads off (the kernel's veth: tso, gso, gro,
#       tx, rx and sg off; synack with --no-offload once it has it), at
#       MTU 1500 with offloads on (information only), and at MTU 65520 with
#       offloads on (synack with --mtu 65520 once it takes it);
#   request/response: tests/tools/rr, 1-byte round trips on one connection
#       with TCP_NODELAY to tapd's echo or echo_srv's: mean and p99 (us);
#   connections/s: rr -c, connect, 1 byte there and back, close, one after
#       the other;
#   ping: `ping -i 0.01`, the median of the replies' times (us);
#   RSS per connection: tests/bench/scale.sh with BENCH_RSS_CONNS idle
#       connections (100,000; 2,000 quick), synack only;
#   core: tests/tools/core_bench under callgrind: instructions per TCP
#       segment in and out through the core alone, no TAP (deterministic:
#       the same figure every run, a regression detector).
# Request/response, connections/s and ping use the MTU 1500, offloads off
# set-up on both sides.
#
# Targets (ratios of this run): MTU 1500 offloads off: bulk each way
# synack/kernel >= 1.0, request/response <= 1.1, connections/s >= 1.0, ping
# <= 2; MTU 65520 with offloads: bulk each way >= 1.0.  A figure that
# misses its target is reported, never a failure: the script fails only if
# something does not run (a transfer short, a tool failing, a timeout).
# A feature synack does not have yet (--mtu 65520, --no-offload) is
# detected by asking the program (`tapd --mtu 65520 --version` is refused
# before any TAP): such a row says "not supported" and its target is missed;
# no figure is made up.
#
# CPUs: by default the host tools and the stack share CPU 1 (taskset -c 1),
# and so do both ends of the kernel pair: no wake-up crosses CPUs (~30 us on
# this VM).  BENCH_SPLIT=1 puts the host tools (and the kernel end in the
# host's place) on CPU 0, the stack (and the kernel end in its place) on
# CPU 1.  BENCH_CPU_HOST and BENCH_CPU_STACK override either.
#
# Every Linux sender runs BENCH_KERNEL_CC (cubic, synack's default too), set
# on its route (`ip route ... congctl`); the machine's default may differ.
#
# Knobs: BENCH_QUICK=1 (one run, 4 MiB, 200 round trips, 50 connections,
# 20 pings, 2,000 connections for the RSS, 1,000 core segments: seconds, for
# CI), BENCH_RUNS (5), BENCH_MB (256), BENCH_RR (20000), BENCH_CONNS (2000),
# BENCH_PINGS (200), BENCH_RSS_CONNS (100000; 0 leaves it out),
# BENCH_CORE_SEGS (10000), BENCH_TIMEOUT (s, per transfer; 120),
# BENCH_CFGS (the bulk set-ups: "off1500 on1500 on65520"), BENCH_PARTS (the
# other parts: "rr rss core"; one left out leaves its rows empty),
# BENCH_SYNACK_OPTS (more options for tapd and tapnc, e.g. --no-batch).
#
# Output: the table on stdout, and as JSON in $BUILD/bench-suite.json.
# Run with: sudo meson test -C build --benchmark --verbose suite
. "$(dirname "$0")/../integration/lib.sh"
require_root
require_tools nc taskset ping ethtool ss python3

RR_BIN=$BUILD/tests/rr
BULK=$BUILD/tests/bulk
ECHO_SRV=$BUILD/tests/echo_srv
CORE_BENCH=$BUILD/tests/core_bench
for b in "$RR_BIN" "$BULK" "$ECHO_SRV" "$CORE_BENCH" "$BUILD/tests/connmany"; do
    [ -x "$b" ] || fail "no $b: build first (ninja -C $BUILD)"
done

if [ -n "${BENCH_QUICK:-}" ]; then
    RUNS=${BENCH_RUNS:-1} MB=${BENCH_MB:-4} RR=${BENCH_RR:-200} CONNS=${BENCH_CONNS:-50}
    PINGS=${BENCH_PINGS:-20} RSS_CONNS=${BENCH_RSS_CONNS:-2000} CORE_SEGS=${BENCH_CORE_SEGS:-1000}
else
    RUNS=${BENCH_RUNS:-5} MB=${BENCH_MB:-256} RR=${BENCH_RR:-20000} CONNS=${BENCH_CONNS:-2000}
    PINGS=${BENCH_PINGS:-200} RSS_CONNS=${BENCH_RSS_CONNS:-100000} CORE_SEGS=${BENCH_CORE_SEGS:-10000}
fi
LIMIT=${BENCH_TIMEOUT:-120}
BYTES=$((MB * 1024 * 1024))
if [ -n "${BENCH_SPLIT:-}" ]; then
    CPU_HOST=${BENCH_CPU_HOST:-0} CPU_STACK=${BENCH_CPU_STACK:-1}
else
    CPU_HOST=${BENCH_CPU_HOST:-1} CPU_STACK=${BENCH_CPU_STACK:-1}
fi
KERNEL_CC=${BENCH_KERNEL_CC:-cubic}
grep -qw -- "$KERNEL_CC" /proc/sys/net/ipv4/tcp_available_congestion_control ||
    modprobe "tcp_$KERNEL_CC" >/dev/null 2>&1
grep -qw -- "$KERNEL_CC" /proc/sys/net/ipv4/tcp_available_congestion_control ||
    fail "congestion control '$KERNEL_CC' is not in this kernel"

BIG_MTU=65520
# What synack can do today: each program asked in turn (getopt reads the
# option before --version, and refuses a value out of range with exit 1).
supports() { "$@" --version >/dev/null 2>&1; }
HAVE_BIG=1 HAVE_NO_OFFLOAD=1
supports "$TAPD" --mtu $BIG_MTU && supports "$TAPNC" --mtu $BIG_MTU || HAVE_BIG=
supports "$TAPD" --no-offload && supports "$TAPNC" --no-offload || HAVE_NO_OFFLOAD=
log "synack: --mtu $BIG_MTU ${HAVE_BIG:+supported}${HAVE_BIG:-not supported}," \
    "--no-offload ${HAVE_NO_OFFLOAD:+supported}${HAVE_NO_OFFLOAD:-not supported}"
log "$RUNS run(s) per figure, $MB MiB per transfer, CPUs: host tools $CPU_HOST, stack $CPU_STACK; senders use $KERNEL_CC"

# The set-ups a bulk row runs in: MTU and offloads.  off1500 is also where
# request/response, connections/s and ping run.
declare -A CFG_MTU=([off1500]=1500 [on1500]=1500 [on65520]=$BIG_MTU)
declare -A CFG_OFF=([off1500]=1 [on1500]="" [on65520]="")
read -r -a CFGS <<<"${BENCH_CFGS:-off1500 on1500 on65520}"
for cfg in "${CFGS[@]}"; do
    [ -n "${CFG_MTU[$cfg]:-}" ] || fail "BENCH_CFGS: no set-up '$cfg' (off1500, on1500, on65520)"
done
# BENCH_PARTS: which of the other parts run (all by default).
PARTS=" ${BENCH_PARTS-rr rss core} "
part() { [[ $PARTS == *" $1 "* ]]; }

# synack's options for a set-up; empty with status 1 if it cannot run it.
synack_opts()
{
    local cfg=$1 o=()
    if [ "${CFG_MTU[$cfg]}" != 1500 ]; then
        [ -n "$HAVE_BIG" ] || return 1
        o+=(--mtu "${CFG_MTU[$cfg]}")
    fi
    [ -n "${CFG_OFF[$cfg]}" ] && [ -n "$HAVE_NO_OFFLOAD" ] && o+=(--no-offload)
    # BENCH_SYNACK_OPTS: more of synack's options, for a comparison (say
    # --no-batch).
    echo "${o[@]}" ${BENCH_SYNACK_OPTS:-}
}

# offloads NS DEV on|off: what ethtool can change (some features of a TAP
# are fixed: ethtool exits 1 for those, which is not an error here).
offloads()
{
    ns_exec "$1" ethtool -K "$2" tso "$3" gso "$3" gro "$3" tx "$3" rx "$3" sg "$3" >/dev/null 2>&1
    if [ "$3" = off ]; then
        ns_exec "$1" ethtool -k "$2" | grep -q '^generic-segmentation-offload: off' ||
            fail "cannot turn GSO off on $2"
    fi
}

set_cc()
{
    ip -n "$1" route replace "$3" dev "$2" congctl "$KERNEL_CC" ||
        fail "cannot set congestion control $KERNEL_CC on the route to $3 in $1"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
last() { local a; read -r -a a <<<"$1"; [ ${#a[@]} -gt 0 ] && echo "${a[${#a[@]}-1]}" || echo -; }
key() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# --- the kernel pair: A (host's place, 10.9.0.1), B (stack's place, 10.9.0.2).
veth_pair synack-sv 10.9.0.1/24 10.9.0.2/24
A=$VETH_A B=$VETH_B
set_cc "$A" synack-sv0 10.9.0.0/24
set_cc "$B" synack-sv1 10.9.0.0/24
for ns in "$A" "$B"; do
    ns_exec "$ns" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" ||
        fail "cannot widen the port range"
done
start_bg "$B" echo_srv taskset -c "$CPU_STACK" "$ECHO_SRV" -e 7 -d 9 -c 19 -T 7200
KSRV=$BG_LAST
wait_listen "$B" 9 || { show "$TMP/echo_srv.err"; fail "echo_srv does not listen"; }

# veth_mode CFG: the pair's MTU and offloads for a set-up.
veth_mode()
{
    local cfg=$1 on=on
    [ -n "${CFG_OFF[$cfg]}" ] && on=off
    ip -n "$A" link set synack-sv0 mtu "${CFG_MTU[$cfg]}" || fail "cannot set the veth's MTU"
    ip -n "$B" link set synack-sv1 mtu "${CFG_MTU[$cfg]}" || fail "cannot set the veth's MTU"
    offloads "$A" synack-sv0 $on
    offloads "$B" synack-sv1 $on
}

# --- synack: tapd in S (started per set-up), tapnc in T (one per transfer).
ns_create
S=$NS_LAST
ns_create
T=$NS_LAST
ns_exec "$S" sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" || fail "cannot widen the port range"
TAPD_PID=

# tapd_up CFG: tapd for a set-up (1 if synack cannot run it).
tapd_up()
{
    local cfg=$1 opts
    tapd_down
    opts=$(synack_opts "$cfg") || return 1
    # shellcheck disable=SC2086 # opts are words
    start_bg "$S" "tapd-$cfg" taskset -c "$CPU_STACK" "$TAPD" --nodelay $opts
    TAPD_PID=$BG_LAST
    wait_tap_up "$S" tap0 "$HOST_IP" "$TAPD_PID"
    [ -n "${CFG_OFF[$cfg]}" ] && offloads "$S" tap0 off
    set_cc "$S" tap0 "${HOST_IP%.*}.0/24"
    # The neighbour and the caches, before the clock starts.
    ns_exec "$S" ping -n -q -c 3 -i 0.01 -W 2 "$STACK_IP" >/dev/null || fail "tapd ($cfg) does not answer ping"
    return 0
}
tapd_down()
{
    [ -n "$TAPD_PID" ] || return 0
    kill -TERM "$TAPD_PID" 2>/dev/null
    wait_exit "$TAPD_PID" 10 || fail "tapd did not exit"
    TAPD_PID=
}

# One transfer each; R is its MB/s.
RUN=0
bulk_h2s() # NS ADDR: bulk send from NS to ADDR's discard
{
    RUN=$((RUN + 1))
    ns_exec "$1" timeout $((LIMIT + 10)) taskset -c "$CPU_HOST" "$BULK" send -b "$BYTES" -T "$LIMIT" "$2" 9 \
        >"$TMP/b$RUN.out" 2>"$TMP/b$RUN.err" || { show "$TMP/b$RUN.err" "$TMP"/*.err; fail "bulk to $2 failed"; }
    [ "$(key "$TMP/b$RUN.out" bytes)" = "$BYTES" ] || fail "bulk to $2: short"
    R=$(key "$TMP/b$RUN.out" mb_per_s)
}
bulk_fetch() # NS ADDR: bulk fetch in NS from ADDR's chargen
{
    RUN=$((RUN + 1))
    ns_exec "$1" timeout $((LIMIT + 10)) taskset -c "$CPU_HOST" "$BULK" fetch -b "$BYTES" -T "$LIMIT" "$2" 19 \
        >"$TMP/f$RUN.out" 2>"$TMP/f$RUN.err" || { show "$TMP/f$RUN.err" "$TMP"/*.err; fail "bulk from $2's chargen failed"; }
    [ "$(key "$TMP/f$RUN.out" bytes)" = "$BYTES" ] || fail "bulk from $2's chargen: short"
    R=$(key "$TMP/f$RUN.out" mb_per_s)
}
# bulk_s2h RNS RADDR SNS SENDER...: bulk recv in RNS, the sender (reading
# bulk gen's pipe) in SNS.
bulk_s2h()
{
    local rns=$1 raddr=$2 sns=$3 rx tx
    shift 3
    RUN=$((RUN + 1))
    start_bg "$rns" "r$RUN" timeout $((LIMIT + 10)) taskset -c "$CPU_HOST" "$BULK" recv -T "$LIMIT" 6001
    rx=$BG_LAST
    wait_listen "$rns" 6001 || fail "bulk recv does not listen"
    start_bg "$sns" "s$RUN" timeout $((LIMIT + 10)) taskset -c "$CPU_STACK" sh -c \
        "\"$BULK\" gen $BYTES | \"\$@\"" sh "$@" "$raddr" 6001
    tx=$BG_LAST
    wait_exit "$rx" $((LIMIT + 15)) || fail "bulk recv did not finish"
    [ "$EXIT_CODE" = 0 ] || { show "$TMP/r$RUN.err" "$TMP/s$RUN.err"; fail "bulk recv from $* failed"; }
    wait_exit "$tx" 10 || { show "$TMP/s$RUN.err"; fail "the sender ($*) still runs after the receiver got EOF"; }
    [ "$EXIT_CODE" = 0 ] || { show "$TMP/s$RUN.err"; fail "the sender ($*) exited $EXIT_CODE"; }
    [ "$(key "$TMP/r$RUN.out" bytes)" = "$BYTES" ] || { show "$TMP/r$RUN.out"; fail "from $*: short"; }
    R=$(key "$TMP/r$RUN.out" mb_per_s)
}

# Rows: each has an id, a label, a unit, whether higher is better, and a
# target (an operator and a ratio, or empty).
ROWS=()
declare -A LABEL UNIT TARGET SYN KER SYN_RUNS KER_RUNS NOTE
row()
{
    ROWS+=("$1")
    LABEL[$1]=$2 UNIT[$1]=$3 TARGET[$1]=$4
    SYN_RUNS[$1]='' KER_RUNS[$1]='' NOTE[$1]=''
}
for cfg in "${CFGS[@]}"; do
    case $cfg in
    off1500) t=">=1.0" what="MTU 1500, offloads off" ;;
    on1500) t="" what="MTU 1500, offloads on" ;;
    on65520) t=">=1.0" what="MTU $BIG_MTU, offloads on" ;;
    esac
    row "h2s_$cfg" "bulk host->stack, $what" "MB/s" "$t"
    row "s2h_$cfg" "bulk stack->host, $what" "MB/s" "$t"
    row "s2hc_$cfg" "bulk stack->host (chargen), $what" "MB/s" ""
done
row rr_mean "1-byte request/response, mean" "us" "<=1.1"
row rr_p99 "1-byte request/response, p99" "us" "<=1.1"
row conn "connections/s" "1/s" ">=1.0"
row ping "ping, median" "us" "<=2.0"
row rss "RSS per idle connection at $RSS_CONNS" "bytes" ""
row core_in "core: instructions per segment in" "Ir" ""
row core_out "core: instructions per segment out" "Ir" ""

# --- bulk, each set-up.
for cfg in "${CFGS[@]}"; do
    veth_mode "$cfg"
    if ! tapd_up "$cfg"; then
        NOTE[h2s_$cfg]="not supported" NOTE[s2h_$cfg]="not supported" NOTE[s2hc_$cfg]="not supported"
    fi
    sopts=$(synack_opts "$cfg")
    ns_exec "$A" ping -n -q -c 3 -i 0.01 -W 2 10.9.0.2 >/dev/null || fail "the veth pair does not answer ping"
    for r in $(seq 1 "$RUNS"); do
        # Odd runs synack first, even runs the kernel first.
        for who in $([ $((r % 2)) = 1 ] && echo "s k" || echo "k s"); do
            if [ "$who" = k ]; then
                bulk_h2s "$A" 10.9.0.2
                KER_RUNS[h2s_$cfg]+="$R "
                bulk_s2h "$A" 10.9.0.1 "$B" nc -n -N
                KER_RUNS[s2h_$cfg]+="$R "
                bulk_fetch "$A" 10.9.0.2
                KER_RUNS[s2hc_$cfg]+="$R "
            elif [ -z "${NOTE[h2s_$cfg]}" ]; then
                bulk_h2s "$S" "$STACK_IP"
                SYN_RUNS[h2s_$cfg]+="$R "
                # shellcheck disable=SC2086 # sopts are words
                bulk_s2h "$T" "$HOST_IP" "$T" "$TAPNC" $sopts -N
                SYN_RUNS[s2h_$cfg]+="$R "
                bulk_fetch "$S" "$STACK_IP"
                SYN_RUNS[s2hc_$cfg]+="$R "
            fi
        done
        log "$cfg run $r: host->stack synack $(last "${SYN_RUNS[h2s_$cfg]}") kernel $(last "${KER_RUNS[h2s_$cfg]}");" \
            "stack->host synack $(last "${SYN_RUNS[s2h_$cfg]}") kernel $(last "${KER_RUNS[s2h_$cfg]}");" \
            "chargen synack $(last "${SYN_RUNS[s2hc_$cfg]}") kernel $(last "${KER_RUNS[s2hc_$cfg]}") MB/s"
    done
done

# --- request/response, connections/s and ping: MTU 1500, offloads off.
if part rr; then
    veth_mode off1500
    tapd_up off1500 || fail "tapd does not start"
    # diag: what the sockets of both ends and the servers were doing, on stderr.
    diag()
    {
        local ns pid
        for ns in "$@"; do
            echo "--- ss -tnio in $ns:" >&2
            ns_exec "$ns" ss -tnio >&2
        done
        for pid in "$KSRV" $TAPD_PID; do
            echo "--- $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null), state $(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null), wchan $(cat "/proc/$pid/wchan" 2>/dev/null)" >&2
        done
    }
    rr_run() # NS ADDR: RR round trips; their mean and p99 in RR_MEAN, RR_P99
    {
        RUN=$((RUN + 1))
        ns_exec "$1" timeout 100 taskset -c "$CPU_HOST" "$RR_BIN" -n "$RR" -W 200 -T 90 "$2" 7 \
            >"$TMP/rr$RUN.out" 2>"$TMP/rr$RUN.err" || { show "$TMP/rr$RUN.err"; diag "$1" "$B" "$S"; fail "round trips to $2 failed"; }
        RR_MEAN=$(key "$TMP/rr$RUN.out" rr_mean_us) RR_P99=$(key "$TMP/rr$RUN.out" rr_p99_us)
    }
    conn_run()
    {
        RUN=$((RUN + 1))
        ns_exec "$1" timeout 100 taskset -c "$CPU_HOST" "$RR_BIN" -c "$CONNS" -W 20 -T 90 "$2" 7 \
            >"$TMP/c$RUN.out" 2>"$TMP/c$RUN.err" || { show "$TMP/c$RUN.err"; diag "$1" "$B" "$S"; fail "connections to $2 failed"; }
        R=$(key "$TMP/c$RUN.out" conn_per_s)
    }
    # ping_run NS ADDR: the median of PINGS replies' times, in us.
    ping_run()
    {
        RUN=$((RUN + 1))
        ns_exec "$1" timeout 120 taskset -c "$CPU_HOST" ping -n -c "$PINGS" -i 0.01 -W 2 "$2" \
            >"$TMP/p$RUN.out" 2>&1 || { show "$TMP/p$RUN.out"; fail "ping $2 failed"; }
        R=$(sed -n 's/.* time=\([0-9.]*\) ms.*/\1/p' "$TMP/p$RUN.out" | awk '{ printf "%.0f\n", $1 * 1000 }' | median)
        [ -n "$R" ] || fail "no ping replies from $2"
    }
    # add_run s|k ID VALUE: one more run of figure ID, synack's or the kernel's.
    add_run()
    {
        if [ "$1" = s ]; then SYN_RUNS[$2]+="$3 "; else KER_RUNS[$2]+="$3 "; fi
    }
    for r in $(seq 1 "$RUNS"); do
        for who in $([ $((r % 2)) = 1 ] && echo "s k" || echo "k s"); do
            if [ "$who" = s ]; then ns=$S addr=$STACK_IP; else ns=$A addr=10.9.0.2; fi
            rr_run "$ns" "$addr"
            add_run "$who" rr_mean "$RR_MEAN"
            add_run "$who" rr_p99 "$RR_P99"
            conn_run "$ns" "$addr"
            add_run "$who" conn "$R"
            ping_run "$ns" "$addr"
            add_run "$who" ping "$R"
        done
        log "run $r: rr mean synack $(last "${SYN_RUNS[rr_mean]}") kernel $(last "${KER_RUNS[rr_mean]}") us;" \
            "conn/s synack $(last "${SYN_RUNS[conn]}") kernel $(last "${KER_RUNS[conn]}"); ping synack $(last "${SYN_RUNS[ping]}") kernel $(last "${KER_RUNS[ping]}") us"
    done
fi
tapd_down

# --- RSS per connection: scale.sh's machinery (its own namespaces).
if [ "$RSS_CONNS" -gt 0 ] && part rss; then
    BENCH_QUICK=1 BENCH_CONNS=$RSS_CONNS BENCH_RR=500 BUILD=$BUILD timeout 600 \
        bash "$LIB_DIR/../bench/scale.sh" >"$TMP/scale.out" 2>&1 || { show "$TMP/scale.out"; fail "scale.sh failed"; }
    SYN_RUNS[rss]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rss_bytes_per_idle_conn"])' \
        "$BUILD/bench-scale.json") || fail "no figure in $BUILD/bench-scale.json"
    NOTE[rss]="synack only ($(awk '/^connections/ { print $NF }' "$TMP/scale.out") connections, one run)"
else
    NOTE[rss]="left out (BENCH_RSS_CONNS=0 or BENCH_PARTS)"
fi

# --- the core alone, under callgrind: deterministic, one run is enough.
if ! part core; then
    NOTE[core_in]="left out (BENCH_PARTS)" NOTE[core_out]="left out (BENCH_PARTS)"
elif command -v valgrind >/dev/null 2>&1; then
    for dir in in out; do
        valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$dir" --toggle-collect='timed_*' \
            "$CORE_BENCH" "$dir" "$CORE_SEGS" >"$TMP/core.$dir.out" 2>"$TMP/core.$dir.err" ||
            { show "$TMP/core.$dir.out" "$TMP/core.$dir.err"; fail "core_bench $dir failed under callgrind"; }
        ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$TMP/core.$dir.err")
        [ -n "$ir" ] || { show "$TMP/core.$dir.err"; fail "no instruction count from callgrind"; }
        SYN_RUNS[core_$dir]=$((ir / CORE_SEGS))
        NOTE[core_$dir]="synack only, $CORE_SEGS segments, callgrind"
    done
    "$CORE_BENCH" both "$CORE_SEGS" >"$TMP/core.native" 2>&1 || fail "core_bench failed"
    NOTE[core_in]+="; natively $(key "$TMP/core.native" ns_per_segment_in) ns"
    NOTE[core_out]+="; natively $(key "$TMP/core.native" ns_per_segment_out) ns"
else
    NOTE[core_in]="no valgrind" NOTE[core_out]="no valgrind"
fi

# --- the table.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
# met RATIO TARGET: yes or no.
met()
{
    awk -v r="$1" -v t="$2" 'BEGIN { op = substr(t, 1, 2); v = substr(t, 3) + 0;
        print ((op == ">=" ? r >= v : r <= v) ? "yes" : "no") }'
}
fmt() { awk -v x="$1" 'BEGIN { if (x == "") print "-"; else if (x >= 100) printf "%.0f", x; else printf "%.1f", x }'; }
declare -A RATIO MET
echo
printf '%-60s %8s %14s %6s %6s %4s\n' figure kernel synack ratio target met
for id in "${ROWS[@]}"; do
    SYN[$id]=$(echo "${SYN_RUNS[$id]}" | median)
    KER[$id]=$(echo "${KER_RUNS[$id]}" | median)
    s=$(fmt "${SYN[$id]}") k=$(fmt "${KER[$id]}") ra=- m=-
    if [ -n "${SYN[$id]}" ] && [ -n "${KER[$id]}" ]; then
        ra=$(ratio "${SYN[$id]}" "${KER[$id]}")
        [ -n "${TARGET[$id]}" ] && m=$(met "$ra" "${TARGET[$id]}")
    elif [ -n "${TARGET[$id]}" ]; then
        m=no # a figure synack cannot make misses its target
    fi
    [ -z "${SYN[$id]}" ] && [ -n "${NOTE[$id]}" ] && s=${NOTE[$id]}
    RATIO[$id]=$ra MET[$id]=$m
    printf '%-60s %8s %14s %6s %6s %4s\n' "${LABEL[$id]} (${UNIT[$id]})" "$k" "$s" "$ra" "${TARGET[$id]:--}" "$m"
done
echo "(median of $RUNS; ratio = synack / kernel, for times as for rates; the kernel over veth in"
echo " the same run with the same MTU and offloads; CPUs: host tools $CPU_HOST, stack $CPU_STACK;"
echo " senders $KERNEL_CC; $MB MiB per transfer, $RR round trips, $CONNS connections, $PINGS pings)"
for id in rss core_in core_out; do
    [ -n "${NOTE[$id]}" ] && echo "${LABEL[$id]}: ${NOTE[$id]}"
done

# --- the JSON, for tracking from run to run.
JSON=$BUILD/bench-suite.json
jnum() { if [ -z "$1" ]; then echo null; else echo "$1"; fi; }
jlist() { local x out=; for x in $1; do out+="${out:+, }$x"; done; echo "[$out]"; }
{
    printf '{"benchmark": "suite", "date": "%s", "commit": "%s", "quick": %s, "runs": %d,\n' \
        "$(date -u +%FT%TZ)" "$(git -C "$LIB_DIR" describe --always --dirty 2>/dev/null || echo unknown)" \
        "$([ -n "${BENCH_QUICK:-}" ] && echo true || echo false)" "$RUNS"
    printf ' "mib": %d, "rr": %d, "conns": %d, "pings": %d, "rss_conns": %d, "core_segments": %d,\n' \
        "$MB" "$RR" "$CONNS" "$PINGS" "$RSS_CONNS" "$CORE_SEGS"
    printf ' "cpus": {"host": "%s", "stack": "%s"}, "kernel_cc": "%s",\n' "$CPU_HOST" "$CPU_STACK" "$KERNEL_CC"
    printf ' "synack_supports": {"mtu_%d": %s, "no_offload": %s},\n "rows": [\n' "$BIG_MTU" \
        "$([ -n "$HAVE_BIG" ] && echo true || echo false)" "$([ -n "$HAVE_NO_OFFLOAD" ] && echo true || echo false)"
    n=${#ROWS[@]} i=0
    for id in "${ROWS[@]}"; do
        i=$((i + 1))
        ra=${RATIO[$id]} m=${MET[$id]}
        [ "$ra" = - ] && ra=null
        case $m in yes) m=true ;; no) m=false ;; *) m=null ;; esac
        printf '  {"id": "%s", "figure": "%s", "unit": "%s", "kernel": %s, "synack": %s, "ratio": %s, "target": %s, "met": %s, "note": "%s", "kernel_runs": %s, "synack_runs": %s}%s\n' \
            "$id" "${LABEL[$id]}" "${UNIT[$id]}" "$(jnum "${KER[$id]}")" "$(jnum "${SYN[$id]}")" "$ra" \
            "$([ -n "${TARGET[$id]}" ] && echo "\"${TARGET[$id]}\"" || echo null)" "$m" "${NOTE[$id]}" \
            "$(jlist "${KER_RUNS[$id]}")" "$(jlist "${SYN_RUNS[$id]}")" "$([ $i -lt "$n" ] && echo ,)"
    done
    printf ' ]}\n'
} >"$JSON" || fail "cannot write $JSON"
python3 -m json.tool "$JSON" >/dev/null || fail "$JSON is not valid JSON"
log "JSON in $JSON"
kill -TERM "$KSRV" 2>/dev/null
pass "benchmark ran; every transfer arrived whole (figures are reported, never judged here)"
finish
