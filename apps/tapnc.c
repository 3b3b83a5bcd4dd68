/* tapnc - netcat over the synack stack on a TAP device.
 *
 *   tapnc [stack options]                  bring the stack up; it answers ping
 *   tapnc -l [-k] [-p] PORT                listen on the stack's address
 *   tapnc [-N] [-w SECS] [-p SRC] HOST PORT connect from the stack to HOST
 *
 * stdin goes to the peer, the peer's data to stdout; flags and messages
 * follow OpenBSD nc where they apply. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "addr.h"
#include "host.h"

#define MAX_CONNS 256

struct conn {
    sk_conn *c;
    bool peer_eof; /* sk_recv returned 0: the peer sent FIN and all was read */
};

struct nc {
    struct host *h;
    bool listen, keep, half_close, verbose;
    bool connect;      /* HOST PORT given: connect to it (else ping only, or -l) */
    long wait_s;       /* -w, 0 for none */
    uint16_t port;     /* -l: local; else remote */
    uint16_t src_port; /* -p with HOST PORT */
    uint32_t raddr;
    sk_conn *listener;
    struct conn conns[MAX_CONNS];
    int nconns;
    bool stdin_done; /* EOF on stdin */
    bool served;     /* -l without -k: one connection was accepted */
    bool connected;  /* the connect finished, one way or the other */
    bool done;       /* closing down: nothing new is started */
    uint64_t last_activity;
    int status;
    /* stdout: what the peer sent that stdout has not taken yet.  While it
     * holds anything, no more is read from the stack, so the TCP window
     * closes instead of the process blocking. */
    uint8_t out[65536];
    size_t out_off, out_len;
    bool stdout_gone;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tapnc [options] [-l] [-k] [-N] [-v] [-w SECS] [-p PORT] [HOST] [PORT]\n"
            "\n"
            "  (no HOST/PORT, no -l)  bring the stack up and answer ping until Ctrl-C\n"
            "  -l          listen for a connection on the stack's address, on PORT\n"
            "  -k          with -l: keep listening, serve several connections at once\n"
            "  -p PORT     the local port (with -l: the port to listen on)\n"
            "  -N          shut down the sending side (FIN) at EOF on stdin\n"
            "  -w SECS     give up on connecting, or close an idle connection, after SECS\n"
            "  -v          verbose: say what happens, as nc -v does\n"
            "  -h, --help  this help\n"
            "  --version   print the version and exit\n"
            "\n%s",
            host_opts_help);
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    /* Digits only: strtol would take " 80" and "+80". */
    if (*s < '0' || *s > '9' || errno || *end || v < 1 || v > 65535) {
        fprintf(stderr, "tapnc: port number invalid: %s\n", s);
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

static struct conn *find_conn(struct nc *nc, sk_conn *c)
{
    for (int i = 0; i < nc->nconns; i++)
        if (nc->conns[i].c == c)
            return &nc->conns[i];
    return NULL;
}

static void drop_conn(struct nc *nc, sk_conn *c)
{
    struct conn *k = find_conn(nc, c);
    if (k)
        *k = nc->conns[--nc->nconns];
    sk_close(c);
}

static void stdin_interest(struct nc *nc)
{
    /* Read stdin only while every connection can take more: nothing is
     * read that cannot be sent, so nothing is lost. */
    bool want = !nc->stdin_done && !nc->done && nc->nconns > 0;
    for (int i = 0; want && i < nc->nconns; i++)
        if (sk_send_space(nc->conns[i].c) == 0)
            want = false;
    host_watch_events(nc->h, STDIN_FILENO, want ? POLLIN : 0);
}

/* Stops listening and closes every connection (FIN, or RST where unread
 * data would be lost); nothing new starts after it. */
static void close_all(struct nc *nc)
{
    nc->done = true;
    if (nc->listener)
        sk_close(nc->listener);
    nc->listener = NULL;
    while (nc->nconns)
        drop_conn(nc, nc->conns[0].c);
    host_watch_events(nc->h, STDIN_FILENO, 0);
}

/* When nothing more can happen, close what is left and let the host
 * linger until the FINs are acknowledged. */
static void check_done(struct nc *nc)
{
    bool finished = nc->stdout_gone;
    if (nc->listen)
        finished |= !nc->keep && nc->served && nc->nconns == 0;
    else
        finished |= nc->connected && nc->nconns == 0;
    if (!finished || nc->done)
        return;
    close_all(nc);
    host_linger(nc->h);
}

/* Writes what stdout will take now; true when the buffer is empty. */
static bool flush_stdout(struct nc *nc)
{
    while (nc->out_len) {
        ssize_t w = write(STDOUT_FILENO, nc->out + nc->out_off, nc->out_len);
        if (w > 0) {
            nc->out_off += (size_t)w;
            nc->out_len -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            host_watch_events(nc->h, STDOUT_FILENO, POLLOUT);
            return false;
        }
        /* EPIPE, EBADF (stdout closed), ENOSPC...: what the peer sent
         * cannot be delivered.  Never dropped unsaid: told, and the exit
         * status is non-zero (nc dies of SIGPIPE, or says so and exits 1);
         * the connections are then closed (RST: their data is unread). */
        fprintf(stderr, "tapnc: write to stdout failed: %s\n", strerror(w < 0 ? errno : EIO));
        nc->status = 1;
        nc->out_len = 0;
        nc->stdout_gone = true;
        return false;
    }
    nc->out_off = 0;
    host_watch_events(nc->h, STDOUT_FILENO, 0);
    return true;
}

static void conn_failed(struct nc *nc, sk_conn *c, int err)
{
    char a[16];
    if (!nc->connected && nc->connect) {
        /* As nc: "connect to 10.0.0.1 port 5050 (tcp) failed: Connection refused" */
        fprintf(stderr, "tapnc: connect to %s port %u (tcp) failed: %s\n", ip_str(nc->raddr, a),
                nc->port, sk_strerror(err));
        nc->connected = true; /* nothing more to wait for */
    } else {
        fprintf(stderr, "tapnc: read failed: %s\n", sk_strerror(err));
    }
    nc->status = 1;
    drop_conn(nc, c);
}

/* Moves the peer's data to stdout, as much as stdout takes. */
static void read_conn(struct nc *nc, struct conn *k)
{
    for (int i = 0; i < 1024 && !nc->stdout_gone; i++) { /* bounded per round */
        if (nc->out_len && !flush_stdout(nc))
            return; /* stdout is full: leave the rest in the window */
        long n = sk_recv(k->c, nc->out, sizeof(nc->out));
        if (n > 0) {
            nc->out_len = (size_t)n;
            nc->last_activity = host_now();
            continue;
        }
        if (n == 0) {
            /* The peer closed.  Like nc: in listen mode, or once stdin is
             * done too, this connection is finished. */
            k->peer_eof = true;
            if (nc->listen || nc->stdin_done || sk_conn_state(k->c) == SK_CLOSED)
                drop_conn(nc, k->c);
            return;
        }
        if (n != -SK_EAGAIN)
            conn_failed(nc, k->c, (int)-n);
        return;
    }
    if (nc->out_len)
        flush_stdout(nc);
}

static void on_stdout(struct host *h, void *ctx, int fd, short rev)
{
    struct nc *nc = ctx;
    (void)h;
    (void)fd;
    (void)rev;
    if (!flush_stdout(nc)) {
        check_done(nc);
        return;
    }
    /* Drained: read what waited in the connections (their READABLE events
     * came while stdout was full and will not come again). */
    for (int i = nc->nconns - 1; i >= 0; i--)
        if (i < nc->nconns)
            read_conn(nc, &nc->conns[i]);
    stdin_interest(nc);
    check_done(nc);
}

static void on_stdin(struct host *h, void *ctx, int fd, short rev)
{
    struct nc *nc = ctx;
    (void)h;
    (void)rev;
    static uint8_t buf[65536];
    size_t room = sizeof(buf);
    for (int i = 0; i < nc->nconns; i++) {
        size_t s = sk_send_space(nc->conns[i].c);
        if (s < room)
            room = s;
    }
    if (room == 0 || nc->nconns == 0) {
        stdin_interest(nc);
        return;
    }
    ssize_t n = read(fd, buf, room);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        nc->stdin_done = true;
        host_watch_events(nc->h, fd, 0);
        for (int i = nc->nconns - 1; i >= 0; i--) {
            if (nc->half_close)
                sk_shutdown(nc->conns[i].c);
            /* The peer already closed: both directions are done now. */
            if (nc->conns[i].peer_eof)
                drop_conn(nc, nc->conns[i].c);
        }
        check_done(nc);
        return;
    }
    nc->last_activity = host_now();
    for (int i = 0; i < nc->nconns; i++)
        sk_send(nc->conns[i].c, buf, (size_t)n);
    stdin_interest(nc);
}

