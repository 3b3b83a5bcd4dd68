/* host.h - what every app shares: the stack options, bringing up the TAP
 * and the stack, and the single-threaded event loop. */
#ifndef TAP_HOST_H
#define TAP_HOST_H

#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "impair.h"
#include "ladder.h"
#include "limit_notes.h"
#include "pcapng.h"
#include "synack.h"
#include "tap.h"
#include "trace.h"

struct host_opts {
    const char *tap;
    uint32_t addr, host_addr; /* host byte order */
    uint8_t prefix, host_prefix;
    uint16_t mtu;
    int verbose;
    /* Seeing it work (docs/handshake.md): */
    bool trace;       /* --trace: tcpdump-format line per frame, on stderr */
    bool states;      /* --states: every TCP state change, on stderr */
    bool ladder;      /* --ladder: a ladder diagram per connection, on stderr */
    bool explain;     /* --explain: why each segment was sent, what became of each one received */
    const char *pcap; /* --pcap FILE */
    const char *ladder_svg; /* --ladder-svg FILE */
    /* A bad link (docs/impair.md): */
    bool impair; /* --impair given */
    struct impair_cfg impair_cfg;
    /* TCP options of every listener and connection (host_conn_opts): */
    uint32_t sndbuf, rcvbuf; /* --sndbuf, --rcvbuf: bytes, 0 for the stack's default */
    bool nodelay;            /* --nodelay: Nagle off */
    uint32_t keepalive[3];   /* --keepalive IDLE,INTERVAL,COUNT (s, s, probes); [0] 0: off */
    int cc;                  /* --cc: enum sk_cc, SK_CC_DEFAULT for the stack's */
    /* Limits (0: the stack's or the app's default): */
    uint32_t arp_pending;   /* --arp-pending: frames held per address while ARP resolves */
    uint32_t max_conns;     /* --max-conns: TCBs in the stack, listeners included */
    uint32_t backlog;       /* --backlog: each listener's accept queue */
    uint32_t max_ooo;       /* --max-ooo */
    uint64_t mem_max;       /* --mem-max, bytes */
    uint32_t max_half_open; /* --max-half-open */
    int syncookies;         /* --syncookies: enum sk_syncookies */
    bool no_offload;        /* --no-offload: a plain TAP, one frame per read and write */
    bool no_batch;          /* --no-batch: each frame written with a system call of its own */
};

/* The long options every app takes; their ids start at HOST_OPT_BASE.
 * HOST_N_LONG_OPTS of them, then the {NULL} that ends the table: an app
 * makes room for them and its own (host.c checks the count). */
#define HOST_OPT_BASE    1000
#define HOST_N_LONG_OPTS 25
extern const struct option host_long_opts[];
extern const char host_opts_help[];
void host_opts_init(struct host_opts *o);
/* Handles a shared option id; 1 if it was one, 0 if not, -1 on a bad value
 * (the message is printed). */
int host_opts_parse(struct host_opts *o, int id, const char *arg, const char *prog);
/* Parses "A.B.C.D/P" (P 1..30) or "A.B.C.D" (prefix unchanged). */
int parse_cidr(const char *s, uint32_t *addr, uint8_t *prefix);
int parse_ipv4(const char *s, uint32_t *addr);
const char *ip_str(uint32_t addr, char buf[16]);

#define HOST_MAX_WATCH 64
/* Time given to FINs to be acknowledged at exit: an RTO of 1 s backed off
 * twice (1 + 2 s) and then some. */
#define HOST_LINGER_US 5000000

struct host;
typedef void (*host_fd_cb)(struct host *h, void *ctx, int fd, short revents);

struct host {
    struct host_opts opts;
    struct tap_dev tap;
    sk_stack *stack;
    const char *prog;
    int sigfd;
    bool stop;
    int exit_code;
    bool tap_gone;
    uint64_t tx_errors;
    /* Frames out, written in batches (tap/txq.h). */
    struct txq *txq;
    uint64_t rx_vnet_bad; /* frames from the TAP with a GSO type we did not ask for */
    /* The app: its events, and an optional deadline of its own. */
    void (*on_event)(struct host *h, sk_conn *c, unsigned events);
    void (*on_tick)(struct host *h, uint64_t now);
    void (*on_signal)(struct host *h, int sig);
    /* SIGINT/SIGTERM: the app closes its connections; the loop then lingers
     * until they are done (at most HOST_LINGER_US; a second signal ends it). */
    void (*on_shutdown)(struct host *h);
    bool lingering;
    uint64_t linger_until;
    uint64_t app_deadline;
    void *app;
    struct {
        int fd;
        short events;
        host_fd_cb cb;
        void *ctx;
    } watch[HOST_MAX_WATCH];
    int nwatch;
    /* Observers. */
    struct trace_state *trace;
    struct pcapng pcapng; /* --pcap; its f is NULL when off or failed */
    struct ladder *ladder;
    /* Reasons asked for (--explain, --pcap): what the observers put out,
     * held until the reason of a received frame is known (host.c). */
    struct host_obs *obs;
    /* --impair: the owner, and per direction the same pointer or NULL when
     * that direction is not impaired (the hot path's only test). */
    struct impair *impair, *impair_in, *impair_out;
    /* The first write error of --pcap, of --ladder-svg, was told: the run
     * goes on without it, and ends non-zero (host_down). */
    bool pcap_failed, svg_failed;
    struct limits limits;
};

uint64_t host_now(void);
/* Opens the TAP, configures its host side, creates the stack.  Prints a
 * message and returns -1 on failure. */
int host_up(struct host *h, const struct host_opts *o, const char *prog);
/* Gives a connection or a listener the TCP options of --sndbuf, --rcvbuf,
 * --nodelay, --keepalive and --cc.  Call it right after sk_listen or
 * sk_connect, before the loop's first sk_flush sends the SYN: the buffer
 * sizes decide the window scale the SYN offers.  A listener passes them on
 * to the connections it accepts.  Prints a message and returns -1 if the
 * stack refuses them. */
int host_conn_opts(struct host *h, sk_conn *c);
/* Runs until host_stop or a signal; returns the exit code. */
int host_run(struct host *h);
void host_stop(struct host *h, int code);
/* Ends the loop once no connection is still closing, or HOST_LINGER_US on. */
void host_linger(struct host *h);
/* Frees all; 1 if --pcap or --ladder-svg could not be written whole (the
 * message is printed), else 0: an app's exit status is then non-zero. */
int host_down(struct host *h);
int host_watch(struct host *h, int fd, short events, host_fd_cb cb, void *ctx);
void host_watch_events(struct host *h, int fd, short events);
void host_unwatch(struct host *h, int fd);
/* The stack's counters, in the manner of `netstat -s`, to stderr. */
void host_print_counters(struct host *h);
/* Live connections, in the manner of `ss -tni`, to stderr. */
void host_print_conns(struct host *h);

#endif
