/* ring.c - byte ring buffer. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

int ring_init(struct ring *r, uint32_t cap)
{
    r->buf = malloc(cap);
    r->cap = cap;
    r->head = r->len = 0;
    return r->buf ? 0 : -1;
}

void ring_free(struct ring *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->head = r->len = 0;
}

/* Copies into the ring at absolute index idx, wrapping once. */
static void copy_in(struct ring *r, uint32_t idx, const uint8_t *src, uint32_t n)
{
    uint32_t first = r->cap - idx < n ? r->cap - idx : n;
    memcpy(r->buf + idx, src, first);
    memcpy(r->buf, src + first, n - first);
}

static uint32_t index_of(const struct ring *r, uint32_t off)
{
    uint32_t i = r->head + off;
    return i >= r->cap ? i - r->cap : i;
}

uint32_t ring_write(struct ring *r, const void *data, uint32_t n)
{
    if (n > ring_space(r))
        n = ring_space(r);
    if (n)
        copy_in(r, index_of(r, r->len), data, n);
    r->len += n;
    return n;
}

void ring_write_at(struct ring *r, uint32_t off, const void *data, uint32_t n)
{
    if (n)
        copy_in(r, index_of(r, off), data, n);
}

void ring_peek(const struct ring *r, uint32_t off, void *out, uint32_t n)
{
    uint32_t idx = index_of(r, off);
    uint32_t first = r->cap - idx < n ? r->cap - idx : n;
    memcpy(out, r->buf + idx, first);
    memcpy((uint8_t *)out + first, r->buf, n - first);
}

void ring_consume(struct ring *r, uint32_t n)
{
    r->head = index_of(r, n);
    r->len -= n;
}

uint32_t ring_read(struct ring *r, void *out, uint32_t n)
{
    if (n > r->len)
        n = r->len;
    if (n) {
        ring_peek(r, 0, out, n);
        ring_consume(r, n);
    }
    return n;
}
