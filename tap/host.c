/* host.c - option parsing, bring-up and the event loop shared by apps.
 *
 * The loop: ppoll() on the TAP, a signalfd and the app's fds, to the microsecond,
 * with its timeout from the core's next deadline.  Frames are read until
 * EAGAIN (bounded per round), fed to the core, then timers run, events go
 * to the app, and one sk_flush sends what the batch produced. */
#include "host.h"

#include <arpa/inet.h>
#include "addr.h"
#include "txq.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
    OPT_TAP = HOST_OPT_BASE,
    OPT_ADDR,
    OPT_HOST_ADDR,
    OPT_MTU,
    OPT_TRACE,
    OPT_STATES,
    OPT_PCAP,
    OPT_LADDER,
    OPT_LADDER_SVG,
    OPT_IMPAIR,
    OPT_SNDBUF,
    OPT_RCVBUF,
    OPT_NODELAY,
    OPT_KEEPALIVE,
    OPT_CC,
    OPT_ARP_PENDING,
    OPT_MAX_CONNS,
    OPT_BACKLOG,
    OPT_MAX_OOO,
    OPT_MEM_MAX,
    OPT_MAX_HALF_OPEN,
    OPT_SYNCOOKIES,
    OPT_NO_OFFLOAD,
    OPT_NO_BATCH,
    OPT_EXPLAIN,
};

static void obs_flush(struct host *h);
static void addf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* For gdb (docs/gdb/synack.py): the stack of this process.  The core has
 * no globals; this one lives on the Linux side and only points. */
sk_stack *synack_gdb_stack;

const struct option host_long_opts[] = {
    {"tap", required_argument, NULL, OPT_TAP},
    {"addr", required_argument, NULL, OPT_ADDR},
    {"host-addr", required_argument, NULL, OPT_HOST_ADDR},
    {"mtu", required_argument, NULL, OPT_MTU},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"states", no_argument, NULL, OPT_STATES},
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"ladder", no_argument, NULL, OPT_LADDER},
    {"ladder-svg", required_argument, NULL, OPT_LADDER_SVG},
    {"impair", required_argument, NULL, OPT_IMPAIR},
    {"sndbuf", required_argument, NULL, OPT_SNDBUF},
    {"rcvbuf", required_argument, NULL, OPT_RCVBUF},
    {"nodelay", no_argument, NULL, OPT_NODELAY},
    {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
    {"cc", required_argument, NULL, OPT_CC},
    {"arp-pending", required_argument, NULL, OPT_ARP_PENDING},
    {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"max-ooo", required_argument, NULL, OPT_MAX_OOO},
    {"mem-max", required_argument, NULL, OPT_MEM_MAX},
    {"max-half-open", required_argument, NULL, OPT_MAX_HALF_OPEN},
    {"syncookies", required_argument, NULL, OPT_SYNCOOKIES},
    {"no-offload", no_argument, NULL, OPT_NO_OFFLOAD},
    {"no-batch", no_argument, NULL, OPT_NO_BATCH},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {NULL, 0, NULL, 0},
};
/* The apps size their tables from the count in host.h. */
_Static_assert(sizeof(host_long_opts) / sizeof(host_long_opts[0]) == HOST_N_LONG_OPTS + 1,
               "HOST_N_LONG_OPTS in host.h must count host_long_opts");

const char host_opts_help[] =
    "Stack options:\n"
    "  --tap NAME         TAP device to create or attach to (default tap0)\n"
    "  --addr A/P         the stack's IPv4 address and prefix (default 10.0.0.2/24)\n"
    "  --host-addr H/P    the host side's address on the TAP (default 10.0.0.1/24)\n"
    "  --mtu N            MTU of the link, 576..65520 (default 1500)\n"
    "  --no-offload       no TAP offloads: without it, the TAP carries the virtio-net\n"
    "                     header, checksums are left to the kernel and TCP frames of\n"
    "                     up to 64 KiB go each way (TSO), where the kernel allows\n"
    "                     (never with --impair)\n"
    "  --no-batch         write each frame with a system call of its own; without\n"
    "                     it, the frames of one round of the loop go out together\n"
    "                     (io_uring, where the kernel allows)\n"
    "  --impair SPEC      a bad link, in both directions or in:KEY / out:KEY for one:\n"
    "                     loss=5%,dup=1%,reorder=2%,corrupt=0.5%,delay=10ms,jitter=2ms,\n"
    "                     rate=100mbit,seed=7,limit=1000; may be repeated (docs/impair.md)\n"
    "  -v                 verbose: connections, and counters at exit\n"
    "TCP options, for every connection and listener:\n"
    "  --sndbuf BYTES     send buffer, 1024 to 1G; K, M and G are 2^10, 2^20, 2^30\n"
    "                     (default 4M)\n"
    "  --rcvbuf BYTES     receive buffer, the most the window offers; it sets the\n"
    "                     window scale (default 4M)\n"
    "  --nodelay          send small segments at once: Nagle's algorithm off\n"
    "  --keepalive I,N,C  keep-alive: a probe after I seconds idle, then every N\n"
    "                     seconds; give up after C unanswered probes (e.g. 10,2,3)\n"
    "  --cc ALGO          congestion control: cubic (default) or newreno\n"
    "Limits (a limit reached is told once on stderr):\n"
    "  --max-conns N      connections the stack holds, listeners included, 1 to\n"
    "                     4194304 (default 262144); the table grows as they come\n"
    "  --backlog N        connections a listener holds until accepted, 1 to 65535\n"
    "                     (default: tapnc 128, tapd 1024)\n"
    "  --arp-pending N    packets held per address while ARP resolves it, 1 to 4096\n"
    "                     (default 64; 4 times N for all addresses)\n"
    "  --max-ooo N        out-of-order ranges held per connection, 1 to 16384\n"
    "                     (default 256)\n"
    "  --mem-max BYTES    send and receive buffers of all connections together, 1M\n"
    "                     to 1T; K, M, G, T are 2^10.. 2^40 (default 256M)\n"
    "  --max-half-open N  half-open connections per listener, 1 to 1000000\n"
    "                     (default: its backlog); past them, SYN cookies\n"
    "  --syncookies WHEN  SYN cookies: full (when the half-open queue is full,\n"
    "                     the default), never, or always\n"
    "Seeing it work:\n"
    "  --trace            print every frame in and out as tcpdump -nn does (stderr)\n"
    "  --states           print every TCP state change and its cause, and every\n"
    "                     retransmission and congestion event (stderr)\n"
    "  --explain          say why each segment was sent, and what became of each one\n"
    "                     received, with its RFC section, on the --trace lines and\n"
    "                     the --ladder arrows; given without --trace, --ladder\n"
    "                     or --ladder-svg, it turns --trace on\n"
    "  --pcap FILE        write every frame in and out to FILE as pcapng, for tcpdump\n"
    "                     and Wireshark, with each segment's reason as its comment\n"
    "  --ladder           draw each connection's ladder diagram when it ends (stderr);\n"
    "                     retransmissions are drawn ====>\n"
    "  --ladder-svg FILE  write the first connection's ladder diagram as SVG\n"
    "  SIGUSR1            print counters and live connections (as -v does at exit)\n";

void host_opts_init(struct host_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->tap = "tap0";
    o->addr = 0x0a000002;
    o->host_addr = 0x0a000001;
    o->prefix = o->host_prefix = 24;
    o->mtu = 1500;
    impair_cfg_init(&o->impair_cfg);
}

int parse_ipv4(const char *s, uint32_t *addr)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return -1;
    *addr = ntohl(a.s_addr);
    return 0;
}

int parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix)
{
    char buf[32];
    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    char *slash = strchr(buf, '/');
    if (slash) {
        *slash = '\0';
        char *end;
        errno = 0;
        long p = strtol(slash + 1, &end, 10);
        /* Digits only: strtol would take "/ 24" and "/+24". */
        if (slash[1] < '0' || slash[1] > '9' || errno || *end || p < 1 || p > 30)
            return -1;
        *prefix = (uint8_t)p;
    }
    return parse_ipv4(buf, addr);
}

