/* txq.c - frames out to the TAP, written in batches (see txq.h). */
#include "txq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef SYNACK_HAVE_LIBURING
#include <liburing.h>
#endif

static size_t iov_len(const struct iovec *iov, int iovcnt)
{
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    return len;
}

static void write_now(struct txq *q, const struct iovec *iov, int iovcnt)
{
    size_t len = iov_len(iov, iovcnt);
    ssize_t n = writev(q->fd, iov, iovcnt);
    if (n != (ssize_t)len)
        q->failed(q->ctx, n);
}

int txq_init(struct txq *q, int fd, bool batch, void (*failed)(void *ctx, ssize_t n), void *ctx)
{
    *q = (struct txq){.fd = fd, .failed = failed, .ctx = ctx};
#ifdef SYNACK_HAVE_LIBURING
    if (!batch)
        return 0;
    q->slots = malloc((size_t)TXQ_SLOTS * TXQ_SLOT);
    q->ring = malloc(sizeof(*q->ring));
    if (!q->slots || !q->ring) {
        free(q->slots);
        free(q->ring);
        *q = (struct txq){.fd = fd, .failed = failed, .ctx = ctx};
        errno = ENOMEM;
        return -1;
    }
    /* A kernel without io_uring, or one that refuses it to us
     * (kernel.io_uring_disabled, a seccomp filter), leaves plain writes.
     * The TAP is not registered with the ring (io_uring_register_files):
     * that would save a file lookup per write, but the ring holds the
     * file until its teardown, which the kernel finishes after we exit,
     * and the TAP stays busy meanwhile: a tapnc started right after
     * another was refused it (tests/integration/tapnc_edges.sh). */
    if (io_uring_queue_init(TXQ_SLOTS, q->ring, 0) < 0) {
        free(q->ring);
        free(q->slots);
        q->ring = NULL;
        q->slots = NULL;
    }
#else
    (void)batch;
#endif
    return 0;
}

/* The ring failed: what is left goes out with write(), and so does every
 * frame from now on. */
static void ring_off(struct txq *q, unsigned from)
{
#ifdef SYNACK_HAVE_LIBURING
    io_uring_queue_exit(q->ring);
    free(q->ring);
    q->ring = NULL;
#endif
    for (unsigned i = from; i < q->n; i++) {
        struct iovec iov = {q->slots + (size_t)i * TXQ_SLOT, q->len[i]};
        write_now(q, &iov, 1);
    }
    q->n = 0;
}

void txq_flush(struct txq *q)
{
#ifdef SYNACK_HAVE_LIBURING
    if (!q->ring || q->n == 0)
        return;
    if (q->n == 1) {
        /* One frame (a reply, an ACK): a plain write, which touches less
         * memory than the ring's, after an idle spell all of it cold. */
        struct iovec iov = {q->slots, q->len[0]};
        write_now(q, &iov, 1);
        q->n = 0;
        return;
    }
    for (unsigned i = 0; i < q->n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(q->ring);
        /* The ring has TXQ_SLOTS entries and is empty here. */
        io_uring_prep_write(sqe, q->fd, q->slots + (size_t)i * TXQ_SLOT, q->len[i], 0);
        io_uring_sqe_set_data64(sqe, i);
    }
    /* A TAP's write never waits (its socket's send buffer is unbounded),
     * so the kernel issues each write as it takes it from the ring, in
     * order: the frames leave in the order they were queued, and all of
     * them are done when io_uring_submit returns. */
    int sub = io_uring_submit(q->ring);
    if (sub < 0) {
        ring_off(q, 0);
        return;
    }
    int done = 0;
    for (int tries = 0; done < sub && tries < 1000; tries++) {
        struct io_uring_cqe *cqe;
        if (io_uring_wait_cqe(q->ring, &cqe) < 0)
            continue; /* EINTR */
        unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
        if (cqe->res != (int)q->len[i]) {
            errno = cqe->res < 0 ? -cqe->res : EIO;
            q->failed(q->ctx, cqe->res < 0 ? -1 : cqe->res);
        }
        io_uring_cqe_seen(q->ring, cqe);
        done++;
    }
    q->batched += (uint64_t)sub;
    q->batches++;
    if (done < sub)
        ring_off(q, q->n); /* completions that never came: no more ring */
    else if ((unsigned)sub < q->n)
        ring_off(q, (unsigned)sub); /* the kernel took only part */
    q->n = 0;
#else
    (void)q;
#endif
}

void txq_push(struct txq *q, const struct iovec *iov, int iovcnt)
{
    size_t len = iov_len(iov, iovcnt);
    if (!q->ring || len > TXQ_SLOT) {
        txq_flush(q); /* what is queued goes first */
        write_now(q, iov, iovcnt);
        return;
    }
    if (q->n == TXQ_SLOTS)
        txq_flush(q);
    uint8_t *p = q->slots + (size_t)q->n * TXQ_SLOT;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(p, iov[i].iov_base, iov[i].iov_len);
        p += iov[i].iov_len;
    }
    q->len[q->n++] = (unsigned)len;
}

void txq_free(struct txq *q)
{
    txq_flush(q);
#ifdef SYNACK_HAVE_LIBURING
    if (q->ring) {
        io_uring_queue_exit(q->ring);
        free(q->ring);
    }
#endif
    free(q->slots);
    q->ring = NULL;
    q->slots = NULL;
}