static void arm_wait(struct nc *nc);

static void accept_all(struct nc *nc)
{
    char a[16];
    sk_conn *n;
    while (nc->listener && (n = sk_accept(nc->listener)) != NULL) {
        if (nc->nconns == MAX_CONNS) {
            sk_abort(n);
            continue;
        }
        nc->conns[nc->nconns++] = (struct conn){.c = n};
        uint32_t ra;
        uint16_t rp;
        sk_conn_endpoints(n, NULL, NULL, &ra, &rp);
        if (nc->verbose)
            fprintf(stderr, "Connection received on %s %u\n", ip_str(ra, a), rp);
        nc->last_activity = host_now();
        arm_wait(nc);
        if (!nc->keep) {
            /* nc serves one connection: stop listening (later SYNs get RST). */
            sk_close(nc->listener);
            nc->listener = NULL;
            nc->served = true;
        }
    }
}

static void on_event(struct host *h, sk_conn *c, unsigned ev)
{
    struct nc *nc = h->app;
    char a[16];
    if (c == nc->listener) {
        accept_all(nc);
    } else {
        struct conn *k = find_conn(nc, c);
        if (!k)
            return;
        if (ev & SK_EV_CONNECTED) {
            nc->connected = true;
            nc->last_activity = host_now();
            if (nc->verbose)
                fprintf(stderr, "Connection to %s %u port [tcp/*] succeeded!\n",
                        ip_str(nc->raddr, a), nc->port);
        }
        if (ev & (SK_EV_READABLE | SK_EV_PEER_CLOSED))
            read_conn(nc, k);
        else if (ev & SK_EV_ERROR)
            conn_failed(nc, c, sk_conn_error(c));
        else if ((ev & SK_EV_CLOSED) && sk_conn_state(c) == SK_CLOSED)
            drop_conn(nc, c);
    }
    stdin_interest(nc);
    check_done(nc);
}