const char *ip_str(uint32_t addr, char buf[16])
{
    struct in_addr a = {htonl(addr)};
    inet_ntop(AF_INET, &a, buf, 16);
    return buf;
}

/* A decimal count from min to max: digits only (no sign, no space). */
static int parse_count(const char *s, unsigned long min, unsigned long max, uint32_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* A byte count: digits and an optional K, M or G (binary, as ss and
 * sysctl sizes are), 1024 to 1 GiB, the core's bounds. */
static int parse_size(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') /* no sign, no space */
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        break;
    }
    if (*end || v > (1ull << 30) >> shift)
        return -1;
    v <<= shift;
    if (v < 1024)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* --mem-max: digits and an optional K, M, G or T (binary), 1 MiB to 1 TiB. */
static int parse_mem(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    static const char units[] = "KMGT";
    const char *u = *end ? strchr(units, *end & ~0x20) : NULL;
    unsigned shift = u ? 10u * (unsigned)(u - units + 1) : 0;
    if (u)
        end++;
    if (*end || v > (1ull << 40) >> shift)
        return -1;
    v <<= shift;
    if (v < (1ull << 20))
        return -1;
    *out = v;
    return 0;
}

/* IDLE,INTERVAL,COUNT: positive integers within Linux's own limits for
 * TCP_KEEPIDLE, TCP_KEEPINTVL (32767 s) and TCP_KEEPCNT (127). */
static int parse_keepalive(const char *s, uint32_t out[3])
{
    static const unsigned long max[3] = {32767, 32767, 127};
    const char *p = s;
    for (int i = 0; i < 3; i++) {
        char *end;
        if (*p < '0' || *p > '9')
            return -1;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || end == p || v < 1 || v > max[i] || *end != (i < 2 ? ',' : '\0'))
            return -1;
        out[i] = (uint32_t)v;
        p = end + 1;
    }
    return 0;
}

int host_opts_parse(struct host_opts *o, int id, const char *arg, const char *prog)
{
    switch (id) {
    case OPT_TAP:
        o->tap = arg;
        return 1;
    case OPT_ADDR:
    case OPT_HOST_ADDR: {
        bool host = id == OPT_HOST_ADDR;
        if (parse_cidr(arg, host ? &o->host_addr : &o->addr, host ? &o->host_prefix : &o->prefix) <
            0) {
            fprintf(stderr, "%s: bad %s '%s': expected an IPv4 address and prefix, like %s\n", prog,
                    host ? "--host-addr" : "--addr", arg, host ? "10.0.0.1/24" : "10.0.0.2/24");
            return -1;
        }
        return 1;
    }
    case OPT_MTU: {
        uint32_t v;
        if (parse_count(arg, 576, 65520, &v) < 0) {
            fprintf(stderr, "%s: bad --mtu '%s': expected a number from 576 to 65520\n", prog, arg);
            return -1;
        }
        o->mtu = (uint16_t)v;
        return 1;
    }
    case OPT_TRACE:
        o->trace = true;
        return 1;
    case OPT_EXPLAIN:
        o->explain = true;
        return 1;
    case OPT_STATES:
        o->states = true;
        return 1;
    case OPT_PCAP:
        o->pcap = arg;
        return 1;
    case OPT_LADDER:
        o->ladder = true;
        return 1;
    case OPT_LADDER_SVG:
        o->ladder_svg = arg;
        return 1;
    case OPT_IMPAIR: {
        char err[256];
        if (impair_parse(arg, &o->impair_cfg, err, sizeof(err)) < 0) {
            /* The message quotes the bad item; once is enough when it is
             * the whole SPEC. */
            size_t n = strlen(arg);
            const char *why = err;
            if (err[0] == '\'' && strncmp(err + 1, arg, n) == 0 &&
                strncmp(err + 1 + n, "': ", 3) == 0)
                why = err + n + 4;
            fprintf(stderr, "%s: bad --impair '%s': %s\n", prog, arg, why);
            return -1;
        }
        o->impair = true;
        return 1;
    }
    case OPT_SNDBUF:
    case OPT_RCVBUF:
        if (parse_size(arg, id == OPT_SNDBUF ? &o->sndbuf : &o->rcvbuf) < 0) {
            fprintf(stderr,
                    "%s: bad %s '%s': expected a size from 1024 bytes to 1G, like 65536, 256K "
                    "or 4M\n",
                    prog, id == OPT_SNDBUF ? "--sndbuf" : "--rcvbuf", arg);
            return -1;
        }
        return 1;
    case OPT_NODELAY:
        o->nodelay = true;
        return 1;
    case OPT_KEEPALIVE:
        if (parse_keepalive(arg, o->keepalive) < 0) {
            memset(o->keepalive, 0, sizeof(o->keepalive));
            fprintf(stderr,
                    "%s: bad --keepalive '%s': expected IDLE,INTERVAL,COUNT like 10,2,3 (IDLE "
                    "and INTERVAL in seconds, 1 to 32767; COUNT probes, 1 to 127)\n",
                    prog, arg);
            return -1;
        }
        return 1;
    case OPT_ARP_PENDING:
    case OPT_MAX_CONNS:
    case OPT_BACKLOG: {
        static const struct {
            const char *name;
            unsigned long max;
        } lim[] = {
            [OPT_ARP_PENDING - OPT_ARP_PENDING] = {"--arp-pending", SK_ARP_PENDING_MAX},
            [OPT_MAX_CONNS - OPT_ARP_PENDING] = {"--max-conns", 4194304},
            [OPT_BACKLOG - OPT_ARP_PENDING] = {"--backlog", 65535},
        };
        uint32_t *dst = id == OPT_ARP_PENDING ? &o->arp_pending
                        : id == OPT_MAX_CONNS ? &o->max_conns
                                              : &o->backlog;
        unsigned long max = lim[id - OPT_ARP_PENDING].max;
        if (parse_count(arg, 1, max, dst) < 0) {
            fprintf(stderr, "%s: bad %s '%s': expected a number from 1 to %lu\n", prog,
                    lim[id - OPT_ARP_PENDING].name, arg, max);
            return -1;
        }
        return 1;
    }
    case OPT_CC: {
        int cc = sk_cc_from_name(arg);
        if (cc < 0) {
            fprintf(stderr, "%s: bad --cc '%s': expected cubic or newreno\n", prog, arg);
            return -1;
        }
        o->cc = cc;
        return 1;
    }
    case OPT_MAX_OOO:
        if (parse_count(arg, 1, 16384, &o->max_ooo) < 0) {
            fprintf(stderr, "%s: bad --max-ooo '%s': expected a number from 1 to 16384\n", prog,
                    arg);
            return -1;
        }
        return 1;
    case OPT_NO_OFFLOAD:
        o->no_offload = true;
        return 1;
    case OPT_NO_BATCH:
        o->no_batch = true;
        return 1;
    case OPT_MAX_HALF_OPEN:
        if (parse_count(arg, 1, 1000000, &o->max_half_open) < 0) {
            fprintf(stderr, "%s: bad --max-half-open '%s': expected a number from 1 to 1000000\n",
                    prog, arg);
            return -1;
        }
        return 1;
    case OPT_SYNCOOKIES: {
        static const char *const when[] = {
            [SK_SYNCOOKIES_DEFAULT] = "full",
            [SK_SYNCOOKIES_OFF] = "never",
            [SK_SYNCOOKIES_ALWAYS] = "always",
        };
        for (int i = 0; i < 3; i++)
            if (strcmp(arg, when[i]) == 0) {
                o->syncookies = i;
                return 1;
            }
        fprintf(stderr, "%s: bad --syncookies '%s': expected full, never or always\n", prog, arg);
        return -1;
    }
    case OPT_MEM_MAX:
        if (parse_mem(arg, &o->mem_max) < 0) {
            fprintf(stderr,
                    "%s: bad --mem-max '%s': expected a size from 1M to 1T, like 32M or 2G\n", prog,
                    arg);
            return -1;
        }
        return 1;
    default:
        return 0;
    }
}

