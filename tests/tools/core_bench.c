/* core_bench - the core alone, no TAP, no kernel: the cost of a TCP
 * segment in and out, for the benchmark suite (tests/bench/suite.sh).
 *
 *   core_bench [in|out|both] [N]
 *
 * A stack with the unit tests' fixed clock, fixed ISN key and fixed
 * "random" source (tests/unit/harness.c) accepts one connection from a
 * scripted peer that offers what Linux offers (MSS 1460, SACK, window
 * scale 7, timestamps).  Then:
 *   in:  the peer sends N in-order segments of 1448 bytes; after each the
 *        application reads what arrived (as tapd's discard does) and the
 *        stack's ACKs go out;
 *   out: the application sends N segments' worth, as fast as the window
 *        lets it, and the peer ACKs every second segment (as Linux's
 *        delayed ACK does), echoing the timestamps.
 * Each phase first runs N/4 segments that are not measured (the rings,
 * the timer heap and slow start reach their steady state), then N that
 * are.  The frames are one at a time (h_input: sk_input then sk_flush, a
 * batch of one), with the clock moving 5 us per frame.
 *
 * What is measured is every call into the stack during the measured
 * segments, and nothing else: those calls go through functions named
 * timed_*, which `valgrind --tool=callgrind --toggle-collect='timed_*'`
 * counts (the peer's frames are built, and the stack's parsed, outside
 * them).  Callgrind's "Collected" over N is then the instructions per
 * segment; since the clock, the ISN and every input are fixed, it is the
 * same from run to run, on any machine with the same compiler, which makes
 * it a figure to catch regressions with.  Run natively, the program also
 * prints the time per segment (noisy; for a look only).
 *
 * Output: "key value" lines: segments_in, ns_per_segment_in, ... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tcp_fixture.h"

#define SEG_DATA  1448 /* MSS 1460 less the timestamp option */
#define PEER_WS   7
#define PEER_WND  2048 /* << 7: 256 KiB, at most ~180 segments in one flush */
#define MAX_QUEUE 4096

static uint8_t payload[SEG_DATA];
static uint8_t sink[256 * 1024];

static double spent_ns; /* in the timed_* calls, natively */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Every call into the stack that is measured goes through one of these,
 * each a function of its own for callgrind: never inlined, and never
 * folded with its warm_* twin of identical code (GCC's -fipa-icf would
 * make the two one symbol; noipa forbids it). */
#if defined(__GNUC__) && !defined(__clang__)
#define BENCH_FN __attribute__((noipa))
#else
#define BENCH_FN __attribute__((noinline, optnone))
#endif
BENCH_FN static void timed_input(struct harness *h, const uint8_t *f, size_t n)
{
    h_input(h, f, n);
}
BENCH_FN static long timed_recv(sk_conn *c, void *buf, size_t n)
{
    return sk_recv(c, buf, n);
}
BENCH_FN static long timed_send(struct harness *h, sk_conn *c, const void *buf, size_t n)
{
    long r = sk_send(c, buf, n);
    h_flush(h);
    return r;
}
/* The same, not measured: the warm-up. */
BENCH_FN static void warm_input(struct harness *h, const uint8_t *f, size_t n)
{
    h_input(h, f, n);
}
BENCH_FN static long warm_recv(sk_conn *c, void *buf, size_t n)
{
    return sk_recv(c, buf, n);
}
BENCH_FN static long warm_send(struct harness *h, sk_conn *c, const void *buf, size_t n)
{
    long r = sk_send(c, buf, n);
    h_flush(h);
    return r;
}

/* The measured calls, and the native clock around them (outside the
 * timed_* functions, so callgrind does not count the clock's reads). */
static void do_input(int timed, struct harness *h, const uint8_t *f, size_t n)
{
    if (!timed) {
        warm_input(h, f, n);
        return;
    }
    double t = now_ns();
    timed_input(h, f, n);
    spent_ns += now_ns() - t;
}
static long do_recv(int timed, sk_conn *c, void *buf, size_t n)
{
    if (!timed)
        return warm_recv(c, buf, n);
    double t = now_ns();
    long r = timed_recv(c, buf, n);
    spent_ns += now_ns() - t;
    return r;
}
static long do_send(int timed, struct harness *h, sk_conn *c, const void *buf, size_t n)
{
    if (!timed)
        return warm_send(h, c, buf, n);
    double t = now_ns();
    long r = timed_send(h, c, buf, n);
    spent_ns += now_ns() - t;
    return r;
}

static void die(const char *msg)
{
    fprintf(stderr, "core_bench: %s\n", msg);
    exit(1);
}

/* The stack's frames into the harness's capture, as its own callback
 * does, but without the libcheck assertions: each passing one sends check
 * a message (a write to its pipe), which would cost more than the stack. */
static void fast_capture(void *ctx, const uint8_t *frame, size_t len)
{
    struct harness *h = ctx;
    if (h->nout >= H_MAX_FRAMES || len > H_FRAME_MAX)
        die("the stack sent more frames in one call than the capture holds");
    memcpy(h->out[h->nout], frame, len);
    h->out_len[h->nout++] = len;
}

static void tweak(struct sk_config *cfg)
{
    cfg->output = fast_capture; /* output_ctx is the harness already */
}

/* A connection accepted from the peer, with Linux's SYN options. */
static void open_conn(struct tcp_fx *f)
{
    fx_listen(f, tweak, 0);
    struct h_seg syn = {.seq = 1000,
                        .wnd = 65535,
                        .mss = 1460,
                        .sack_ok = true,
                        .has_ws = true,
                        .ws = PEER_WS,
                        .ts = true,
                        .tsval = 1};
    fx_accept_with(f, FX_PPORT, &syn);
    if (!f->pts)
        die("the SYN-ACK carried no timestamps");
    f->pwnd = PEER_WND;
}

