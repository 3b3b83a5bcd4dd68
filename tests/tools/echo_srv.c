/* echo_srv - the kernel's side of the benchmark suite (tests/bench/suite.sh):
 * echo (RFC 862), discard (RFC 863) and chargen (RFC 864) over the
 * kernel's TCP, served as tapd serves them on synack, so that a ratio
 * compares two stacks and not two servers.
 *
 *   echo_srv [-e PORT] [-d PORT] [-c PORT] [-T SECS]
 *
 * One thread, epoll, non-blocking sockets, TCP_NODELAY on every accepted
 * connection (the suite runs tapd with --nodelay too).  Echo stops reading
 * while what it read is not yet written back (as tapd's echo waits for
 * send space), and closes once the peer has closed and everything is back;
 * discard reads and drops, and closes at the peer's FIN; chargen writes
 * RFC 864's lines as fast as the socket takes them (64 KiB or so a call,
 * as tapd fills its send space) and closes when the peer closes.  Runs until
 * SIGTERM or SIGINT, or -T seconds (default 3600), whichever comes first. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SVC_ECHO = 1, SVC_DISCARD = 2, SVC_CHARGEN = 3 };

/* RFC 864: lines of 72 characters, each starting one later in the 95
 * printable characters, CR LF after each; the pattern repeats after 95
 * lines.  Nine periods and one more, so a write of nine periods can start
 * anywhere in the first. */
#define CHARGEN_PERIOD (74 * 95)
static unsigned char chargen[CHARGEN_PERIOD * 10];
#define BUF_SIZE (64 * 1024)

struct conn {
    int fd;
    int svc;
    uint32_t events; /* what epoll watches for it */
    size_t off, len; /* echo: bytes read and not yet written back; chargen: off is
                        where in the pattern the next byte is */
    bool eof;        /* echo: the peer has closed its side */
    unsigned char buf[];
};

/* epoll's data holds either a listener (tagged by its service in the low
 * bits of a small integer) or a struct conn *. */
struct listener {
    int fd;
    int svc;
};

static unsigned char drop[BUF_SIZE];

static long num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "echo_srv: bad %s '%s' (%ld to %ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static int listen_on(long port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "echo_srv: cannot listen on port %ld: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static void conn_close(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Watch c for `events` (EPOLLIN or EPOLLOUT), if it does not already. */
static void want(int ep, struct conn *c, uint32_t events)
{
    if (c->events == events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

/* Echo: write back what is pending, then read more while nothing is
 * pending.  At most 64 reads per event, so one busy connection cannot
 * starve the others; the bound is checked only with nothing pending and
 * EPOLLIN watched, so the level-triggered EPOLLIN brings us back for what
 * is left.  (Checked after a read instead, it once left a byte read and
 * never written: with client and server on one CPU, the client's next
 * request can arrive between our write and our read, every time.) */
static void serve_echo(int ep, struct conn *c)
{
    for (int i = 0;; i++) {
        while (c->off < c->len) {
            ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
            if (n < 0 && errno == EAGAIN) {
                want(ep, c, EPOLLOUT);
                return;
            }
            if (n <= 0) {
                conn_close(ep, c);
                return;
            }
            c->off += (size_t)n;
        }
        c->off = c->len = 0;
        if (c->eof) {
            conn_close(ep, c);
            return;
        }
        want(ep, c, EPOLLIN);
        if (i == 64)
            return;
        ssize_t n = read(c->fd, c->buf, BUF_SIZE);
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            conn_close(ep, c);
            return;
        }
        if (n == 0)
            c->eof = true;
        c->len = (size_t)n;
    }
}

static void serve_chargen(int ep, struct conn *c)
{
    for (int i = 0; i < 64; i++) {
        ssize_t n = write(c->fd, chargen + c->off, CHARGEN_PERIOD * 9);
        if (n < 0 && errno == EAGAIN) {
            /* The peer closing shows as EPOLLIN (EOF) or an error here. */
            char b[4096];
            ssize_t r = read(c->fd, b, sizeof(b));
            if (r == 0 || (r < 0 && errno != EAGAIN))
                conn_close(ep, c);
            else
                want(ep, c, EPOLLIN | EPOLLOUT);
            return;
        }
        if (n <= 0) {
            conn_close(ep, c);
            return;
        }
        c->off = (c->off + (size_t)n) % CHARGEN_PERIOD;
    }
    want(ep, c, EPOLLIN | EPOLLOUT);
}

static void serve_discard(int ep, struct conn *c)
{
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(c->fd, drop, sizeof(drop));
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_close(ep, c);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    long echo_port = 0, discard_port = 0, chargen_port = 0, limit_s = 3600;
    int ch;
    while ((ch = getopt(argc, argv, "e:d:c:T:")) != -1) {
        if (ch == 'e')
            echo_port = num(optarg, 1, 65535, "-e");
        else if (ch == 'd')
            discard_port = num(optarg, 1, 65535, "-d");
        else if (ch == 'c')
            chargen_port = num(optarg, 1, 65535, "-c");
        else if (ch == 'T')
            limit_s = num(optarg, 1, 86400, "-T");
        else {
            fprintf(stderr, "usage: echo_srv [-e PORT] [-d PORT] [-c PORT] [-T SECS]\n");
            return 2;
        }
    }
    if (optind != argc || (!echo_port && !discard_port && !chargen_port)) {
        fprintf(stderr, "usage: echo_srv [-e PORT] [-d PORT] [-c PORT] [-T SECS]\n");
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (sfd < 0 || ep < 0) {
        perror("echo_srv");
        return 1;
    }
    for (size_t pos = 0; pos < sizeof(chargen); pos++) {
        size_t k = pos % CHARGEN_PERIOD, line = k / 74, col = k % 74;
        chargen[pos] = col == 72   ? '\r'
                       : col == 73 ? '\n'
                                   : (unsigned char)(' ' + (line + col) % 95);
    }
    static struct listener ls[3];
    int nl = 0;
    if (echo_port)
        ls[nl++] = (struct listener){listen_on(echo_port), SVC_ECHO};
    if (discard_port)
        ls[nl++] = (struct listener){listen_on(discard_port), SVC_DISCARD};
    if (chargen_port)
        ls[nl++] = (struct listener){listen_on(chargen_port), SVC_CHARGEN};
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    for (int i = 0; i < nl; i++) {
        ev.data.ptr = &ls[i];
        epoll_ctl(ep, EPOLL_CTL_ADD, ls[i].fd, &ev);
    }
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 1000);
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= limit_s)
            return 0;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (!p)
                return 0; /* SIGTERM or SIGINT */
            if (p == &ls[0] || p == &ls[1] || p == &ls[2]) {
                struct listener *l = p;
                /* Bounded: the backlog is drained over several rounds. */
                for (int k = 0; k < 256; k++) {
                    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    struct conn *c = malloc(sizeof(*c) + (l->svc == SVC_ECHO ? BUF_SIZE : 0));
                    if (!c) {
                        close(fd);
                        continue;
                    }
                    uint32_t evs0 = l->svc == SVC_CHARGEN ? EPOLLIN | EPOLLOUT : EPOLLIN;
                    *c = (struct conn){.fd = fd, .svc = l->svc, .events = evs0};
                    struct epoll_event cev = {.events = evs0, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            struct conn *c = p;
            if (c->svc == SVC_ECHO)
                serve_echo(ep, c);
            else if (c->svc == SVC_CHARGEN)
                serve_chargen(ep, c);
            else
                serve_discard(ep, c);
        }
    }
}