uint64_t host_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void random_bytes(void *ctx, void *buf, size_t len)
{
    (void)ctx;
    uint8_t *p = buf;
    while (len) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.17 once seeded; never
             * fall back to a weak source for ISN secrets. */
            perror("getrandom");
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
}

/* A write to the TAP that did not take the whole frame (n of len). */
static void tap_write_failed(struct host *h, ssize_t n)
{
    h->tx_errors++;
    /* EIO means the link is down (ip link set tap0 down): a frame lost, as
     * on a NIC without carrier.  Only a detached TAP is fatal. */
    if (n < 0 && (errno == EBADFD || errno == ENODEV || errno == ENXIO)) {
        if (!h->tap_gone)
            fprintf(stderr, "%s: TAP '%s' went away (%s)\n", h->prog, h->tap.name, strerror(errno));
        h->tap_gone = true;
        host_stop(h, 1);
    }
}

static void txq_failed(void *ctx, ssize_t n)
{
    tap_write_failed(ctx, n);
}

static void write_tap(struct host *h, const uint8_t *frame, size_t len)
{
    struct iovec iov = {(void *)frame, len};
    txq_push(h->txq, &iov, 1);
}

/* A frame into the stack, and out to the observers with its reason. */
static void host_input(struct host *h, const uint8_t *frame, size_t len,
                       const struct sk_frame_meta *m, uint64_t now)
{
    sk_input_meta(h->stack, frame, len, m, now);
    obs_flush(h);
}

/* --impair: frames leave the impairment's queues through these two. */
static void deliver_in(void *ctx, const uint8_t *frame, size_t len, uint64_t now)
{
    struct host *h = ctx;
    host_input(h, frame, len, NULL, now);
}

static void deliver_out(void *ctx, const uint8_t *frame, size_t len, uint64_t now)
{
    (void)now;
    write_tap(ctx, frame, len);
}

/* The virtio-net header's fields (struct virtio_net_hdr): flags, the GSO
 * type, then four 16-bit fields in the host's byte order. */
#define VNET_F_NEEDS_CSUM 1
#define VNET_F_DATA_VALID 2
#define VNET_GSO_NONE     0
#define VNET_GSO_TCPV4    1

static uint16_t rd_host16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void wr_host16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

/* Offloads: every frame goes with a virtio-net header, the two pieces
 * queued together. */
static void tap_output_meta(void *ctx, const uint8_t *frame, size_t len,
                            const struct sk_frame_meta *m)
{
    struct host *h = ctx;
    uint8_t hdr[TAP_VNET_HDR_LEN] = {0};
    if (m->csum == SK_CSUM_PARTIAL) {
        hdr[0] = VNET_F_NEEDS_CSUM;
        wr_host16(hdr + 6, m->csum_start);
        wr_host16(hdr + 8, m->csum_offset);
    }
    if (m->gso_size) {
        hdr[1] = VNET_GSO_TCPV4;
        /* hdr_len: the headers each segment repeats (Ethernet, IP, TCP). */
        size_t ihl = (size_t)(frame[14] & 0x0f) * 4;
        wr_host16(hdr + 2, (uint16_t)(14 + ihl + (size_t)(frame[14 + ihl + 12] >> 4) * 4));
        wr_host16(hdr + 4, m->gso_size);
    }
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)frame, len}};
    txq_push(h->txq, iov, 2);
}

static void tap_output(void *ctx, const uint8_t *frame, size_t len)
{
    struct host *h = ctx;
    if (h->impair_out) {
        /* Copied into the queue: the stack reuses its buffer.  What is due
         * at once (no delay) leaves at once, as without --impair. */
        uint64_t now = host_now();
        impair_push(h->impair_out, IMPAIR_OUT, frame, len, now);
        impair_pop_due(h->impair_out, IMPAIR_OUT, now, deliver_out, h);
        return;
    }
    write_tap(h, frame, len);
}

/* --explain, and the comments of --pcap: the core tells what became of a
 * received frame once it is processed, after the frames its processing
 * sent at once, but the frame's trace line and pcap record must carry it.
 * So while reasons are asked for, what the observers put out (frames,
 * --states lines, the ladder's notes) is held in order in a small queue
 * and put out after each sk_input, sk_timers and sk_flush, or when the
 * queue is full (an incoming frame then loses its reason: more than
 * OBS_QUEUE frames sent while one was processed).  Without reasons,
 * frames are put out at once, as before, and nothing is copied. */
enum { OBS_FRAME, OBS_STATE, OBS_NOTE };

struct obs_rec {
    uint8_t kind, dir; /* dir: enum sk_dir, for frames */
    uint8_t why;       /* enum sk_why, 0 for none */
    uint32_t arg;
    struct timeval tv;
    uint64_t now;
    uint8_t *buf; /* the frame, or a --states line; grown when needed, kept */
    size_t len, cap;
    /* STATE: a connection ended (ladder_conn_done); NOTE: ladder_note */
    bool ladder;
    uint32_t laddr, raddr, seq;
    uint16_t lport, rport;
    const char *note;
};

#define OBS_QUEUE 128
struct host_obs {
    struct obs_rec rec[OBS_QUEUE];
    int n;
    int last_in; /* the received frame waiting for its reason, or -1 */
    /* The reason the core gave for the next TCP segment it sends; kept
     * until one goes (an ARP request may leave between the two). */
    uint8_t why_out;
    uint32_t why_out_arg;
    /* Relative sequence numbers for "at N", learnt as the trace learns
     * them (the trace's own state with --trace). */
    struct trace_state *rel;
    bool rel_own;
    /* The last received frame put out was out-of-order data at ooo_seq. */
    bool ooo_known;
    uint32_t ooo_seq;
};

static bool is_tcp(const uint8_t *f, size_t len)
{
    return len >= 14 + 20 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == 6;
}

/* The reason in words: "WORDS (RFC SECTION)", or "dropped: COUNTER". */
static void why_words(struct host *h, enum sk_dir dir, const uint8_t *frame, size_t len, int why,
                      uint32_t arg, char *out, size_t cap)
{
    struct host_obs *q = h->obs;
    uint32_t rel = 0;
    out[0] = '\0';
    if (why == SK_WHY_RX_DROPPED)
        snprintf(out, cap, "dropped: %s", sk_counter_desc((int)arg));
    else if (why == SK_WHY_ACK_OOO && q->ooo_known)
        /* The duplicate ACK says where the data that made it lies. */
        snprintf(out, cap, "%s at %u (%s)", sk_why_text(why), q->ooo_seq, sk_why_rfc(why));
    else if (why)
        snprintf(out, cap, "%s (%s)", sk_why_text(why), sk_why_rfc(why));
    if (dir == SK_DIR_IN) {
        q->ooo_known = why == SK_WHY_RX_OOO && trace_rel_seq(q->rel, frame, len, &rel);
        q->ooo_seq = rel;
    }
}