/* -w: the deadline of the connect, or of idleness. */
/* -w bounds the connect and idle connections; a listener with nothing
 * accepted waits for ever, as OpenBSD nc's -l ignores -w. */
static bool waiting_bounded(const struct nc *nc)
{
    return nc->wait_s && !(nc->listen && nc->nconns == 0);
}

static void arm_wait(struct nc *nc)
{
    nc->h->app_deadline =
        waiting_bounded(nc) ? nc->last_activity + (uint64_t)nc->wait_s * 1000000 : UINT64_MAX;
}

static void on_tick(struct host *h, uint64_t now)
{
    struct nc *nc = h->app;
    if (nc->done || !waiting_bounded(nc) ||
        now < nc->last_activity + (uint64_t)nc->wait_s * 1000000) {
        arm_wait(nc);
        return;
    }
    if (!nc->connected && nc->connect) {
        char a[16];
        fprintf(stderr, "tapnc: connect to %s port %u (tcp) timed out: Operation now in progress\n",
                ip_str(nc->raddr, a), nc->port);
        nc->status = 1;
        nc->connected = true;
    }
    /* Idle for -w seconds: close every connection and finish (nc -w). */
    nc->keep = false;
    nc->served = true;
    while (nc->nconns)
        drop_conn(nc, nc->conns[0].c);
    h->app_deadline = UINT64_MAX;
    check_done(nc);
}

/* Why HOST cannot be connected to (TCP is between two hosts), or NULL.
 * o gives the stack's subnet, for its broadcast address. */
