/* ring.h - a byte ring buffer: the send and receive queues of a TCB.
 * No memmove, no allocation after creation. */
#ifndef SK_RING_H
#define SK_RING_H

#include <stddef.h>
#include <stdint.h>

struct ring {
    uint8_t *buf;
    uint32_t cap;
    uint32_t head; /* index of the first byte */
    uint32_t len;  /* bytes held from head */
};

int ring_init(struct ring *r, uint32_t cap);
void ring_free(struct ring *r);
static inline uint32_t ring_space(const struct ring *r)
{
    return r->cap - r->len;
}
/* Appends up to n bytes; returns how many fit. */
uint32_t ring_write(struct ring *r, const void *data, uint32_t n);
/* Writes n bytes at offset off past the head without changing len: where
 * out-of-order data waits.  off + n must be <= cap. */
void ring_write_at(struct ring *r, uint32_t off, const void *data, uint32_t n);
/* Copies n bytes starting off bytes past the head; off + n <= len. */
void ring_peek(const struct ring *r, uint32_t off, void *out, uint32_t n);
/* Drops n bytes from the head. */
void ring_consume(struct ring *r, uint32_t n);
/* Reads and drops up to n bytes; returns how many. */
uint32_t ring_read(struct ring *r, void *out, uint32_t n);

#endif