/* A frame to the trace, the pcap file and the ladder, with its reason. */
static void put_frame(struct host *h, enum sk_dir dir, const struct timeval *tv, uint64_t now,
                      const uint8_t *frame, size_t len, int why, uint32_t arg)
{
    char line[1024], reason[256] = "";
    if (h->trace)
        trace_format(h->trace, frame, len, line, sizeof(line));
    if (h->obs) {
        uint32_t unused;
        if (h->obs->rel_own) /* learn the numbers from every frame, as the trace does */
            trace_rel_seq(h->obs->rel, frame, len, &unused);
        why_words(h, dir, frame, len, why, arg, reason, sizeof(reason));
    }
    bool explain = h->opts.explain && reason[0];
    if (h->trace) {
        char ts[32];
        trace_timestamp(ts, tv->tv_sec, tv->tv_usec);
        /* Our mark, then the line as tcpdump prints it, then why. */
        fprintf(stderr, "%s %s %s%s%s\n", dir == SK_DIR_IN ? "rx" : "tx", ts, line,
                explain ? "  # " : "", explain ? reason : "");
    }
    if (h->pcapng.f)
        pcapng_write(&h->pcapng, (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec,
                     dir == SK_DIR_IN, frame, len, reason);
    if (h->ladder) {
        ladder_frame(h->ladder, frame, len, now);
        if (explain)
            ladder_explain(h->ladder, reason, why == SK_WHY_RX_DROPPED);
    }
}

/* Puts out what the queue holds, in order. */
static void obs_flush(struct host *h)
{
    struct host_obs *q = h->obs;
    if (!q)
        return;
    for (int i = 0; i < q->n; i++) {
        struct obs_rec *r = &q->rec[i];
        if (r->kind == OBS_FRAME)
            put_frame(h, (enum sk_dir)r->dir, &r->tv, r->now, r->buf, r->len, r->why, r->arg);
        else if (r->len)
            fwrite(r->buf, 1, r->len, stderr);
        if (r->kind == OBS_STATE && r->ladder)
            ladder_conn_done(h->ladder, r->laddr, r->lport, r->raddr, r->rport);
        if (r->kind == OBS_NOTE && r->ladder)
            ladder_note(h->ladder, r->laddr, r->lport, r->raddr, r->rport, r->seq, r->note);
    }
    q->n = 0;
    q->last_in = -1;
}

/* The next record, room for need bytes; NULL (not recorded) without memory. */
static struct obs_rec *obs_push(struct host *h, int kind, size_t need)
{
    struct host_obs *q = h->obs;
    if (q->n == OBS_QUEUE)
        obs_flush(h);
    struct obs_rec *r = &q->rec[q->n];
    if (r->cap < need) {
        uint8_t *b = realloc(r->buf, need);
        if (!b)
            return NULL;
        r->buf = b;
        r->cap = need;
    }
    q->n++;
    r->kind = (uint8_t)kind;
    r->why = 0;
    r->arg = 0;
    r->len = 0;
    r->ladder = false;
    return r;
}

static void observe_frame(void *ctx, enum sk_dir dir, const uint8_t *frame, size_t len,
                          uint64_t now)
{
    struct host *h = ctx;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct host_obs *q = h->obs;
    if (!q) {
        put_frame(h, dir, &tv, now, frame, len, 0, 0);
        return;
    }
    struct obs_rec *r = obs_push(h, OBS_FRAME, len);
    if (!r)
        return;
    memcpy(r->buf, frame, len);
    r->len = len;
    r->dir = (uint8_t)dir;
    r->tv = tv;
    r->now = now;
    if (dir == SK_DIR_IN) {
        q->last_in = q->n - 1;
    } else if (q->why_out && is_tcp(frame, len)) {
        r->why = q->why_out;
        r->arg = q->why_out_arg;
        q->why_out = 0;
    }
}

static void observe_why(void *ctx, enum sk_dir dir, int why, uint32_t arg, uint64_t now)
{
    struct host *h = ctx;
    struct host_obs *q = h->obs;
    (void)now;
    if (dir == SK_DIR_OUT) {
        q->why_out = (uint8_t)why;
        q->why_out_arg = arg;
    } else if (q->last_in >= 0) {
        q->rec[q->last_in].why = (uint8_t)why;
        q->rec[q->last_in].arg = arg;
    }
}

/* A --states line: printed now, or queued behind the frames before it. */
static struct obs_rec *states_line(struct host *h, const char *line)
{
    size_t n = strlen(line);
    if (!h->obs) {
        fputs(line, stderr);
        return NULL;
    }
    struct obs_rec *r = obs_push(h, OBS_STATE, n + 1);
    if (r) {
        memcpy(r->buf, line, n);
        r->len = n;
    }
    return r;
}

static void observe_state(void *ctx, const struct sk_state_change *ch, uint64_t now)
{
    struct host *h = ctx;
    (void)now;
    char line[256] = "";
    if (h->opts.states) {
        char a[16], b[16];
        if (ch->rport)
            addf(line, sizeof(line), "%s:%u %s:%u %s -> %s", ip_str(ch->laddr, a), ch->lport,
                 ip_str(ch->raddr, b), ch->rport, sk_state_name(ch->from), sk_state_name(ch->to));
        else
            addf(line, sizeof(line), "%s:%u *:* %s -> %s", ip_str(ch->laddr, a), ch->lport,
                 sk_state_name(ch->from), sk_state_name(ch->to));
        if (ch->cause[0])
            addf(line, sizeof(line), " (%s)", ch->cause);
        addf(line, sizeof(line), "\n");
    }
    bool done = h->ladder && (ch->to == SK_CLOSED || ch->to == SK_TIME_WAIT);
    if (!h->obs) {
        fputs(line, stderr);
        if (done)
            ladder_conn_done(h->ladder, ch->laddr, ch->lport, ch->raddr, ch->rport);
        return;
    }
    struct obs_rec *r = states_line(h, line);
    if (r && done) {
        r->ladder = true;
        r->laddr = ch->laddr;
        r->lport = ch->lport;
        r->raddr = ch->raddr;
        r->rport = ch->rport;
    }
}

/* A note of the core (loss recovery, probes): one line for --states, and
 * the cause of a segment the ladder just drew.  Sequence numbers are ours,
 * relative to our ISS as in the ladder and tcpdump's relative numbers. */
static void observe_note(void *ctx, const struct sk_tcp_note *n, uint64_t now)
{
    struct host *h = ctx;
    (void)now;
    bool segment = n->kind == SK_NOTE_RTX_RECOVERY || n->kind == SK_NOTE_RTX_LOSS ||
                   n->kind == SK_NOTE_TLP || n->kind == SK_NOTE_KEEPALIVE;
    char line[256] = "";
    if (h->opts.states) {
        struct sk_conn_info i;
        sk_conn_info(n->conn, &i);
        uint32_t seq = n->seq - i.iss, end = n->end - i.iss;
        char a[16], b[16], range[32];
        /* A state change reads "A B FROM -> TO (cause)"; a note "A B * what ...". */
        addf(line, sizeof(line), "%s:%u %s:%u * %s", ip_str(n->laddr, a), n->lport,
             ip_str(n->raddr, b), n->rport, sk_note_name(n->kind));
        if (seq == end)
            snprintf(range, sizeof(range), "%u", seq);
        else
            snprintf(range, sizeof(range), "%u:%u", seq, end);
        if (segment) {
            addf(line, sizeof(line), " seq %s", range);
        } else { /* the events: what was in flight, from SND.UNA to the highest sent */
            addf(line, sizeof(line), " (in flight %s) cwnd %u", range, n->cwnd);
            if (n->ssthresh != UINT32_MAX)
                addf(line, sizeof(line), " ssthresh %u", n->ssthresh);
        }
        addf(line, sizeof(line), "\n");
    }
    bool note = h->ladder && segment;
    if (!h->obs) {
        fputs(line, stderr);
        if (note)
            ladder_note(h->ladder, n->laddr, n->lport, n->raddr, n->rport, n->seq,
                        sk_note_name(n->kind));
        return;
    }
    struct obs_rec *r = obs_push(h, OBS_NOTE, strlen(line) + 1);
    if (!r)
        return;
    r->len = strlen(line);
    memcpy(r->buf, line, r->len);
    if (note) {
        r->ladder = true;
        r->laddr = n->laddr;
        r->lport = n->lport;
        r->raddr = n->raddr;
        r->rport = n->rport;
        r->seq = n->seq;
        r->note = sk_note_name(n->kind);
    }
}

static int observers_up(struct host *h, struct sk_config *cfg)
{
    const struct host_opts *o = &h->opts;
    if (o->trace && !(h->trace = calloc(1, sizeof(*h->trace))))
        return -1;
    if (o->pcap) {
        /* Opened here, so the message is strerror's alone ("-" is stdout,
         * as for tcpdump -w). */
        FILE *f = strcmp(o->pcap, "-") == 0 ? stdout : fopen(o->pcap, "wb");
        if (!f) {
            fprintf(stderr, "%s: cannot write the pcap file %s: %s\n", h->prog, o->pcap,
                    strerror(errno));
            return -1;
        }
        /* The headers now, so a file that takes nothing (/dev/full) fails
         * here, before the run, rather than at the first frame. */
        if (pcapng_open(&h->pcapng, f, h->tap.name, h->prog) < 0) {
            fprintf(stderr, "%s: cannot write the pcap file %s: %s\n", h->prog, o->pcap,
                    strerror(h->pcapng.err));
            pcapng_close(&h->pcapng); /* told once: not again at host_down */
            return -1;
        }
    }
    if (o->ladder || o->ladder_svg) {
        /* The SVG file is made now: a bad path fails at start, not after
         * the run it was to show. */
        FILE *svg = NULL;
        if (o->ladder_svg && !(svg = fopen(o->ladder_svg, "w"))) {
            fprintf(stderr, "%s: cannot write the ladder SVG %s: %s\n", h->prog, o->ladder_svg,
                    strerror(errno));
            return -1;
        }
        if (!(h->ladder = malloc(sizeof(*h->ladder)))) {
            if (svg)
                fclose(svg);
            return -1;
        }
        ladder_init(h->ladder, o->ladder ? stderr : NULL, svg);
    }
    /* Reasons: for --explain, and for the comments of the pcap file. */
    if (o->explain || h->pcapng.f) {
        if (!(h->obs = calloc(1, sizeof(*h->obs))))
            return -1;
        h->obs->last_in = -1;
        h->obs->rel = h->trace;
        if (!h->obs->rel) {
            if (!(h->obs->rel = calloc(1, sizeof(*h->obs->rel))))
                return -1;
            h->obs->rel_own = true;
        }
        cfg->on_why = observe_why;
    }
    if (h->trace || h->pcapng.f || h->ladder)
        cfg->on_frame = observe_frame;
    if (o->states || h->ladder) {
        cfg->on_state = observe_state;
        cfg->on_note = observe_note;
    }
    cfg->observer_ctx = h;
    return 0;
}

/* The first write error of the pcap file or of the SVG: told once per
 * file.  False if it was told already. */
static bool observer_failed(struct host *h, bool *told, const char *what, const char *path, int err)
{
    if (*told)
        return false;
    *told = true;
    fprintf(stderr, "%s: cannot write the %s %s: %s\n", h->prog, what, path, strerror(err));
    return true;
}

/* Checks the pcap file after a batch.  On a write error the capture stops
 * and the run goes on: the capture only watches, and cutting the user's
 * connections because a disk filled would lose their data as well; the
 * exit status then says the capture is incomplete (host_down). */
static void check_pcap(struct host *h, bool running)
{
    if (pcapng_flush(&h->pcapng) == 0)
        return;
    if (observer_failed(h, &h->pcap_failed, "pcap file", h->opts.pcap, h->pcapng.err) && running)
        fprintf(stderr, "%s: the capture stops here; the run goes on\n", h->prog);
    pcapng_close(&h->pcapng);
}

/* 1 if an observer's file could not be written whole. */
static int observers_down(struct host *h)
{
    obs_flush(h);
    if (h->ladder) {
        if (ladder_finish(h->ladder) < 0)
            observer_failed(h, &h->svg_failed, "ladder SVG", h->opts.ladder_svg,
                            h->ladder->svg_errno);
        free(h->ladder);
        h->ladder = NULL;
    }
    if (h->pcapng.f) {
        check_pcap(h, false);
        if (h->pcapng.f && pcapng_close(&h->pcapng) < 0)
            observer_failed(h, &h->pcap_failed, "pcap file", h->opts.pcap, h->pcapng.err);
    }
    if (h->obs) {
        for (int i = 0; i < OBS_QUEUE; i++)
            free(h->obs->rec[i].buf);
        if (h->obs->rel_own)
            free(h->obs->rel);
        free(h->obs);
        h->obs = NULL;
    }
    free(h->trace);
    h->trace = NULL;
    return h->pcap_failed || h->svg_failed ? 1 : 0;
}

/* What the options cannot be together, and the addresses (addr.h): told
 * before any TAP is made. */
static int check_opts(const struct host_opts *o, const char *prog)
{
    char err[512];
    if (addr_check_link(o->addr, o->prefix, o->host_addr, o->host_prefix, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    if (o->pcap && o->ladder_svg && strcmp(o->pcap, o->ladder_svg) == 0) {
        fprintf(stderr, "%s: --pcap and --ladder-svg both name %s: give each its own file\n", prog,
                o->pcap);
        return -1;
    }
    return 0;
}

/* A closed stdin, stdout or stderr would be reused by the next open (the
 * TAP), and the app would take frames for its input: give them /dev/null.
 * stdout's is opened read-only, so a write to it still fails (EBADF) and
 * the app tells of it, as with the closed descriptor, instead of what it
 * received going to /dev/null unsaid. */
static void sane_stdio(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            int n = open("/dev/null", fd == 1 ? O_RDONLY : O_RDWR);
            if (n >= 0 && n != fd)
                close(n);
        }
}

int host_up(struct host *h, const struct host_opts *o, const char *prog)
{
    char err[512];
    sane_stdio();
    memset(h, 0, sizeof(*h));
    h->opts = *o;
    h->prog = prog;
    h->sigfd = -1;
    h->tap.fd = -1;
    h->app_deadline = UINT64_MAX;
    /* --explain without a trace or a ladder: the trace is where it speaks. */
    if (o->explain && !o->trace && !o->ladder && !o->ladder_svg)
        h->opts.trace = true;
    if (check_opts(o, prog) < 0)
        return -1;
    /* Offloads unless switched off, or --impair, whose queues keep bare
     * frames (and whose corruption must meet a checksum).  The subnet is
     * checked once the TAP has its name (tap%d), before its host side gets
     * an address. */
    bool offload = !o->no_offload && !o->impair;
    size_t n = sizeof(err);
    if ((offload ? tap_open_offload(&h->tap, o->tap, err, n) : tap_open(&h->tap, o->tap, err, n)) <
            0 ||
        addr_check_unused(h->tap.name, o->addr, o->host_addr, o->host_prefix, err, n) < 0 ||
        tap_configure(&h->tap, o->host_addr, o->host_prefix, o->mtu, err, n) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        tap_close(&h->tap);
        return -1;
    }
    h->txq = malloc(sizeof(*h->txq));
    if (!h->txq || txq_init(h->txq, h->tap.fd, !o->no_batch, txq_failed, h) < 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        free(h->txq);
        h->txq = NULL;
        tap_close(&h->tap);
        return -1;
    }
    /* Signals arrive as readable data in the loop, never interrupting it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    h->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    struct sk_config cfg = {0};
    random_bytes(NULL, cfg.mac, 6);
    cfg.mac[0] = (uint8_t)((cfg.mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
    cfg.addr = o->addr;
    cfg.prefix_len = o->prefix;
    cfg.mtu = o->mtu;
    cfg.tcp_max_conns = o->max_conns;
    cfg.tcp_max_ooo = o->max_ooo;
    cfg.tcp_mem_max = o->mem_max;
    cfg.tcp_max_half_open = o->max_half_open;
    cfg.tcp_syncookies = o->syncookies;
    cfg.output = tap_output;
    cfg.output_ctx = h;
    if (h->tap.vnet) {
        cfg.output_meta = tap_output_meta;
        cfg.offload_csum = h->tap.csum;
        cfg.offload_tso = h->tap.tso;
    }
    cfg.random = random_bytes;
    cfg.arp_pending = o->arp_pending;
    /* Before the stack, whose gratuitous ARP already crosses the link.
     * Slots hold a frame of the MTU, its Ethernet header and a VLAN tag. */
    if (o->impair) {
        h->impair = impair_new(&o->impair_cfg, (size_t)o->mtu + 18);
        if (!h->impair) {
            fprintf(stderr, "%s: cannot allocate the --impair queues: out of memory\n", prog);
            host_down(h);
            return -1;
        }
        if (impair_active(h->impair, IMPAIR_IN))
            h->impair_in = h->impair;
        if (impair_active(h->impair, IMPAIR_OUT))
            h->impair_out = h->impair;
    }
    if (observers_up(h, &cfg) < 0) {
        host_down(h);
        return -1;
    }
    int e;
    h->stack = sk_stack_new(&cfg, host_now(), &e);
    if (!h->stack) {
        fprintf(stderr, "%s: cannot create the stack: %s\n", prog, sk_strerror(e));
        host_down(h);
        return -1;
    }
    if (h->tap_gone) {
        host_down(h);
        return -1;
    }
    synack_gdb_stack = h->stack;
    if (o->verbose) {
        char a[16], b[16];
        const uint8_t *m = cfg.mac;
        fprintf(stderr,
                "%s: stack %s/%u at %02x:%02x:%02x:%02x:%02x:%02x on %s (%s), host side %s, "
                "MTU %u\n",
                prog, ip_str(o->addr, a), o->prefix, m[0], m[1], m[2], m[3], m[4], m[5],
                h->tap.name, h->tap.created ? "created" : "persistent", ip_str(o->host_addr, b),
                o->mtu);
        fprintf(stderr, "%s: offloads: %s\n", prog,
                h->tap.tso      ? "checksums and TSO (virtio-net header)"
                : h->tap.csum   ? "checksums (virtio-net header)"
                : o->no_offload ? "off (--no-offload)"
                : o->impair     ? "off (--impair)"
                                : "none (the kernel granted none)");
        fprintf(stderr, "%s: frames out: %s\n", prog,
                h->txq->ring  ? "in batches (io_uring)"
                : o->no_batch ? "one write each (--no-batch)"
                              : "one write each (no io_uring here)");
        if (h->impair) {
            char desc[512];
            impair_cfg_format(&o->impair_cfg, desc, sizeof(desc));
            fprintf(stderr, "%s: impaired link: %s\n", prog, desc);
        }
    }
    return 0;
}

int host_conn_opts(struct host *h, sk_conn *c)
{
    const struct host_opts *ho = &h->opts;
    struct sk_tcp_opts o;
    /* What the connection has (the stack's defaults), with what was asked
     * for on top: an option not given leaves the default alone. */
    sk_conn_get_opts(c, &o);
    if (ho->sndbuf)
        o.sndbuf = ho->sndbuf;
    if (ho->rcvbuf)
        o.rcvbuf = ho->rcvbuf;
    if (ho->nodelay)
        o.nodelay = true;
    if (ho->keepalive[0]) {
        o.keepalive_idle_ms = ho->keepalive[0] * 1000;
        o.keepalive_intvl_ms = ho->keepalive[1] * 1000;
        o.keepalive_count = ho->keepalive[2];
    }
    if (ho->cc)
        o.cc = ho->cc;
    int e = sk_conn_set_opts(c, &o);
    if (e < 0) {
        fprintf(stderr, "%s: cannot set the TCP options (--sndbuf, --rcvbuf, --keepalive...): %s\n",
                h->prog, sk_strerror(e));
        return -1;
    }
    return 0;
}

int host_watch(struct host *h, int fd, short events, host_fd_cb cb, void *ctx)
{
    if (h->nwatch == HOST_MAX_WATCH)
        return -1;
    h->watch[h->nwatch].fd = fd;
    h->watch[h->nwatch].events = events;
    h->watch[h->nwatch].cb = cb;
    h->watch[h->nwatch].ctx = ctx;
    h->nwatch++;
    return 0;
}

void host_watch_events(struct host *h, int fd, short events)
{
    for (int i = 0; i < h->nwatch; i++)
        if (h->watch[i].fd == fd)
            h->watch[i].events = events;
}

void host_unwatch(struct host *h, int fd)
{
    for (int i = 0; i < h->nwatch; i++)
        if (h->watch[i].fd == fd) {
            h->watch[i] = h->watch[--h->nwatch];
            return;
        }
}

void host_stop(struct host *h, int code)
{
    if (!h->stop || code > h->exit_code)
        h->exit_code = code;
    h->stop = true;
}

void host_print_counters(struct host *h)
{
    const struct sk_counters *c = sk_counters(h->stack);
    fprintf(stderr, "%s: counters (non-zero):\n", h->prog);
#define PRINT_COUNTER(name, desc)                                                                  \
    if (c->name)                                                                                   \
        fprintf(stderr, "    %llu %s\n", (unsigned long long)c->name, desc);
    SK_COUNTERS(PRINT_COUNTER)
#undef PRINT_COUNTER
    if (h->tx_errors)
        fprintf(stderr, "    %llu frames not written to the TAP\n",
                (unsigned long long)h->tx_errors);
    if (h->txq && h->txq->batches)
        fprintf(stderr, "    %llu frames written to the TAP in %llu batches (io_uring)\n",
                (unsigned long long)h->txq->batched, (unsigned long long)h->txq->batches);
    if (!h->impair)
        return;
    fprintf(stderr, "%s: impairment counters (non-zero):\n", h->prog);
    for (int d = IMPAIR_IN; d <= IMPAIR_OUT; d++) {
        const struct impair_counters *ic = impair_counters(h->impair, (enum impair_dir)d);
        if (!impair_active(h->impair, (enum impair_dir)d))
            continue;
#define PRINT_IMPAIR(name, desc)                                                                   \
    if (ic->name)                                                                                  \
        fprintf(stderr, "    %llu %s: %s\n", (unsigned long long)ic->name, d ? "out" : "in", desc);
        IMPAIR_COUNTERS(PRINT_IMPAIR)
#undef PRINT_IMPAIR
    }
}

static const char *ss_state(int st)
{
    /* ss's abbreviations */
    static const char *const n[SK_STATE_COUNT] = {
        [SK_CLOSED] = "CLOSED",         [SK_LISTEN] = "LISTEN",
        [SK_SYN_SENT] = "SYN-SENT",     [SK_SYN_RECEIVED] = "SYN-RECV",
        [SK_ESTABLISHED] = "ESTAB",     [SK_FIN_WAIT_1] = "FIN-WAIT-1",
        [SK_FIN_WAIT_2] = "FIN-WAIT-2", [SK_CLOSE_WAIT] = "CLOSE-WAIT",
        [SK_CLOSING] = "CLOSING",       [SK_LAST_ACK] = "LAST-ACK",
        [SK_TIME_WAIT] = "TIME-WAIT",
    };
    return st >= 0 && st < SK_STATE_COUNT ? n[st] : "?";
}

/* Appends to a line of at most cap bytes. */
static void addf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(buf);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, cap - n, fmt, ap);
    va_end(ap);
}

