/* rr - request/response and connection rate, from the host side, for the
 * benchmark suite (tests/bench/suite.sh).
 *
 *   rr [-n N] [-z SIZE] [-W WARMUP] [-T SECS] HOST PORT       round trips
 *   rr -c N [-T SECS] HOST PORT                                 connections
 *
 * Round trips: one connection with TCP_NODELAY to an echo service; WARMUP
 * round trips (default 100: ARP, page faults, the caches) and then N
 * (default 10000) of SIZE bytes each (default 1), each one timed alone
 * from the write to the last byte of its answer.  Prints rr_n, rr_mean_us,
 * rr_p50_us, rr_p99_us and rr_min_us.
 *
 * Connections: N times, one after the other: connect, write one byte,
 * read it back, close (the client closes first, as a client of a short
 * service does, and holds the TIME_WAIT); WARMUP connections the same way
 * before, not timed.  Prints conn_n, conn_per_s, conn_mean_us and
 * conn_p99_us.
 *
 * Output is "key value" lines on stdout, for scripts.  Everything is
 * bounded by -T seconds (default 60): a run that does not finish in time
 * fails (exit 1), as does any error or short answer. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double deadline;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long num(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "rr: bad %s '%s' (%ld to %ld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static double started;

static void die(const char *what)
{
    /* EAGAIN from a blocking socket is its SO_RCVTIMEO or SO_SNDTIMEO: the
     * time says which. */
    fprintf(stderr, "rr: %s: %s (after %.3f s)\n", what, errno ? strerror(errno) : "unexpected end",
            (now_us() - started) / 1e6);
    exit(1);
}

/* A blocking socket whose reads and writes time out (SO_RCVTIMEO and
 * SO_SNDTIMEO), so a lost peer ends the run instead of hanging it. */
static int dial(const struct sockaddr_in *dst, int timeout_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    struct timeval tv = {.tv_sec = timeout_s};
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0)
        die("connect");
    return fd;
}

/* One round trip of len bytes: write them, read as many back. */
static void round_trip(int fd, unsigned char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n <= 0)
            die("write");
        off += (size_t)n;
    }
    off = 0;
    while (off < len) {
        errno = 0;
        ssize_t n = read(fd, buf + off, len - off);
        if (n <= 0)
            die("read");
        off += (size_t)n;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean, then sorts v: the p-th percentile is v[ceil(p/100 * n) - 1]
 * (the nearest-rank definition: at least p% of the samples are at or
 * below it). */
static double mean_sort(double *v, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++)
        s += v[i];
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return s / (double)n;
}

static double pct(const double *v, long n, int p)
{
    long k = (p * n + 99) / 100;
    return v[k > 0 ? k - 1 : 0];
}

int main(int argc, char **argv)
{
    long n = 10000, size = 1, warm = 100, conns = 0, limit_s = 60;
    int ch;
    while ((ch = getopt(argc, argv, "n:z:W:c:T:")) != -1) {
        switch (ch) {
        case 'n':
            n = num(optarg, 1, 100000000, "-n");
            break;
        case 'z':
            size = num(optarg, 1, 1 << 20, "-z");
            break;
        case 'W':
            warm = num(optarg, 0, 1000000, "-W");
            break;
        case 'c':
            conns = num(optarg, 1, 10000000, "-c");
            break;
        case 'T':
            limit_s = num(optarg, 1, 3600, "-T");
            break;
        default:
            fprintf(stderr,
                    "usage: rr [-n N] [-z SIZE] [-W WARMUP] [-c CONNS] [-T SECS] HOST PORT\n");
            return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: rr [-n N] [-z SIZE] [-W WARMUP] [-c CONNS] [-T SECS] HOST PORT\n");
        return 2;
    }
    struct sockaddr_in dst = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, argv[optind], &dst.sin_addr) != 1) {
        fprintf(stderr, "rr: bad address '%s'\n", argv[optind]);
        return 2;
    }
    dst.sin_port = htons((uint16_t)num(argv[optind + 1], 1, 65535, "PORT"));
    started = now_us();
    deadline = started + (double)limit_s * 1e6;

    long count = conns ? conns : n;
    double *v = malloc((size_t)count * sizeof(*v));
    unsigned char *buf = calloc(1, (size_t)size);
    if (!v || !buf)
        die("malloc");
    if (conns) {
        for (long i = 0; i < warm; i++) {
            int fd = dial(&dst, (int)limit_s);
            round_trip(fd, buf, 1);
            close(fd);
        }
        double t0 = now_us();
        for (long i = 0; i < conns; i++) {
            double t = now_us();
            if (t > deadline) {
                fprintf(stderr, "rr: %ld of %ld connections in %ld s\n", i, conns, limit_s);
                return 1;
            }
            int fd = dial(&dst, (int)limit_s);
            round_trip(fd, buf, 1);
            close(fd);
            v[i] = now_us() - t;
        }
        double all = now_us() - t0;
        double mean = mean_sort(v, conns);
        printf("conn_n %ld\nconn_per_s %.0f\nconn_mean_us %.1f\nconn_p99_us %.1f\n", conns,
               (double)conns * 1e6 / all, mean, pct(v, conns, 99));
        return 0;
    }
    int fd = dial(&dst, (int)limit_s);
    for (long i = 0; i < warm; i++)
        round_trip(fd, buf, (size_t)size);
    for (long i = 0; i < n; i++) {
        double t = now_us();
        if (t > deadline) {
            fprintf(stderr, "rr: %ld of %ld round trips in %ld s\n", i, n, limit_s);
            return 1;
        }
        round_trip(fd, buf, (size_t)size);
        v[i] = now_us() - t;
    }
    close(fd);
    double mean = mean_sort(v, n);
    printf("rr_n %ld\nrr_mean_us %.2f\nrr_p50_us %.2f\nrr_p99_us %.2f\nrr_min_us %.2f\n", n, mean,
           pct(v, n, 50), pct(v, n, 99), v[0]);
    return 0;
}