static const char *not_unicast(uint32_t a, const struct host_opts *o)
{
    uint32_t mask = o->prefix ? ~0u << (32 - o->prefix) : 0;
    if (a == 0)
        return "the \"any\" address";
    if (addr_not_host(a)) /* broadcast, 0/8, loopback, multicast, 240/4 */
        return addr_not_host(a);
    if (a == o->addr)
        return "the stack's own address";
    /* A /31 or /32 has no broadcast or network address (RFC 3021). */
    if (o->prefix <= 30 && (a & mask) == (o->addr & mask) && (a & ~mask) == ~mask)
        return "the subnet's broadcast address";
    if (o->prefix <= 30 && (a & mask) == (o->addr & mask) && (a & ~mask) == 0)
        return "the subnet's network address";
    return NULL;
}

/* Whether writing to path would write where the peer's data goes: "-"
 * (pcap's stdout), /dev/stdout, or the very file stdout is; /dev/null
 * takes both harmlessly. */
static bool is_stdout(const char *path)
{
    struct stat a, b;
    if (strcmp(path, "-") == 0)
        return true;
    if (stat(path, &a) < 0 || fstat(STDOUT_FILENO, &b) < 0)
        return false;
    if (S_ISCHR(a.st_mode) && a.st_rdev == makedev(1, 3))
        return false;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* SIGINT/SIGTERM: close like at the end; the host then lingers. */
static void on_shutdown(struct host *h)
{
    close_all(h->app);
}

int main(int argc, char **argv)
{
    struct host_opts ho;
    host_opts_init(&ho);
    struct nc nc = {0};
    /* The shared options, --help, --version, and the {NULL} at the end. */
    struct option longopts[HOST_N_LONG_OPTS + 3];
    int nl = 0;
    for (const struct option *o = host_long_opts; o->name; o++)
        longopts[nl++] = *o;
    longopts[nl++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[nl++] = (struct option){"version", no_argument, NULL, 'V'}; /* long only */
    longopts[nl] = (struct option){NULL, 0, NULL, 0};

    const char *pflag = NULL;
    /* getopt's messages start with argv[0]: the name, as ours do, not a path. */
    argv[0] = (char *)"tapnc";
    int ch;
    while ((ch = getopt_long(argc, argv, "hklNp:vw:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("tapnc (synack) %s\n", SYNACK_VERSION);
            return 0;
        case 'k':
            nc.keep = true;
            break;
        case 'l':
            nc.listen = true;
            break;
        case 'N':
            nc.half_close = true;
            break;
        case 'p':
            pflag = optarg;
            break;
        case 'v':
            nc.verbose = true;
            ho.verbose++;
            break;
        case 'w': {
            char *end;
            errno = 0;
            nc.wait_s = strtol(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || errno || *end || nc.wait_s < 1 ||
                nc.wait_s > 86400) {
                fprintf(stderr, "tapnc: timeout invalid: %s (seconds, 1 to 86400)\n", optarg);
                return 1;
            }
            break;
        }
        default: {
            int r = host_opts_parse(&ho, ch, optarg, "tapnc");
            if (r == 1)
                break;
            if (r == 0)
                usage(stderr);
            return 1;
        }
        }
    }
    argc -= optind;
    argv += optind;
    if (nc.keep && !nc.listen) {
        fprintf(stderr, "tapnc: must use -l with -k\n");
        return 1;
    }
    if (nc.listen) {
        if (argc > 1 || (argc == 1 && pflag)) {
            fprintf(stderr, "tapnc: with -l give one PORT (as -p PORT or PORT)\n");
            return 1;
        }
        const char *p = argc == 1 ? argv[0] : pflag;
        if (!p) {
            fprintf(stderr, "tapnc: -l needs a PORT\n");
            return 1;
        }
        if (parse_port(p, &nc.port) < 0)
            return 1;
    } else if (argc == 2) {
        /* The mode comes from the arguments, never from the address:
         * HOST PORT always means connect, whatever HOST is. */
        nc.connect = true;
        if (parse_ipv4(argv[0], &nc.raddr) < 0) {
            fprintf(stderr,
                    "tapnc: HOST must be an IPv4 address like 10.0.0.1 (no name lookup): %s\n",
                    argv[0]);
            return 1;
        }
        const char *why = not_unicast(nc.raddr, &ho);
        if (why) {
            char a[16], b[16];
            fprintf(stderr, "tapnc: HOST must be a unicast address like %s, not %s, which is %s\n",
                    ip_str(ho.host_addr, b), ip_str(nc.raddr, a), why);
            return 1;
        }
        if (parse_port(argv[1], &nc.port) < 0 || (pflag && parse_port(pflag, &nc.src_port) < 0))
            return 1;
    } else if (argc != 0 || pflag) {
        usage(stderr);
        return 1;
    }
    const char *const files[][2] = {{"--pcap", ho.pcap}, {"--ladder-svg", ho.ladder_svg}};
    for (int i = 0; i < 2 && (nc.listen || nc.connect); i++)
        if (files[i][1] && is_stdout(files[i][1])) {
            fprintf(stderr,
                    "tapnc: %s %s writes to stdout, which carries the connection's data: give "
                    "%s another file\n",
                    files[i][0], files[i][1], files[i][0]);
            return 1;
        }
    if (nc.wait_s && !nc.listen && !nc.connect) {
        /* Without a connection -w has nothing to time (as -k without -l). */
        fprintf(stderr, "tapnc: must use -l or HOST PORT with -w\n");
        return 1;
    }

    struct host h;
    if (host_up(&h, &ho, "tapnc") < 0)
        return 1;
    nc.h = &h;
    h.app = &nc;
    h.on_event = on_event;
    h.on_tick = on_tick;
    h.on_shutdown = on_shutdown;
    nc.last_activity = host_now();
    arm_wait(&nc);
    int fl_in = fcntl(STDIN_FILENO, F_GETFL);
    int fl_out = fcntl(STDOUT_FILENO, F_GETFL);
    bool tcp = nc.listen || nc.connect;
    char a[16];
    int e = 0;
    if (nc.listen) {
        nc.listener = sk_listen(h.stack, nc.port, ho.backlog, &e);
        if (!nc.listener) {
            fprintf(stderr, "tapnc: cannot listen on port %u: %s\n", nc.port, sk_strerror(e));
            host_down(&h);
            return 1;
        }
        /* Its connections start with the listener's options. */
        if (host_conn_opts(&h, nc.listener) < 0) {
            host_down(&h);
            return 1;
        }
        if (nc.verbose)
            fprintf(stderr, "Listening on %s %u\n", ip_str(ho.addr, a), nc.port);
    } else if (nc.connect) {
        sk_conn *c = sk_connect(h.stack, nc.raddr, nc.port, nc.src_port, host_now(), &e);
        if (!c) {
            fprintf(stderr, "tapnc: connect to %s port %u (tcp) failed: %s\n", ip_str(nc.raddr, a),
                    nc.port, sk_strerror(e));
            host_down(&h);
            return 1;
        }
        nc.conns[nc.nconns++] = (struct conn){.c = c};
        /* Before host_run's first flush sends the SYN, which offers the
         * window scale the buffer sizes decide. */
        if (host_conn_opts(&h, c) < 0) {
            host_down(&h);
            return 1;
        }
    }
    if (tcp) {
        /* Non-blocking stdin and stdout, so neither can stall the stack;
         * both are restored at exit (they may be the shell's terminal). */
        if (fl_in >= 0)
            fcntl(STDIN_FILENO, F_SETFL, fl_in | O_NONBLOCK);
        if (fl_out >= 0)
            fcntl(STDOUT_FILENO, F_SETFL, fl_out | O_NONBLOCK);
        host_watch(&h, STDIN_FILENO, 0, on_stdin, &nc);
        host_watch(&h, STDOUT_FILENO, 0, on_stdout, &nc);
    } else if (ho.verbose) {
        fprintf(stderr, "tapnc: answering ping on %s; Ctrl-C to stop\n", ip_str(ho.addr, a));
    }
    int code = host_run(&h);
    if (code == 0)
        code = nc.status;
    if (ho.verbose)
        host_print_counters(&h), host_print_conns(&h);
    if (host_down(&h) && code == 0)
        code = 1; /* --pcap or --ladder-svg incomplete (told) */
    if (fl_in >= 0)
        fcntl(STDIN_FILENO, F_SETFL, fl_in);
    if (fl_out >= 0)
        fcntl(STDOUT_FILENO, F_SETFL, fl_out);
    return code;
}