/* Two lines a connection, as `ss -tni` prints them: the state, queues and
 * endpoints, then the TCP details in ss's words and order (its flags "ts"
 * and "sack", the algorithm, "wscale:SND,RCV", rto, rtt, mss, cwnd, ...;
 * like ss, counts that are 0 are left out), then what ss has no word for:
 * the recovery state (ca), the loss recovery counts of this connection,
 * and the sequence numbers, relative to the ISS and IRS.  Bytes where ss
 * counts segments (cwnd, ssthresh, unacked, lost, sacked); times in ms. */
static void print_conn(void *ctx, const sk_conn *c)
{
    (void)ctx;
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    char a[16], b[16], l[32], r[32];
    snprintf(l, sizeof(l), "%s:%u", ip_str(i.laddr, a), i.lport);
    if (i.rport)
        snprintf(r, sizeof(r), "%s:%u", ip_str(i.raddr, b), i.rport);
    else
        snprintf(r, sizeof(r), "*:*");
    fprintf(stderr, "%-11s %-7u %-7u %-21s %-21s\n", ss_state(i.state), i.recv_queued,
            i.send_queued, l, r);
    /* ss shows nothing more for listeners and TIME-WAIT. */
    if (i.state == SK_LISTEN || i.state == SK_TIME_WAIT || i.state == SK_CLOSED)
        return;
    char d[512] = "";
    if (i.timestamps)
        addf(d, sizeof(d), " ts");
    if (i.sack)
        addf(d, sizeof(d), " sack");
    addf(d, sizeof(d), " %s", i.cc && i.cc[0] ? i.cc : "?");
    if (i.snd_wscale >= 0 && i.rcv_wscale >= 0)
        addf(d, sizeof(d), " wscale:%d,%d", i.snd_wscale, i.rcv_wscale);
    addf(d, sizeof(d), " rto:%.0f", i.rto_us / 1000.0);
    if (i.srtt_us)
        addf(d, sizeof(d), " rtt:%.3f/%.3f", i.srtt_us / 1000.0, i.rttvar_us / 1000.0);
    addf(d, sizeof(d), " mss:%u cwnd:%u", i.mss, i.cwnd);
    if (i.ssthresh != UINT32_MAX)
        addf(d, sizeof(d), " ssthresh:%u", i.ssthresh);
    if (i.unacked)
        addf(d, sizeof(d), " unacked:%u", i.unacked);
    if (i.in_flight)
        addf(d, sizeof(d), " in_flight:%u", i.in_flight);
    if (i.retransmits)
        addf(d, sizeof(d), " retrans:%u", i.retransmits);
    if (i.lost)
        addf(d, sizeof(d), " lost:%u", i.lost);
    if (i.sacked)
        addf(d, sizeof(d), " sacked:%u", i.sacked);
    if (i.reordering)
        addf(d, sizeof(d), " reordering");
    if (i.min_rtt_us && i.min_rtt_us != UINT32_MAX)
        addf(d, sizeof(d), " minrtt:%.3f", i.min_rtt_us / 1000.0);
    addf(d, sizeof(d), " ca:%s", i.ca_state ? i.ca_state : "?");
    if (i.fast_retransmits)
        addf(d, sizeof(d), " fast_rtx:%u", i.fast_retransmits);
    if (i.timeouts)
        addf(d, sizeof(d), " timeouts:%u", i.timeouts);
    if (i.tail_loss_probes)
        addf(d, sizeof(d), " tlp:%u", i.tail_loss_probes);
    if (i.undos)
        addf(d, sizeof(d), " undo:%u", i.undos);
    addf(d, sizeof(d), " snd_una:%u snd_nxt:%u snd_wnd:%u rcv_nxt:%u rcv_wnd:%u", i.snd_una - i.iss,
         i.snd_nxt - i.iss, i.snd_wnd, i.rcv_nxt - i.irs, i.rcv_wnd);
    if (i.rcv_ooo)
        addf(d, sizeof(d), " ooo:%u", i.rcv_ooo);
    fprintf(stderr, "\t%s\n", d);
}

