/* ring.c - a byte queue in chunks taken as data arrives (see ring.h).
 *
 * Stream position p lives in chunk slot[(p >> RING_CHUNK_SHIFT) % nslots]
 * at byte p % RING_CHUNK.  nslots is a power of two that divides 2^18, so
 * the mapping stays continuous when the 32-bit position wraps. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

void ring_pool_init(struct ring_pool *p, uint32_t max_free)
{
    p->free = NULL;
    p->nfree = 0;
    p->max_free = max_free;
    p->chunks = 0;
}

void ring_pool_free(struct ring_pool *p)
{
    while (p->free) {
        void *next;
        memcpy(&next, p->free, sizeof(next));
        free(p->free);
        p->free = next;
    }
    p->nfree = 0;
}

static uint8_t *chunk_get(struct ring_pool *p)
{
    uint8_t *c = p->free;
    if (c) {
        memcpy(&p->free, c, sizeof(p->free));
        p->nfree--;
    } else {
        c = malloc(RING_CHUNK);
        if (!c)
            return NULL;
    }
    p->chunks++;
    return c;
}

static void chunk_put(struct ring_pool *p, uint8_t *c)
{
    p->chunks--;
    if (p->nfree >= p->max_free) {
        free(c);
        return;
    }
    memcpy(c, &p->free, sizeof(p->free));
    p->free = c;
    p->nfree++;
}

int ring_init(struct ring *r, uint32_t cap, struct ring_pool *pool)
{
    memset(r, 0, sizeof(*r));
    /* Up to 1 GiB of buffer plus a window scale unit of slack (16 KiB). */
    if (cap == 0 || cap > (1u << 30) + (1u << 14))
        return -1;
    uint32_t need = (cap >> RING_CHUNK_SHIFT) + 2; /* a span of cap bytes touches this many */
    uint32_t n = 1;
    while (n < need)
        n <<= 1;
    r->nslots = n;
    r->cap = cap;
    r->pool = pool;
    return 0;
}

static uint32_t slot_of(const struct ring *r, uint32_t pos)
{
    return (pos >> RING_CHUNK_SHIFT) & (r->nslots - 1);
}

void ring_free(struct ring *r)
{
    if (r->slot) {
        for (uint32_t i = 0; i < r->nslots; i++)
            if (r->slot[i])
                chunk_put(r->pool, r->slot[i]);
        free(r->slot);
    }
    memset(r, 0, sizeof(*r));
}

/* Makes sure every chunk under [pos, pos + n) exists. */
static int reserve(struct ring *r, uint32_t pos, uint32_t n)
{
    if (!r->slot) {
        r->slot = calloc(r->nslots, sizeof(*r->slot));
        if (!r->slot)
            return -1;
    }
    uint32_t first = pos >> RING_CHUNK_SHIFT, last = (pos + n - 1) >> RING_CHUNK_SHIFT;
    for (uint32_t k = first;; k++) {
        uint8_t **s = &r->slot[k & (r->nslots - 1)];
        if (!*s) {
            if (!(*s = chunk_get(r->pool)))
                return -1;
            r->nheld++;
        }
        if (k == last)
            break;
    }
    return 0;
}

static void copy_in(struct ring *r, uint32_t pos, const uint8_t *src, uint32_t n)
{
    while (n) {
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t k = RING_CHUNK - in < n ? RING_CHUNK - in : n;
        memcpy(r->slot[slot_of(r, pos)] + in, src, k);
        pos += k;
        src += k;
        n -= k;
    }
}

uint32_t ring_write(struct ring *r, const void *data, uint32_t n)
{
    if (n > ring_space(r))
        n = ring_space(r);
    if (n == 0 || reserve(r, r->head + r->len, n) < 0)
        return 0;
    copy_in(r, r->head + r->len, data, n);
    r->len += n;
    return n;
}

int ring_write_at(struct ring *r, uint32_t off, const void *data, uint32_t n)
{
    if (n == 0)
        return 0;
    if (reserve(r, r->head + off, n) < 0)
        return -1;
    copy_in(r, r->head + off, data, n);
    return 0;
}

void ring_peek(const struct ring *r, uint32_t off, void *out, uint32_t n)
{
    uint8_t *dst = out;
    uint32_t pos = r->head + off;
    while (n) {
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t k = RING_CHUNK - in < n ? RING_CHUNK - in : n;
        memcpy(dst, r->slot[slot_of(r, pos)] + in, k);
        pos += k;
        dst += k;
        n -= k;
    }
}

void ring_consume(struct ring *r, uint32_t n)
{
    uint32_t from = r->head >> RING_CHUNK_SHIFT;
    r->head += n;
    r->len -= n;
    /* Chunks wholly before the new head hold nothing any more. */
    for (uint32_t k = from; k != r->head >> RING_CHUNK_SHIFT; k++) {
        uint8_t **s = &r->slot[k & (r->nslots - 1)];
        if (*s) {
            chunk_put(r->pool, *s);
            *s = NULL;
            r->nheld--;
        }
    }
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

void ring_trim(struct ring *r, uint32_t live)
{
    if (!r->slot || !r->nheld)
        return;
    /* The slots of live bytes: from the head's chunk through the chunk of
     * the last live byte; every other slot can go.  The walk stops when
     * only the live ones are left: a drained ring (called on every read
     * that empties it) usually holds just the head's chunk, the first
     * slot looked at, so this is not a walk over all nslots. */
    uint32_t first = r->head >> RING_CHUNK_SHIFT;
    uint32_t nlive = live ? ((r->head + live - 1) >> RING_CHUNK_SHIFT) - first + 1 : 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < nlive; i++)
        keep += r->slot[(first + i) & (r->nslots - 1)] != NULL;
    for (uint32_t i = nlive; i < r->nslots && r->nheld > keep; i++) {
        uint8_t **s = &r->slot[(first + i) & (r->nslots - 1)];
        if (*s) {
            chunk_put(r->pool, *s);
            *s = NULL;
            r->nheld--;
        }
    }
}

uint32_t ring_chunks(const struct ring *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; r->slot && i < r->nslots; i++)
        n += r->slot[i] != NULL;
    return n;
}
