/* tapd - the stack serving the classic small services at once:
 * echo (RFC 862, port 7), discard (RFC 863, port 9), daytime (RFC 867,
 * port 13) and chargen (RFC 864, port 19).  For tests, demos, benchmarks. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"

enum service { ECHO, DISCARD, DAYTIME, CHARGEN, NSERVICES };

static const struct {
    const char *name;
    uint16_t port;
} services[NSERVICES] = {
    [ECHO] = {"echo", 7},
    [DISCARD] = {"discard", 9},
    [DAYTIME] = {"daytime", 13},
    [CHARGEN] = {"chargen", 19},
};

struct conn_state {
    enum service svc;
    uint32_t chargen_pos; /* where in the rotating pattern the next byte is */
    sk_conn *conn;
    struct conn_state *prev, *next; /* every open connection, for shutdown */
};

struct tapd {
    struct host *h;
    bool enabled[NSERVICES];
    sk_conn *listeners[NSERVICES];
    bool verbose;
    uint64_t served;
    struct conn_state *conns;
};

static uint8_t buf[65536];

/* The service is done with c: close it (FIN after what is queued). */
static void finish(struct tapd *d, sk_conn *c)
{
    struct conn_state *st = sk_conn_user(c);
    if (st->prev)
        st->prev->next = st->next;
    else
        d->conns = st->next;
    if (st->next)
        st->next->prev = st->prev;
    free(st);
    sk_conn_set_user(c, NULL);
    sk_close(c);
}

/* RFC 862: send back what arrives; close once the peer has closed and
 * everything it sent is on its way back. */
static void serve_echo(struct tapd *d, sk_conn *c)
{
    for (int i = 0; i < 1024; i++) { /* bounded per event */
        size_t room = sk_send_space(c);
        if (room == 0)
            return; /* wait for SK_EV_WRITABLE: nothing is read that cannot be sent */
        long n = sk_recv(c, buf, room < sizeof(buf) ? room : sizeof(buf));
        if (n > 0) {
            sk_send(c, buf, (size_t)n);
            continue;
        }
        if (n == 0 || n != -SK_EAGAIN)
            finish(d, c);
        return;
    }
}

/* RFC 863: throw away what arrives. */
static void serve_discard(struct tapd *d, sk_conn *c)
{
    for (int i = 0; i < 1024; i++) {
        long n = sk_recv(c, buf, sizeof(buf));
        if (n > 0)
            continue;
        if (n == 0 || n != -SK_EAGAIN)
            finish(d, c);
        return;
    }
}

/* RFC 864: lines of 72 characters, each starting one later in the 95
 * printable ASCII characters, CR LF after each. */
#define CHARGEN_PERIOD (74 * 95) /* 95 lines of 72 characters and CR LF, then it repeats */

/* The whole period of the pattern, made once; sending is then a copy. */
static uint8_t chargen_pattern[CHARGEN_PERIOD];

static void chargen_init(void)
{
    for (uint32_t pos = 0; pos < CHARGEN_PERIOD; pos++) {
        uint32_t line = pos / 74, col = pos % 74;
        chargen_pattern[pos] = col == 72   ? '\r'
                               : col == 73 ? '\n'
                                           : (uint8_t)(' ' + (line + col) % 95);
    }
}

static void chargen_fill(struct conn_state *st, uint8_t *out, size_t n)
{
    while (n) {
        size_t k = CHARGEN_PERIOD - st->chargen_pos;
        if (k > n)
            k = n;
        memcpy(out, chargen_pattern + st->chargen_pos, k);
        out += k;
        n -= k;
        st->chargen_pos = (uint32_t)((st->chargen_pos + k) % CHARGEN_PERIOD);
    }
}

static void serve_chargen(struct tapd *d, sk_conn *c, struct conn_state *st)
{
    /* Input is discarded; the peer closing ends the stream. */
    long n;
    while ((n = sk_recv(c, buf, sizeof(buf))) > 0)
        ;
    if (n == 0 || (n < 0 && n != -SK_EAGAIN)) {
        finish(d, c);
        return;
    }
    size_t room = sk_send_space(c);
    while (room) {
        size_t k = room < sizeof(buf) ? room : sizeof(buf);
        chargen_fill(st, buf, k);
        long w = sk_send(c, buf, k);
        if (w <= 0)
            break;
        room -= (size_t)w;
    }
}

/* RFC 867: one line with the date and time, then close. */
static void serve_daytime(struct tapd *d, sk_conn *c)
{
    char line[96];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(line, sizeof(line), "%A, %B %d, %Y %H:%M:%S-UTC\r\n", &tm);
    sk_send(c, line, n);
    finish(d, c); /* the FIN follows the line */
}

static void accept_all(struct tapd *d, enum service svc)
{
    sk_conn *c;
    while ((c = sk_accept(d->listeners[svc])) != NULL) {
        struct conn_state *st = calloc(1, sizeof(*st));
        if (!st) {
            sk_abort(c);
            continue;
        }
        st->svc = svc;
        st->conn = c;
        st->next = d->conns;
        if (d->conns)
            d->conns->prev = st;
        d->conns = st;
        sk_conn_set_user(c, st);
        d->served++;
        if (d->verbose) {
            uint32_t ra;
            uint16_t rp;
            char a[16];
            sk_conn_endpoints(c, NULL, NULL, &ra, &rp);
            fprintf(stderr, "tapd: %s connection from %s %u\n", services[svc].name, ip_str(ra, a),
                    rp);
        }
        if (svc == DAYTIME)
            serve_daytime(d, c);
    }
}

