/* tap/txq.c: frames queued leave together at a flush (or when the queue is
 * full), in the order they were queued, whole, with a frame too large for
 * a slot written at once after what was queued before it; --no-batch
 * writes each at once; a failed write reaches the callback with its errno.
 * A batch of one is a plain write.
 * A SOCK_SEQPACKET socket pair stands in for the TAP: like a TAP, it keeps
 * each write one message.  (tests/integration/offload.sh counts the
 * batches of a real transfer.) */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "txq.h"

struct fails {
    int n;
    ssize_t last;
    int err;
};

static void on_failed(void *ctx, ssize_t n)
{
    struct fails *f = ctx;
    f->n++;
    f->last = n;
    f->err = errno;
}

static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
}

/* Frame i: its size and its bytes, all i's low byte after a 2-byte index. */
static size_t frame_len(int i)
{
    return i == 40 ? TXQ_SLOT + 1 : i == 41 ? TXQ_SLOT : (size_t)(60 + (i * 37) % 500);
}

static void push_frame(struct txq *q, int i)
{
    static uint8_t buf[TXQ_SLOT + 1];
    size_t len = frame_len(i);
    memset(buf, i & 0xff, len);
    buf[0] = (uint8_t)(i >> 8);
    buf[1] = (uint8_t)i;
    /* In two pieces, as a virtio-net header and its frame go. */
    struct iovec iov[2] = {{buf, 10}, {buf + 10, len - 10}};
    txq_push(q, iov, 2);
}

static bool readable(int fd)
{
    uint8_t b[1];
    return recv(fd, b, sizeof(b), MSG_DONTWAIT | MSG_PEEK) > 0;
}

static void expect_frames(int fd, int from, int to)
{
    static uint8_t buf[4096];
    for (int i = from; i < to; i++) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        ck_assert_int_eq(n, (ssize_t)frame_len(i));
        ck_assert_int_eq(buf[0] << 8 | buf[1], i);
        for (size_t k = 2; k < (size_t)n; k++)
            ck_assert_int_eq(buf[k], i & 0xff);
    }
    ck_assert(!readable(fd));
}

START_TEST(batched_in_order_and_whole)
{
    int sv[2];
    pair(sv);
    struct fails f = {0};
    struct txq q;
    ck_assert_int_eq(txq_init(&q, sv[0], true, on_failed, &f), 0);
#ifdef SYNACK_HAVE_LIBURING
    /* Built with io_uring: the kernel must give us a ring (CI's too). */
    ck_assert_ptr_nonnull(q.ring);
#else
    ck_assert_ptr_null(q.ring);
#endif
    if (!q.ring) {
        txq_free(&q);
        close(sv[0]);
        close(sv[1]);
        return; /* each frame written at once: batch_off checks that path */
    }
    for (int i = 0; i < 10; i++)
        push_frame(&q, i);
    ck_assert(!readable(sv[1])); /* queued, nothing written yet */
    for (int i = 10; i < 40; i++)
        push_frame(&q, i);
    ck_assert_uint_eq(q.batches, 0);
    /* Too large for a slot: the 40 before it go first, in one batch. */
    push_frame(&q, 40);
    ck_assert_uint_eq(q.batches, 1);
    ck_assert_uint_eq(q.batched, 40);
    expect_frames(sv[1], 0, 41);
    /* A slot's size exactly is queued; a full queue flushes itself. */
    for (int i = 41; i < 41 + TXQ_SLOTS; i++)
        push_frame(&q, i);
    ck_assert_uint_eq(q.batches, 1);
    push_frame(&q, 41 + TXQ_SLOTS);
    push_frame(&q, 42 + TXQ_SLOTS);
    ck_assert_uint_eq(q.batches, 2);
    txq_flush(&q);
    ck_assert_uint_eq(q.batches, 3);
    ck_assert_uint_eq(q.batched, 40 + TXQ_SLOTS + 2);
    expect_frames(sv[1], 41, 43 + TXQ_SLOTS);
    txq_flush(&q); /* nothing queued: no batch */
    ck_assert_uint_eq(q.batches, 3);
    /* One frame alone is written plainly, not through the ring. */
    push_frame(&q, 43 + TXQ_SLOTS);
    ck_assert(!readable(sv[1]));
    txq_flush(&q);
    ck_assert_uint_eq(q.batches, 3);
    expect_frames(sv[1], 43 + TXQ_SLOTS, 44 + TXQ_SLOTS);
    ck_assert_int_eq(f.n, 0);
    txq_free(&q);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(batch_off_writes_at_once)
{
    int sv[2];
    pair(sv);
    struct fails f = {0};
    struct txq q;
    ck_assert_int_eq(txq_init(&q, sv[0], false, on_failed, &f), 0);
    ck_assert_ptr_null(q.ring);
    for (int i = 0; i < 45; i++) {
        push_frame(&q, i);
        expect_frames(sv[1], i, i + 1); /* there at once */
    }
    txq_flush(&q);
    ck_assert_uint_eq(q.batches, 0);
    ck_assert_int_eq(f.n, 0);
    txq_free(&q);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* The other end gone: every frame queued fails with EPIPE, told once each,
 * batched or not; the queue is empty after. */
static void fails_with_epipe(bool batch)
{
    int sv[2];
    pair(sv);
    close(sv[1]);
    struct fails f = {0};
    struct txq q;
    ck_assert_int_eq(txq_init(&q, sv[0], batch, on_failed, &f), 0);
    for (int i = 0; i < 3; i++)
        push_frame(&q, i);
    txq_flush(&q);
    ck_assert_int_eq(f.n, 3);
    ck_assert_int_eq(f.last, -1);
    ck_assert_int_eq(f.err, EPIPE);
    ck_assert_uint_eq(q.n, 0);
    txq_free(&q);
    ck_assert_int_eq(f.n, 3);
    close(sv[0]);
}

START_TEST(failed_writes_are_told)
{
    signal(SIGPIPE, SIG_IGN);
    fails_with_epipe(true);
    fails_with_epipe(false);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("txq");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, batched_in_order_and_whole);
    tcase_add_test(tc, batch_off_writes_at_once);
    tcase_add_test(tc, failed_writes_are_told);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