/* The peer's next segment: data (len bytes) or a bare ACK, with its
 * timestamps; advances the peer's sequence number and clock. */
static size_t peer_frame(struct tcp_fx *f, uint8_t *frame, size_t len)
{
    struct h_seg g = {.sport = f->pport,
                      .dport = f->lport,
                      .seq = f->pseq,
                      .ack = f->pack,
                      .flags = TCP_ACK | (len ? TCP_PSH : 0),
                      .wnd = f->pwnd,
                      .ts = true,
                      .tsval = ++f->ptsval,
                      .tsecr = f->ptsecr,
                      .data = payload,
                      .len = len};
    f->pseq += (uint32_t)len;
    return h_tcp(frame, &g);
}

/* The stack's ACKs (or data) since the capture was cleared: the newest
 * TSval to echo. */
static void take_output(struct tcp_fx *f)
{
    for (int i = 0; i < f->h->nout; i++) {
        struct tcp_seg g;
        if (h_out_tcp(f->h, i, &g) && g.opt.ts)
            f->ptsecr = g.opt.tsval;
    }
    h_clear(f->h);
}

/* Segments in: n data segments from the peer, the application reading. */
static void run_in(struct tcp_fx *f, long n, int timed)
{
    static uint8_t frame[H_FRAME_MAX];
    for (long i = 0; i < n; i++) {
        size_t len = peer_frame(f, frame, SEG_DATA);
        f->h->now += 5;
        do_input(timed, f->h, frame, len);
        long got = 0, r;
        for (int k = 0; k < 16 && (r = do_recv(timed, f->c, sink, sizeof(sink))) > 0; k++)
            got += r;
        if (got != SEG_DATA)
            die("the application did not get the segment's data");
        take_output(f);
    }
}

/* Segments out: the application sends n segments' worth; the peer ACKs
 * every second data segment as it arrives. */
static void run_out(struct tcp_fx *f, long n, int timed)
{
    static uint8_t frame[H_FRAME_MAX];
    static uint32_t ends[MAX_QUEUE]; /* the end of each data segment not yet ACKed */
    static uint32_t tsvals[MAX_QUEUE];
    long want = n * SEG_DATA, queued = 0, segs = 0;
    size_t head = 0, tail = 0;
    for (long round = 0; segs < n; round++) {
        if (round > 100 * n)
            die("the transfer does not progress");
        if (queued < want) {
            size_t k =
                (size_t)(want - queued) < sizeof(sink) ? (size_t)(want - queued) : sizeof(sink);
            long r = do_send(timed, f->h, f->c, sink, k);
            if (r > 0)
                queued += r;
        }
        /* What went out, then the peer's ACKs for it, each of which may
         * send more (taken in the same loop). */
        for (int guard = 0; guard < 100000; guard++) {
            for (int i = 0; i < f->h->nout; i++) {
                struct tcp_seg g;
                if (!h_out_tcp(f->h, i, &g) || g.len == 0)
                    continue;
                if (tail - head >= MAX_QUEUE)
                    die("too many segments in flight");
                ends[tail % MAX_QUEUE] = g.seq + g.len;
                tsvals[tail % MAX_QUEUE] = g.opt.tsval;
                tail++;
                segs++;
            }
            h_clear(f->h);
            if (tail == head)
                break;
            /* Every second segment, or the last one alone. */
            size_t take = tail - head >= 2 ? 2 : 1;
            head += take;
            f->pack = ends[(head - 1) % MAX_QUEUE];
            f->ptsecr = tsvals[(head - 1) % MAX_QUEUE];
            size_t len = peer_frame(f, frame, 0);
            f->h->now += 5;
            do_input(timed, f->h, frame, len);
        }
    }
}

static const char *mode = "both";
static long n_segs = 10000;

/* The harness asserts with libcheck, which needs a test running: the
 * benchmark is one test, run without fork (so callgrind sees one process). */
START_TEST(bench)
{
    if (strcmp(mode, "out")) {
        struct tcp_fx f;
        open_conn(&f);
        run_in(&f, n_segs / 4, 0);
        spent_ns = 0;
        run_in(&f, n_segs, 1);
        printf("segments_in %ld\nns_per_segment_in %.0f\n", n_segs, spent_ns / (double)n_segs);
        sk_close(f.c);
        fx_free(&f);
    }
    if (strcmp(mode, "in")) {
        struct tcp_fx f;
        open_conn(&f);
        run_out(&f, n_segs / 4, 0);
        spent_ns = 0;
        run_out(&f, n_segs, 1);
        printf("segments_out %ld\nns_per_segment_out %.0f\n", n_segs, spent_ns / (double)n_segs);
        sk_close(f.c);
        fx_free(&f);
    }
    fflush(stdout);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1)
        mode = argv[1];
    if (argc > 2)
        n_segs = strtol(argv[2], NULL, 10);
    if (argc > 3 || n_segs < 4 || n_segs > 10000000 ||
        (strcmp(mode, "in") && strcmp(mode, "out") && strcmp(mode, "both"))) {
        fprintf(stderr, "usage: core_bench [in|out|both] [N (4 to 10000000, default 10000)]\n");
        return 2;
    }
    memset(payload, 'x', sizeof(payload));
    Suite *s = suite_create("core_bench");
    TCase *tc = tcase_create("bench");
    tcase_add_test(tc, bench);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