void host_print_conns(struct host *h)
{
    fprintf(stderr, "%-11s %-7s %-7s %-21s %-21s\n", "State", "Recv-Q", "Send-Q",
            "Local Address:Port", "Peer Address:Port");
    sk_foreach_conn(h->stack, print_conn, NULL);
}

/* A frame with its virtio-net header: what the header says, into the
 * core's terms.  -1 for a kind we did not ask for (not TCP/IPv4 GSO). */
static int vnet_meta(const uint8_t *hdr, struct sk_frame_meta *m)
{
    uint8_t flags = hdr[0], gso = hdr[1] & 0x7f; /* 0x80: ECN, nothing to do */
    *m = (struct sk_frame_meta){0};
    if (flags & VNET_F_NEEDS_CSUM) {
        m->csum = SK_CSUM_PARTIAL;
        m->csum_start = rd_host16(hdr + 6);
        m->csum_offset = rd_host16(hdr + 8);
    } else if (flags & VNET_F_DATA_VALID) {
        m->csum = SK_CSUM_VALID;
    }
    if (gso == VNET_GSO_TCPV4)
        m->gso_size = rd_host16(hdr + 4);
    else if (gso != VNET_GSO_NONE)
        return -1;
    return 0;
}

/* A TSO frame from the kernel: 64 KiB of IPv4, its Ethernet and
 * virtio-net headers. */