static void on_event(struct host *h, sk_conn *c, unsigned ev)
{
    struct tapd *d = h->app;
    for (int s = 0; s < NSERVICES; s++)
        if (c == d->listeners[s]) {
            accept_all(d, (enum service)s);
            return;
        }
    /* Only connections we hold report events: after finish() (sk_close)
     * the stack reports nothing more, so st is always there. */
    struct conn_state *st = sk_conn_user(c);
    if (ev & SK_EV_ERROR) {
        if (d->verbose)
            fprintf(stderr, "tapd: %s connection: %s\n", services[st->svc].name,
                    sk_strerror(sk_conn_error(c)));
        finish(d, c);
        return;
    }
    switch (st->svc) {
    case ECHO:
        serve_echo(d, c);
        break;
    case DISCARD:
        serve_discard(d, c);
        break;
    case CHARGEN:
        serve_chargen(d, c, st);
        break;
    case DAYTIME:
        break;
    default:
        break;
    }
}

/* SIGINT/SIGTERM: stop listening, close every connection properly. */
static void on_shutdown(struct host *h)
{
    struct tapd *d = h->app;
    for (int s = 0; s < NSERVICES; s++)
        if (d->listeners[s]) {
            sk_close(d->listeners[s]);
            d->listeners[s] = NULL;
        }
    while (d->conns)
        finish(d, d->conns->conn);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tapd [options]\n"
            "\n"
            "Serves echo (7), discard (9), daytime (13) and chargen (19) on the stack.\n"
            "  --no-echo, --no-discard, --no-daytime, --no-chargen   switch a service off\n"
            "  -h, --help         this help\n"
            "  --version          print the version and exit\n"
            "\n%s",
            host_opts_help);
}

int main(int argc, char **argv)
{
    struct host_opts ho;
    host_opts_init(&ho);
    struct tapd d = {0};
    for (int s = 0; s < NSERVICES; s++)
        d.enabled[s] = true;
    enum { OPT_NO = 1 };
    /* The shared options, a --no-SERVICE each, --help, --version, and the {NULL}. */
    struct option longopts[HOST_N_LONG_OPTS + NSERVICES + 3];
    int nl = 0;
    for (const struct option *o = host_long_opts; o->name; o++)
        longopts[nl++] = *o;
    static const char *const off[NSERVICES] = {"no-echo", "no-discard", "no-daytime", "no-chargen"};
    for (int s = 0; s < NSERVICES; s++)
        longopts[nl++] = (struct option){off[s], no_argument, NULL, OPT_NO + s};
    longopts[nl++] = (struct option){"help", no_argument, NULL, 'h'};
    longopts[nl++] = (struct option){"version", no_argument, NULL, 'V'}; /* long only */
    longopts[nl] = (struct option){NULL, 0, NULL, 0};
    /* getopt's messages start with argv[0]: the name, as ours do, not a path. */
    argv[0] = (char *)"tapd";
    int ch;
    while ((ch = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            return 0;
        } else if (ch == 'V') {
            printf("tapd (synack) %s\n", SYNACK_VERSION);
            return 0;
        } else if (ch == 'v') {
            d.verbose = true;
            ho.verbose++;
        } else if (ch >= OPT_NO && ch < OPT_NO + NSERVICES) {
            d.enabled[ch - OPT_NO] = false;
        } else {
            int r = host_opts_parse(&ho, ch, optarg, "tapd");
            if (r == 1)
                continue;
            if (r == 0)
                usage(stderr);
            return 1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "tapd: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 1;
    }
    /* Each listener takes a place in the stack's table: with none left for
     * a connection, tapd could serve nothing. */
    int nlisten = 0;
    for (int s = 0; s < NSERVICES; s++)
        nlisten += d.enabled[s];
    if (ho.max_conns && ho.max_conns <= (uint32_t)nlisten) {
        fprintf(stderr,
                "tapd: --max-conns %u leaves no room for a connection beside %d listeners: give "
                "at least %d\n",
                ho.max_conns, nlisten, nlisten + 1);
        return 1;
    }
    chargen_init();
    struct host h;
    if (host_up(&h, &ho, "tapd") < 0)
        return 1;
    d.h = &h;
    h.app = &d;
    h.on_event = on_event;
    h.on_shutdown = on_shutdown;
    int n = 0;
    for (int s = 0; s < NSERVICES; s++) {
        if (!d.enabled[s])
            continue;
        int e;
        d.listeners[s] = sk_listen(h.stack, services[s].port, ho.backlog ? ho.backlog : 1024, &e);
        if (!d.listeners[s]) {
            fprintf(stderr, "tapd: cannot listen on port %u: %s\n", services[s].port,
                    sk_strerror(e));
            host_down(&h);
            return 1;
        }
        /* Every connection of the service starts with the listener's options. */
        if (host_conn_opts(&h, d.listeners[s]) < 0) {
            host_down(&h);
            return 1;
        }
        n++;
        if (d.verbose) {
            char a[16];
            fprintf(stderr, "tapd: %s on %s %u\n", services[s].name, ip_str(ho.addr, a),
                    services[s].port);
        }
    }
    if (n == 0)
        fprintf(stderr, "tapd: every service is off; answering ping only\n");
    int code = host_run(&h);
    if (d.verbose) {
        fprintf(stderr, "tapd: served %llu connections\n", (unsigned long long)d.served);
        host_print_counters(&h), host_print_conns(&h);
    }
    if (host_down(&h) && code == 0)
        code = 1; /* --pcap or --ladder-svg incomplete (told) */
    return code;
}
