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
#include <unistd.h>

#include "host.h"

#define MAX_CONNS 256
#define LINGER_US 3000000 /* at most this long to finish closes at exit */

struct nc {
    struct host *h;
    bool listen, keep, half_close, verbose;
    long wait_s;       /* -w, 0 for none */
    uint16_t port;     /* -l: local; else remote */
    uint16_t src_port; /* -p with HOST PORT */
    uint32_t raddr;
    sk_conn *listener;
    sk_conn *conns[MAX_CONNS];
    int nconns;
    bool stdin_done; /* EOF on stdin */
    bool served;     /* -l without -k: one connection was accepted */
    bool connected;
    bool lingering;
    uint64_t linger_until;
    uint64_t last_activity;
    int status;
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
            "\n%s",
            host_opts_help);
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < 1 || v > 65535) {
        fprintf(stderr, "tapnc: port number invalid: %s\n", s);
        return -1;
    }
    *port = (uint16_t)v;
    return 0;
}

static int add_conn(struct nc *nc, sk_conn *c)
{
    if (nc->nconns == MAX_CONNS)
        return -1;
    nc->conns[nc->nconns++] = c;
    return 0;
}

static void drop_conn(struct nc *nc, sk_conn *c)
{
    for (int i = 0; i < nc->nconns; i++)
        if (nc->conns[i] == c) {
            nc->conns[i] = nc->conns[--nc->nconns];
            break;
        }
    sk_close(c);
}

/* True when nothing more will happen: time to close and exit. */
static bool finished(struct nc *nc)
{
    if (nc->listen)
        return !nc->keep && nc->served && nc->nconns == 0;
    return nc->connected && nc->nconns == 0;
}

static void stdin_interest(struct nc *nc)
{
    /* Read stdin only while every connection can take more: nothing is
     * read that cannot be sent, so nothing is lost. */
    bool want = !nc->stdin_done && nc->nconns > 0;
    for (int i = 0; want && i < nc->nconns; i++)
        if (sk_send_space(nc->conns[i]) == 0)
            want = false;
    host_watch_events(nc->h, STDIN_FILENO, want ? POLLIN : 0);
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pf = {.fd = fd, .events = POLLOUT};
                poll(&pf, 1, 1000);
                continue;
            }
            return; /* stdout gone: the data has nowhere to go */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void on_stdin(struct host *h, void *ctx, int fd, short rev)
{
    struct nc *nc = ctx;
    (void)h;
    (void)rev;
    static uint8_t buf[65536];
    size_t room = sizeof(buf);
    for (int i = 0; i < nc->nconns; i++) {
        size_t s = sk_send_space(nc->conns[i]);
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
        if (nc->half_close)
            for (int i = 0; i < nc->nconns; i++)
                sk_shutdown(nc->conns[i]);
        return;
    }
    nc->last_activity = host_now();
    for (int i = 0; i < nc->nconns; i++)
        sk_send(nc->conns[i], buf, (size_t)n);
    stdin_interest(nc);
}

