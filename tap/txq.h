/* txq.h - frames out to the TAP, written in batches.
 *
 * A TAP takes one frame per write(), and the host's receive path (its TCP
 * too) runs inside that call.  Written one by one, each frame of a bulk
 * transfer ends in a system call that wakes the host's reader, which then
 * runs for one frame's data before the stack gets the CPU back.  So the
 * frames the stack puts out while it handles one batch of input are
 * queued here and written together, with io_uring where the kernel allows
 * it: one io_uring_enter() for up to TXQ_SLOTS frames, and the host's
 * reader wakes once for all of them (a frame alone goes with write(),
 * which touches less memory).  Without io_uring (not built in,
 * refused by the kernel, or switched off) each frame is written at once,
 * with writev(). */
#ifndef TAP_TXQ_H
#define TAP_TXQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Frames of at most TXQ_SLOT bytes (a 1,514-byte frame and its virtio-net
 * header) are copied into the queue; larger ones (TSO frames, jumbo
 * frames) are few and written at once, after what is queued. */
#define TXQ_SLOTS 64
#define TXQ_SLOT  2048

struct io_uring;

struct txq {
    int fd;
    /* A write that did not take the whole frame: n as write() returned it,
     * errno set (tap/host.c counts it, and stops if the TAP is gone). */
    void (*failed)(void *ctx, ssize_t n);
    void *ctx;
    struct io_uring *ring; /* NULL: every frame written at once */
    uint8_t *slots;        /* TXQ_SLOTS frames of TXQ_SLOT bytes */
    unsigned n;            /* frames queued */
    unsigned len[TXQ_SLOTS];
    /* For the counters: frames written through the ring and the
     * io_uring_enter() calls that wrote them. */
    uint64_t batched, batches;
};

/* Writes to fd, in batches if batch and the kernel has io_uring.  Returns
 * 0, or -1 with errno if memory is short. */
int txq_init(struct txq *q, int fd, bool batch, void (*failed)(void *ctx, ssize_t n), void *ctx);
/* One frame, in pieces (a virtio-net header, the frame).  Queued, or
 * written at once; a full queue is flushed first. */
void txq_push(struct txq *q, const struct iovec *iov, int iovcnt);
/* Writes what is queued: before the loop waits, and before it ends. */
void txq_flush(struct txq *q);
/* Flushes, then frees the queue (the fd stays open). */
void txq_free(struct txq *q);

#endif
