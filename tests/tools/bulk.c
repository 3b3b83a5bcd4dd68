/* bulk - one bulk TCP transfer from the host side, timed, for the
 * benchmark suite (tests/bench/suite.sh).
 *
 *   bulk send [-b BYTES] [-T SECS] HOST PORT   to a discard service
 *   bulk recv [-T SECS] PORT                     from one sender
 *   bulk fetch [-b BYTES] [-T SECS] HOST PORT  from a chargen service
 *   bulk gen BYTES                               zeros to stdout (a pipe)
 *
 * send: connects, writes BYTES (default 256 MiB) of zeros in 256 KiB
 * writes, shuts its side down and waits for the peer to close: a discard
 * service closes only after it has read everything, so the time is until
 * the receiving application has every byte, never only until the sending
 * kernel took them (what `nc -N` waits for).
 * recv: listens on PORT, takes one connection and reads until EOF; the
 * time is from the accept (the handshake is done, the sender has started)
 * to EOF, so the sender's start-up (a TAP attached, a pipe filled) is left
 * out.
 * fetch: connects, reads BYTES from a chargen service and closes; the time
 * is from the connect to the last byte.
 * gen: what `tapnc HOST PORT` (or nc) reads from its pipe, made without a
 * second copy from /dev/zero.
 *
 * send, recv and fetch print "bytes N", "us T" and "mb_per_s R" (MB = 10^6
 * bytes).  Every wait is bounded by -T seconds (default 120): a transfer
 * not done by then fails (exit 1). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (256 * 1024)

static unsigned char buf[CHUNK];

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long long num(const char *s, long long lo, long long hi, const char *what)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi) {
        fprintf(stderr, "bulk: bad %s '%s' (%lld to %lld)\n", what, s, lo, hi);
        exit(2);
    }
    return v;
}

static void die(const char *what)
{
    fprintf(stderr, "bulk: %s: %s\n", what, errno ? strerror(errno) : "unexpected end");
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: bulk send [-b BYTES] [-T SECS] HOST PORT\n"
                    "       bulk recv [-T SECS] PORT\n"
                    "       bulk fetch [-b BYTES] [-T SECS] HOST PORT\n"
                    "       bulk gen BYTES\n");
    exit(2);
}

/* Reads and writes time out after the run's bound: a stalled transfer
 * fails instead of hanging the benchmark. */
static void bound(int fd, long long secs)
{
    struct timeval tv = {.tv_sec = (time_t)secs};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void report(long long bytes, double us)
{
    printf("bytes %lld\nus %.0f\nmb_per_s %.1f\n", bytes, us, (double)bytes / (us > 0 ? us : 1));
}

/* A connected socket, its reads and writes bounded by secs. */
static int dial(const char *host, const char *port, long long secs)
{
    struct sockaddr_in dst = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
        usage();
    dst.sin_port = htons((uint16_t)num(port, 1, 65535, "PORT"));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    bound(fd, secs);
    if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0)
        die("connect");
    return fd;
}

static int do_fetch(long long bytes, long long secs, const char *host, const char *port)
{
    double t0 = now_us(), deadline = t0 + (double)secs * 1e6;
    int fd = dial(host, port, secs);
    long long got = 0;
    while (got < bytes) {
        errno = 0;
        ssize_t n = read(fd, buf, bytes - got < CHUNK ? (size_t)(bytes - got) : CHUNK);
        if (n <= 0 || now_us() > deadline)
            die("read");
        got += n;
    }
    double us = now_us() - t0;
    close(fd);
    report(got, us);
    return 0;
}

static int do_send(long long bytes, long long secs, const char *host, const char *port)
{
    double deadline = now_us() + (double)secs * 1e6;
    int fd = dial(host, port, secs);
    double t0 = now_us();
    long long left = bytes;
    while (left > 0) {
        ssize_t n = write(fd, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n <= 0 || now_us() > deadline)
            die("write");
        left -= n;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        die("shutdown");
    /* The discard service sends nothing: the peer's FIN ends this. */
    for (;;) {
        errno = 0;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0 || now_us() > deadline)
            die("waiting for the peer to close");
    }
    report(bytes, now_us() - t0);
    return 0;
}

static int do_recv(long long secs, const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_port = htons((uint16_t)num(port, 1, 65535, "PORT"));
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0)
        die("listen");
    bound(l, secs); /* SO_RCVTIMEO bounds accept() too */
    int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        die("accept");
    double t0 = now_us(), deadline = t0 + (double)secs * 1e6;
    close(l);
    bound(fd, secs);
    long long got = 0;
    for (;;) {
        errno = 0;
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0 || now_us() > deadline)
            die("read");
        got += n;
    }
    report(got, now_us() - t0);
    return 0;
}

static int do_gen(long long bytes)
{
    signal(SIGPIPE, SIG_IGN);
    long long left = bytes;
    while (left > 0) {
        ssize_t n = write(1, buf, left < CHUNK ? (size_t)left : CHUNK);
        if (n <= 0)
            die("write to stdout");
        left -= n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    long long bytes = 256LL << 20, secs = 120;
    optind = 2;
    int ch;
    while ((ch = getopt(argc, argv, "b:T:")) != -1) {
        if (ch == 'b')
            bytes = num(optarg, 1, 1LL << 40, "-b");
        else if (ch == 'T')
            secs = num(optarg, 1, 3600, "-T");
        else
            usage();
    }
    int left = argc - optind;
    if (!strcmp(mode, "send") && left == 2)
        return do_send(bytes, secs, argv[optind], argv[optind + 1]);
    if (!strcmp(mode, "fetch") && left == 2)
        return do_fetch(bytes, secs, argv[optind], argv[optind + 1]);
    if (!strcmp(mode, "recv") && left == 1)
        return do_recv(secs, argv[optind]);
    if (!strcmp(mode, "gen") && left == 1)
        return do_gen(num(argv[optind], 1, 1LL << 40, "BYTES"));
    usage();
    return 2;
}
