/* connmany - many TCP connections from one host-side process, for the
 * scale test and benchmark (tests/integration/many_conns.sh,
 * tests/bench/scale.sh).
 *
 *   connmany [-b SRC] [-n N] [-p INFLIGHT] [-r K] [-z SIZE] [-w] [-x] [-T SECS] HOST PORT
 *
 * Opens N connections to HOST:PORT from address SRC (non-blocking
 * connects watched with epoll, at most INFLIGHT under way at once so a
 * listener's SYN queue is not flooded), and says how many were
 * established.  With -r, does K request/response round trips of SIZE
 * bytes on one more connection (an echo service answers each) and reports
 * the median and 90th percentile.  With -w it then holds everything until
 * SIGUSR1 (or SIGTERM, or the time bound).  Last it closes them all: a FIN
 * each (shutdown, INFLIGHT at a time), waits for the peer's FIN on every
 * one, and reports how long that took.  Every phase is bounded by -T seconds (default 60).
 *
 * One process holds at most the fds its RLIMIT_NOFILE allows (raised to
 * the hard limit here); more connections take more processes, and more
 * than about 60,000 to one port take more source addresses.  Output is
 * "key value" lines on stdout, for scripts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum cstate { C_NONE = 0, C_CONNECTING, C_OPEN, C_CLOSING, C_DONE };

struct opts {
    struct sockaddr_in dst, src;
    bool have_src;
    long n, inflight, rr, size, timeout_s;
    bool wait, noread;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: connmany [-b SRC] [-n N] [-p INFLIGHT] [-r K] [-z SIZE] [-w] [-x] "
                    "[-T SECS] HOST PORT\n");
    exit(2);
}

static long num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "connmany: bad %s '%s' (%ld to %ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static int new_socket(const struct opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (o->have_src) {
        /* The port is picked at connect, per 4-tuple: many processes on
         * one source address do not run out of ports at bind. */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&o->src, sizeof(o->src)) < 0) {
            close(fd);
            return -1;
        }
    }
    int r = connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst));
    if (r < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* K round trips of SIZE bytes on a blocking connection of its own. */
static int round_trips(const struct opts *o)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (o->have_src && bind(fd, (const struct sockaddr *)&o->src, sizeof(o->src)) < 0) {
        perror("connmany: bind");
        close(fd);
        return -1;
    }
    if (connect(fd, (const struct sockaddr *)&o->dst, sizeof(o->dst)) < 0) {
        perror("connmany: connect for round trips");
        close(fd);
        return -1;
    }
    char *msg = malloc((size_t)o->size), *back = malloc((size_t)o->size);
    double *t = calloc((size_t)o->rr, sizeof(*t));
    int rc = -1;
    if (!msg || !back || !t)
        goto out;
    for (long i = 0; i < o->size; i++)
        msg[i] = (char)('a' + i % 26);
    double deadline = now_s() + (double)o->timeout_s;
    long done = 0;
    for (; done < o->rr && now_s() < deadline; done++) {
        double t0 = now_s();
        if (write(fd, msg, (size_t)o->size) != o->size)
            break;
        long got = 0;
        while (got < o->size) {
            ssize_t r = read(fd, back + got, (size_t)(o->size - got));
            if (r <= 0)
                break;
            got += r;
        }
        if (got != o->size || memcmp(msg, back, (size_t)o->size) != 0) {
            fprintf(stderr, "connmany: round trip %ld: the echo differs or is short\n", done);
            break;
        }
        t[done] = (now_s() - t0) * 1e6;
    }
    if (done < o->rr) {
        fprintf(stderr, "connmany: %ld of %ld round trips done\n", done, o->rr);
        goto out;
    }
    qsort(t, (size_t)done, sizeof(*t), cmp_double);
    printf("rr_count %ld\nrr_median_us %.1f\nrr_p90_us %.1f\n", done, t[done / 2],
           t[done * 9 / 10]);
    fflush(stdout);
    rc = 0;
out:
    close(fd);
    free(msg);
    free(back);
    free(t);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {.n = 0, .inflight = 1000, .rr = 0, .size = 64, .timeout_s = 60};
    int ch;
    while ((ch = getopt(argc, argv, "b:n:p:r:z:wxT:")) != -1) {
        switch (ch) {
        case 'b':
            o.src.sin_family = AF_INET;
            if (inet_pton(AF_INET, optarg, &o.src.sin_addr) != 1)
                usage();
            o.have_src = true;
            break;
        case 'n':
            o.n = num(optarg, 0, 1000000, "-n");
            break;
        case 'p':
            o.inflight = num(optarg, 1, 100000, "-p");
            break;
        case 'r':
            o.rr = num(optarg, 0, 10000000, "-r");
            break;
        case 'z':
            o.size = num(optarg, 1, 1 << 20, "-z");
            break;
        case 'w':
            o.wait = true;
            break;
        case 'x':
            o.noread = true;
            break;
        case 'T':
            o.timeout_s = num(optarg, 1, 3600, "-T");
            break;
        default:
            usage();
        }
    }
    if (argc - optind != 2)
        usage();
    o.dst.sin_family = AF_INET;
    if (inet_pton(AF_INET, argv[optind], &o.dst.sin_addr) != 1)
        usage();
    o.dst.sin_port = htons((uint16_t)num(argv[optind + 1], 1, 65535, "PORT"));

    /* Signals as data: SIGUSR1 ends the hold, SIGTERM/SIGINT too. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)o.n + 64 > rl.rlim_cur) {
        fprintf(stderr, "connmany: -n %ld needs more fds than RLIMIT_NOFILE allows (%llu)\n", o.n,
                (unsigned long long)rl.rlim_cur);
        return 2;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    /* Index by fd: fds are small and dense. */
    size_t fdmax = (size_t)rl.rlim_cur + 1;
    uint8_t *st = calloc(fdmax, 1);
    if (ep < 0 || !st || sfd < 0) {
        perror("connmany");
        return 1;
    }
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = sfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev);
    bool stop = false;

    /* Phase 1: open. */
    double t0 = now_s(), deadline = t0 + (double)o.timeout_s;
    long started = 0, open = 0, failed = 0, inflight = 0;
    static struct epoll_event evs[1024];
    while (open + failed < o.n && now_s() < deadline && !stop) {
        while (started < o.n && inflight < o.inflight) {
            int fd = new_socket(&o);
            started++;
            if (fd < 0) {
                failed++;
                continue;
            }
            st[fd] = C_CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
            inflight++;
        }
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd) {
                stop = true;
                continue;
            }
            if (st[fd] != C_CONNECTING)
                continue;
            int err = 0;
            socklen_t len = sizeof(err);
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
            inflight--;
            if (err) {
                failed++;
                if (failed <= 3)
                    fprintf(stderr, "connmany: connect: %s\n", strerror(err));
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                st[fd] = C_NONE;
                continue;
            }
            /* Open: watched for input (the peer closing) from now on;
             * with -x for nothing (data arriving is left unread). */
            st[fd] = C_OPEN;
            struct epoll_event ev = {.events = o.noread ? 0 : EPOLLIN | EPOLLRDHUP, .data.fd = fd};
            epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
            open++;
        }
    }
    printf("established %ld\nfailed %ld\nconnect_s %.3f\n", open, failed + (o.n - started),
           now_s() - t0);
    fflush(stdout);

    /* Phase 2: round trips on a connection of their own. */
    int rc = 0;
    if (o.rr && round_trips(&o) < 0)
        rc = 1;

    /* Phase 3: hold until told (bounded). */
    if (o.wait) {
        printf("holding\n");
        fflush(stdout);
        deadline = now_s() + (double)o.timeout_s * 10;
        long lost = 0;
        while (!stop && now_s() < deadline) {
            int k = epoll_wait(ep, evs, 1024, 1000);
            for (int i = 0; i < k; i++) {
                int fd = evs[i].data.fd;
                if (fd == sfd) {
                    stop = true;
                } else if (st[fd] == C_OPEN) {
                    /* The peer closed or reset one while we held it. */
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    close(fd);
                    st[fd] = C_DONE;
                    open--;
                    lost++;
                }
            }
        }
        printf("lost_while_holding %ld\n", lost);
        fflush(stdout);
    }

    /* Phase 4: close them all, and wait for the peer's FIN on each.  At
     * most INFLIGHT FINs are under way at once, as for the connects: a
     * burst of 16,000 FINs from each of several processes would overflow
     * the TAP's queue (1,000 frames) and time the close by the host's
     * retransmission backoff rather than by the stack. */
    t0 = now_s();
    deadline = t0 + (double)o.timeout_s;
    long closing = 0, closed = 0, total = 0;
    for (size_t fd = 0; fd < fdmax; fd++)
        total += st[fd] == C_OPEN;
    size_t next = 0;
    static char drain[4096];
    if (o.noread) {
        /* Unread data: close resets (the peer's buffers are freed now). */
        for (size_t fd = 0; fd < fdmax; fd++)
            if (st[fd] == C_OPEN) {
                close((int)fd);
                st[fd] = C_DONE;
                closed++;
            }
    }
    while (closed < total && now_s() < deadline) {
        for (; next < fdmax && closing - closed < o.inflight; next++)
            if (st[next] == C_OPEN) {
                shutdown((int)next, SHUT_WR);
                st[next] = C_CLOSING;
                closing++;
            }
        int k = epoll_wait(ep, evs, 1024, 100);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd || st[fd] != C_CLOSING)
                continue;
            ssize_t r = read(fd, drain, sizeof(drain));
            if (r > 0 || (r < 0 && errno == EAGAIN))
                continue;
            epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
            close(fd);
            st[fd] = C_DONE;
            closed++;
        }
    }
    printf("closed %ld\nclose_s %.3f\n", closed, now_s() - t0);
    fflush(stdout);
    if (closed < total || open < o.n)
        rc = 1;
    free(st);
    close(ep);
    close(sfd);
    return rc;
}