#define TAP_FRAME_MAX (TAP_VNET_HDR_LEN + 14 + 65536)

/* A frame with its virtio-net header, n bytes in buf, into the stack. */
static void input_vnet(struct host *h, const uint8_t *buf, size_t n)
{
    struct sk_frame_meta m;
    if (n < TAP_VNET_HDR_LEN || vnet_meta(buf, &m) < 0) {
        h->rx_vnet_bad++;
        return;
    }
    host_input(h, buf + TAP_VNET_HDR_LEN, n - TAP_VNET_HDR_LEN, &m, host_now());
}

/* With offloads: one frame, its payload read straight into the receive
 * buffer of the connection receiving (sk_rx_place), its headers into buf:
 * one copy of the data (the kernel's, into the ring) instead of two.  A
 * frame that is not the segment placed for is put together in buf and
 * goes in as any other.  Returns what read() would. */
static ssize_t read_vnet(struct host *h, uint8_t *buf)
{
    struct sk_rx_place pl;
    /* The most TCP payload an IPv4 datagram carries (65,535 bytes less two
     * 20-byte headers). */
    if (sk_rx_place(h->stack, 65535 - 40, &pl) == 0) {
        ssize_t n = read(h->tap.fd, buf, TAP_FRAME_MAX);
        if (n > 0)
            input_vnet(h, buf, (size_t)n);
        return n;
    }
    size_t hdr = TAP_VNET_HDR_LEN + pl.hdr_len, room = 0;
    struct iovec iov[2 + SK_RX_SPANS] = {{buf, hdr}};
    for (int i = 0; i < pl.n; i++) {
        iov[1 + i] = (struct iovec){pl.span[i].base, pl.span[i].len};
        room += pl.span[i].len;
    }
    /* A frame longer than the place (a window smaller than a TSO frame)
     * goes on where it would lie in buf once put together: nothing of it
     * is cut off. */
    int niov = 1 + pl.n;
    if (hdr + room < TAP_FRAME_MAX)
        iov[niov++] = (struct iovec){buf + hdr + room, TAP_FRAME_MAX - hdr - room};
    ssize_t n = readv(h->tap.fd, iov, niov);
    if (n <= 0)
        return n; /* the place goes back at the next sk_rx_place or sk_flush */
    size_t head = (size_t)n < hdr ? (size_t)n : hdr, placed = (size_t)n - head;
    struct sk_frame_meta m;
    bool whole_headers = head == hdr && placed <= room && vnet_meta(buf, &m) == 0;
    if (whole_headers && sk_input_placed(h->stack, buf + TAP_VNET_HDR_LEN, pl.hdr_len, placed, &m,
                                         host_now()) == 0) {
        obs_flush(h);
        return n;
    }
    /* Refused: the frame whole, its payload after its headers (what went
     * past the place is there already). */
    for (int i = 0; i < pl.n && placed; i++) {
        size_t k = placed < pl.span[i].len ? placed : pl.span[i].len;
        memcpy(buf + head, pl.span[i].base, k);
        head += k;
        placed -= k;
    }
    head += placed;
    input_vnet(h, buf, head);
    return n;
}

/* Four 64 KiB TSO frames: read into the receive ring, then read out by
 * the app while they are still in the CPU's cache.  At MTU 65520, host ->
 * stack into discard: 512 KiB a round 5,680 MB/s, 256 KiB 5,909, against
 * 4,158 with 256 frames a round (docs/performance.md). */