static void conn_failed(struct nc *nc, sk_conn *c, int err)
{
    char a[16];
    if (!nc->connected && !nc->listen) {
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

static void read_conn(struct nc *nc, sk_conn *c)
{
    static uint8_t buf[65536];
    for (int i = 0; i < 1024; i++) { /* bounded: a fast peer cannot starve the loop */
        long n = sk_recv(c, buf, sizeof(buf));
        if (n > 0) {
            nc->last_activity = host_now();
            write_all(STDOUT_FILENO, buf, (size_t)n);
            continue;
        }
        if (n == 0) {
            /* The peer closed.  Like nc: in listen mode, or once stdin is
             * done too, we are finished with this connection. */
            if (nc->listen || nc->stdin_done || sk_conn_state(c) == SK_CLOSED)
                drop_conn(nc, c);
            return;
        }
        if (n != -SK_EAGAIN)
            conn_failed(nc, c, (int)-n);
        return;
    }
}

static void on_event(struct host *h, sk_conn *c, unsigned ev)
{
    struct nc *nc = h->app;
    char a[16];
    if (c == nc->listener) {
        sk_conn *n;
        while ((n = sk_accept(c)) != NULL) {
            if (add_conn(nc, n) < 0) {
                sk_abort(n);
                continue;
            }
            uint32_t ra;
            uint16_t rp;
            sk_conn_endpoints(n, NULL, NULL, &ra, &rp);
            if (nc->verbose)
                fprintf(stderr, "Connection received on %s %u\n", ip_str(ra, a), rp);
            nc->last_activity = host_now();
            if (!nc->keep) {
                /* nc serves one connection: stop listening (later SYNs get RST). */
                sk_close(nc->listener);
                nc->listener = NULL;
                nc->served = true;
                break;
            }
        }
        stdin_interest(nc);
        return;
    }
    if (ev & SK_EV_CONNECTED) {
        nc->connected = true;
        nc->last_activity = host_now();
        if (nc->verbose)
            fprintf(stderr, "Connection to %s %u port [tcp/*] succeeded!\n", ip_str(nc->raddr, a),
                    nc->port);
    }
    if (ev & (SK_EV_READABLE | SK_EV_PEER_CLOSED))
        read_conn(nc, c);
    else if (ev & SK_EV_ERROR)
        conn_failed(nc, c, sk_conn_error(c));
    else if ((ev & SK_EV_CLOSED) && sk_conn_state(c) == SK_CLOSED)
        drop_conn(nc, c);
    stdin_interest(nc);
}

static void count_busy(void *ctx, const sk_conn *c)
{
    int st = sk_conn_state(c);
    if (st != SK_CLOSED && st != SK_TIME_WAIT && st != SK_LISTEN)
        *(bool *)ctx = true;
}

/* Connections still closing (FIN not yet acknowledged, and so on). */
static bool stack_busy(const sk_stack *s)
{
    bool busy = false;
    sk_foreach_conn(s, count_busy, &busy);
    return busy;
}

static void on_tick(struct host *h, uint64_t now)
{
    struct nc *nc = h->app;
    h->app_deadline = now + 50000;
    if (nc->lingering) {
        if (!stack_busy(h->stack) || now >= nc->linger_until)
            host_stop(h, nc->status);
        return;
    }
    if (nc->wait_s && now - nc->last_activity >= (uint64_t)nc->wait_s * 1000000) {
        if (!nc->connected && !nc->listen) {
            char a[16];
            fprintf(stderr,
                    "tapnc: connect to %s port %u (tcp) timed out: Operation now in progress\n",
                    ip_str(nc->raddr, a), nc->port);
            nc->status = 1;
            nc->connected = true;
        }
        /* Idle: close every connection (nc -w). */
        while (nc->nconns)
            drop_conn(nc, nc->conns[0]);
        if (nc->listen)
            nc->served = true, nc->keep = false;
    }
    if (finished(nc)) {
        /* Close what is left, then let the FINs be acknowledged. */
        if (nc->listener)
            sk_close(nc->listener);
        nc->listener = NULL;
        nc->lingering = true;
        nc->linger_until = now + LINGER_US;
        h->app_deadline = now;
    }
}

int main(int argc, char **argv)
{
    struct host_opts ho;
    host_opts_init(&ho);
    struct nc nc = {0};
    static const struct option extra[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct option longopts[16];
    int nl = 0;
    for (const struct option *o = host_long_opts; o->name; o++)
        longopts[nl++] = *o;
    longopts[nl++] = extra[0];
    longopts[nl] = extra[1];

    const char *pflag = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "hklNp:vw:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
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
            nc.wait_s = strtol(optarg, &end, 10);
            if (*end || end == optarg || nc.wait_s < 1 || nc.wait_s > 86400) {
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
        if (parse_ipv4(argv[0], &nc.raddr) < 0) {
            fprintf(stderr,
                    "tapnc: HOST must be an IPv4 address like 10.0.0.1 (no name lookup): %s\n",
                    argv[0]);
            return 1;
        }
        if (parse_port(argv[1], &nc.port) < 0 || (pflag && parse_port(pflag, &nc.src_port) < 0))
            return 1;
    } else if (argc != 0 || pflag) {
        usage(stderr);
        return 1;
    }

    struct host h;
    if (host_up(&h, &ho, "tapnc") < 0)
        return 1;
    nc.h = &h;
    h.app = &nc;
    h.on_event = on_event;
    h.on_tick = on_tick;
    h.app_deadline = host_now() + 50000;
    nc.last_activity = host_now();
    int fl = fcntl(STDIN_FILENO, F_GETFL);
    bool tcp = nc.listen || nc.raddr;
    char a[16];
    int e = 0;
    if (nc.listen) {
        nc.listener = sk_listen(h.stack, nc.port, 0, &e);
        if (!nc.listener) {
            fprintf(stderr, "tapnc: cannot listen on port %u: %s\n", nc.port, sk_strerror(e));
            host_down(&h);
            return 1;
        }
        if (nc.verbose)
            fprintf(stderr, "Listening on %s %u\n", ip_str(ho.addr, a), nc.port);
    } else if (nc.raddr) {
        sk_conn *c = sk_connect(h.stack, nc.raddr, nc.port, nc.src_port, host_now(), &e);
        if (!c) {
            fprintf(stderr, "tapnc: connect to %s port %u (tcp) failed: %s\n", ip_str(nc.raddr, a),
                    nc.port, sk_strerror(e));
            host_down(&h);
            return 1;
        }
        add_conn(&nc, c);
    }
    if (tcp) {
        /* Non-blocking stdin so one read never stalls the stack. */
        if (fl >= 0)
            fcntl(STDIN_FILENO, F_SETFL, fl | O_NONBLOCK);
        host_watch(&h, STDIN_FILENO, 0, on_stdin, &nc);
    } else if (ho.verbose) {
        fprintf(stderr, "tapnc: answering ping on %s; Ctrl-C to stop\n", ip_str(ho.addr, a));
    }
    int code = host_run(&h);
    if (code == 0)
        code = nc.status;
    if (ho.verbose)
        host_print_counters(&h), host_print_conns(&h);
    host_down(&h);
    if (fl >= 0)
        fcntl(STDIN_FILENO, F_SETFL, fl);
    return code;
}