#define RX_BATCH_BYTES (256 * 1024)
static void read_tap(struct host *h)
{
    static uint8_t buf[TAP_FRAME_MAX];
    /* Read until EAGAIN, bounded so the app's fds get their turn: 256
     * frames, or RX_BATCH_BYTES of them. */
    size_t bytes = 0;
    for (int i = 0; i < 256 && bytes < RX_BATCH_BYTES; i++) {
        ssize_t n = h->tap.vnet ? read_vnet(h, buf) : read(h->tap.fd, buf, sizeof(buf));
        if (n > 0) {
            bytes += (size_t)n;
            if (h->tap.vnet)
                continue; /* taken by read_vnet */
            uint64_t now = host_now();
            if (h->impair_in) {
                impair_push(h->impair_in, IMPAIR_IN, buf, (size_t)n, now);
                impair_pop_due(h->impair_in, IMPAIR_IN, now, deliver_in, h);
            } else {
                host_input(h, buf, (size_t)n, NULL, now);
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        fprintf(stderr, "%s: TAP '%s' went away (%s)\n", h->prog, h->tap.name,
                n == 0 ? "end of file" : strerror(errno));
        h->tap_gone = true;
        host_stop(h, 1);
        return;
    }
}

static void read_signals(struct host *h)
{
    struct signalfd_siginfo si;
    while (read(h->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (h->on_signal) {
            h->on_signal(h, (int)si.ssi_signo);
            continue;
        }
        if (si.ssi_signo == SIGUSR1) {
            host_print_counters(h);
            host_print_conns(h);
        } else if (h->lingering) {
            host_stop(h, 0); /* a second signal: stop now */
        } else {
            /* The first one closes connections properly (FINs, or RSTs for
             * unread data) and waits a little for them to finish. */
            if (h->on_shutdown)
                h->on_shutdown(h);
            host_linger(h);
        }
    }
}

static void dispatch_events(struct host *h)
{
    struct sk_event ev[64];
    size_t n;
    /* Bounded: an app that keeps causing events yields after a few rounds. */
    for (int round = 0; round < 16 && (n = sk_poll(h->stack, ev, 64)) > 0; round++)
        for (size_t i = 0; i < n; i++)
            if (h->on_event)
                h->on_event(h, ev[i].conn, ev[i].events);
}

static void count_busy(void *ctx, const sk_conn *c)
{
    /* FIN_WAIT_2 and TIME_WAIT: our FIN is acknowledged, nothing of ours
     * is left to deliver. */
    int st = sk_conn_state(c);
    if (st != SK_CLOSED && st != SK_TIME_WAIT && st != SK_LISTEN && st != SK_FIN_WAIT_2)
        *(bool *)ctx = true;
}

/* Connections still delivering: data or a FIN not yet acknowledged. */
static bool stack_busy(const sk_stack *s)
{
    bool busy = false;
    sk_foreach_conn(s, count_busy, &busy);
    return busy;
}

void host_linger(struct host *h)
{
    if (h->lingering)
        return;
    h->lingering = true;
    h->linger_until = host_now() + HOST_LINGER_US;
}

int host_run(struct host *h)
{
    struct pollfd pfd[HOST_MAX_WATCH + 2];
    /* Whatever the app did before the loop (listen, connect) goes out now. */
    sk_flush(h->stack, host_now());
    obs_flush(h);
    if (h->impair_out)
        impair_pop_due(h->impair_out, IMPAIR_OUT, host_now(), deliver_out, h);
    while (!h->stop) {
        uint64_t now = host_now();
        if (h->lingering && (now >= h->linger_until || !stack_busy(h->stack)))
            break;
        uint64_t deadline = sk_next_deadline(h->stack);
        if (h->app_deadline < deadline)
            deadline = h->app_deadline;
        if (h->lingering && h->linger_until < deadline)
            deadline = h->linger_until;
        if (h->impair && impair_next_deadline(h->impair) < deadline)
            deadline = impair_next_deadline(h->impair);
        /* ppoll's timeout is exact to the microsecond: RACK's reordering
         * timer and --impair's queues have deadlines well under a
         * millisecond, which poll() would round up to one. */
        struct timespec ts, *tsp = NULL;
        if (deadline != UINT64_MAX) {
            uint64_t wait = deadline <= now ? 0 : deadline - now;
            if (wait > 60000000)
                wait = 60000000;
            ts.tv_sec = (time_t)(wait / 1000000);
            ts.tv_nsec = (long)(wait % 1000000) * 1000;
            tsp = &ts;
        }
        pfd[0] = (struct pollfd){.fd = h->tap.fd, .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = h->sigfd, .events = POLLIN};
        int nw = h->nwatch;
        /* A watch with no events is left out (fd -1): poll would still
         * report POLLHUP on it, for ever, and spin. */
        for (int i = 0; i < nw; i++)
            pfd[2 + i] = (struct pollfd){.fd = h->watch[i].events ? h->watch[i].fd : -1,
                                         .events = h->watch[i].events};
        /* What this round put out leaves before the loop waits. */
        txq_flush(h->txq);
        int r = ppoll(pfd, (nfds_t)(2 + nw), tsp, NULL);
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "%s: poll: %s\n", h->prog, strerror(errno));
            host_stop(h, 1);
            break;
        }
        if (r > 0 && (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
            /* The TAP was deleted under us. */
            fprintf(stderr, "%s: TAP '%s' went away\n", h->prog, h->tap.name);
            h->tap_gone = true;
            host_stop(h, 1);
            break;
        }
        if (r > 0 && (pfd[0].revents & POLLIN)) {
            read_tap(h);
            /* What the frames answered at once (an echo reply, an ARP
             * reply, a duplicate ACK) leaves now, before the timers and
             * the app have their turn. */
            txq_flush(h->txq);
        }
        if (r > 0 && (pfd[1].revents & POLLIN))
            read_signals(h);
        now = host_now();
        /* Frames the impaired link held until now. */
        if (h->impair_in)
            impair_pop_due(h->impair_in, IMPAIR_IN, now, deliver_in, h);
        sk_timers(h->stack, now);
        obs_flush(h);
        dispatch_events(h);
        /* App fds: the watch list may change in callbacks, so match by fd. */
        for (int i = 0; r > 0 && i < nw && !h->stop; i++) {
            short rev = pfd[2 + i].revents;
            if (!rev)
                continue;
            for (int j = 0; j < h->nwatch; j++)
                if (pfd[2 + i].fd >= 0 && h->watch[j].fd == pfd[2 + i].fd) {
                    h->watch[j].cb(h, h->watch[j].ctx, h->watch[j].fd, rev);
                    break;
                }
        }
        if (h->on_tick && h->app_deadline <= now)
            h->on_tick(h, now);
        dispatch_events(h);
        sk_flush(h->stack, host_now());
        obs_flush(h);
        if (h->impair_out)
            impair_pop_due(h->impair_out, IMPAIR_OUT, host_now(), deliver_out, h);
        if (h->ladder) {
            ladder_flush(h->ladder);
            if (h->ladder->svg_errno)
                observer_failed(h, &h->svg_failed, "ladder SVG", h->opts.ladder_svg,
                                h->ladder->svg_errno);
        }
        if (h->pcapng.f)
            check_pcap(h, true);
        limits_check(&h->limits, sk_counters(h->stack), stderr, h->prog);
    }
    if (!h->tap_gone)
        sk_flush(h->stack, host_now());
    obs_flush(h);
    limits_check(&h->limits, sk_counters(h->stack), stderr, h->prog);
    /* What the link still holds of ours leaves now, delay or not: the last
     * ACK of a close is not lost to the exit. */
    if (h->impair_out && !h->tap_gone)
        impair_drain(h->impair_out, IMPAIR_OUT, host_now(), deliver_out, h);
    if (!h->tap_gone)
        txq_flush(h->txq);
    return h->exit_code;
}

int host_down(struct host *h)
{
    if (h->stack)
        sk_stack_free(h->stack);
    h->stack = NULL;
    synack_gdb_stack = NULL;
    impair_free(h->impair);
    h->impair = h->impair_in = h->impair_out = NULL;
    int r = observers_down(h);
    if (h->sigfd >= 0)
        close(h->sigfd);
    h->sigfd = -1;
    if (h->txq) {
        if (h->tap_gone)
            h->txq->n = 0; /* nowhere to write them */
        txq_free(h->txq);
        free(h->txq);
        h->txq = NULL;
    }
    tap_close(&h->tap);
    return r;
}
