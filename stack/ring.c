/* ring.c - a byte queue in chunks taken as data arrives (see ring.h).
 *
 * Stream position p lives in chunk slot[(p >> RING_CHUNK_SHIFT) % nslots]
 * at byte p % RING_CHUNK.  nslots is a power of two that divides 2^18 (the
 * chunks of a 32-bit position), so the mapping stays continuous when the
 * position wraps; chunk indices are compared modulo 2^18 for the same
 * reason. */
#include "ring.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK_IDX_MASK ((1u << (32 - RING_CHUNK_SHIFT)) - 1)

void ring_pool_init(struct ring_pool *p, uint32_t max_free, uint64_t limit)
{
    p->free = NULL;
    p->nfree = 0;
    p->max_free = max_free;
    p->chunks = 0;
    p->limit = limit ? limit : UINT64_MAX;
    p->peak = 0;
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
    if (p->chunks >= p->limit)
        return NULL; /* the budget is spent: callers count and refuse */
    uint8_t *c = p->free;
    if (c) {
        memcpy(&p->free, c, sizeof(p->free));
        p->nfree--;
    } else {
        c = malloc(RING_CHUNK);
        if (!c)
            return NULL;
    }
    if (++p->chunks > p->peak)
        p->peak = p->chunks;
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
    uint32_t n = RING_INLINE;
    while (n < need)
        n <<= 1;
    r->maxslots = n;
    r->nslots = RING_INLINE;
    r->cap = cap;
    r->pool = pool;
    return 0;
}

static uint8_t **slots(struct ring *r)
{
    return r->nslots > RING_INLINE ? r->big : r->inl;
}

static uint8_t *const *cslots(const struct ring *r)
{
    return r->nslots > RING_INLINE ? r->big : r->inl;
}

static uint8_t **slot_at(struct ring *r, uint32_t k)
{
    return &slots(r)[k & (r->nslots - 1)];
}

/* An empty ring gives its slot table back: the inline slots are enough
 * until more than RING_INLINE chunks are held again. */
static void shrink_if_empty(struct ring *r)
{
    if (r->nheld == 0 && r->nslots > RING_INLINE) {
        free(r->big);
        r->big = NULL;
        r->nslots = RING_INLINE;
        r->inl[0] = r->inl[1] = NULL;
    }
}

static void release(struct ring *r, uint8_t **s)
{
    chunk_put(r->pool, *s);
    *s = NULL;
    r->nheld--;
}

void ring_free(struct ring *r)
{
    uint8_t **sl = slots(r);
    for (uint32_t i = 0; i < r->nslots && r->nheld; i++)
        if (sl[i])
            release(r, &sl[i]);
    free(r->big);
    memset(r, 0, sizeof(*r));
}

/* Makes the table cover `span` chunks from the head's; -1 without memory
 * for it.  Held chunks keep their index, and move to its new slot. */
static int cover(struct ring *r, uint32_t span)
{
    if (span <= r->nslots)
        return 0;
    uint32_t n = r->nslots;
    while (n < span && n < r->maxslots)
        n <<= 1;
    if (n < span)
        return -1;
    uint8_t **a = calloc(n, sizeof(*a));
    if (!a)
        return -1;
    uint8_t **old = slots(r);
    uint32_t first = r->head >> RING_CHUNK_SHIFT;
    for (uint32_t i = 0; i < r->nslots; i++) {
        uint32_t k = (first + i) & CHUNK_IDX_MASK;
        a[k & (n - 1)] = old[k & (r->nslots - 1)];
    }
    if (r->nslots > RING_INLINE)
        free(r->big);
    r->big = a;
    r->nslots = n;
    return 0;
}

/* Chunks from the head's through the one holding byte off + n - 1. */
static uint32_t span_of(const struct ring *r, uint32_t off, uint32_t n)
{
    uint32_t first = r->head >> RING_CHUNK_SHIFT;
    uint32_t last = (r->head + off + n - 1) >> RING_CHUNK_SHIFT;
    return ((last - first) & CHUNK_IDX_MASK) + 1;
}

static void copy_in(struct ring *r, uint32_t pos, const uint8_t *src, uint32_t n)
{
    while (n) {
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t k = RING_CHUNK - in < n ? RING_CHUNK - in : n;
        memcpy(*slot_at(r, pos >> RING_CHUNK_SHIFT) + in, src, k);
        pos += k;
        src += k;
        n -= k;
    }
}

uint32_t ring_write(struct ring *r, const void *data, uint32_t n)
{
    if (n > ring_space(r))
        n = ring_space(r);
    if (n == 0)
        return 0;
    if (cover(r, span_of(r, r->len, n)) < 0)
        return 0;
    /* A chunk at a time, so a refused chunk leaves nothing taken in vain:
     * what was written is kept and counted. */
    const uint8_t *src = data;
    uint32_t done = 0;
    while (done < n) {
        uint32_t pos = r->head + r->len;
        uint8_t **s = slot_at(r, pos >> RING_CHUNK_SHIFT);
        if (!*s) {
            if (!(*s = chunk_get(r->pool)))
                break;
            r->nheld++;
        }
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t k = RING_CHUNK - in < n - done ? RING_CHUNK - in : n - done;
        memcpy(*s + in, src + done, k);
        r->len += k;
        done += k;
    }
    shrink_if_empty(r);
    return done;
}

/* Takes the chunks for n bytes at offset off, all or none: the chunks to
 * take are counted against the pool first.  -1 if memory ran out. */
static int take(struct ring *r, uint32_t off, uint32_t n)
{
    uint32_t span = span_of(r, off, n);
    if (cover(r, span) < 0)
        return -1;
    uint32_t first = ((r->head + off) >> RING_CHUNK_SHIFT);
    uint32_t cnt = span - span_of(r, off, 1) + 1, missing = 0;
    for (uint32_t i = 0; i < cnt; i++)
        missing += !*slot_at(r, first + i);
    if (missing > ring_pool_room(r->pool)) {
        shrink_if_empty(r);
        return -1;
    }
    for (uint32_t i = 0; i < cnt; i++) {
        uint8_t **s = slot_at(r, first + i);
        if (!*s) {
            if (!(*s = chunk_get(r->pool)))
                return -1; /* malloc failed: what was taken goes at the next trim */
            r->nheld++;
        }
    }
    return 0;
}

int ring_write_at(struct ring *r, uint32_t off, const void *data, uint32_t n)
{
    if (n == 0)
        return 0;
    if (take(r, off, n) < 0)
        return -1;
    copy_in(r, r->head + off, data, n);
    return 0;
}

int ring_place(struct ring *r, uint32_t off, uint32_t n, struct ring_span *sp, int max)
{
    if (n == 0 || max <= 0 || span_of(r, off, n) - span_of(r, off, 1) + 1 > (uint32_t)max ||
        take(r, off, n) < 0)
        return 0;
    int k = 0;
    for (uint32_t pos = r->head + off; n; k++) {
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t len = RING_CHUNK - in < n ? RING_CHUNK - in : n;
        sp[k].base = *slot_at(r, pos >> RING_CHUNK_SHIFT) + in;
        sp[k].len = len;
        pos += len;
        n -= len;
    }
    return k;
}

void ring_peek(const struct ring *r, uint32_t off, void *out, uint32_t n)
{
    uint8_t *dst = out;
    uint8_t *const *sl = cslots(r);
    uint32_t pos = r->head + off;
    while (n) {
        uint32_t in = pos & (RING_CHUNK - 1);
        uint32_t k = RING_CHUNK - in < n ? RING_CHUNK - in : n;
        memcpy(dst, sl[(pos >> RING_CHUNK_SHIFT) & (r->nslots - 1)] + in, k);
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
    uint32_t gone = ((r->head >> RING_CHUNK_SHIFT) - from) & CHUNK_IDX_MASK;
    for (uint32_t i = 0; i < gone && r->nheld; i++) {
        uint8_t **s = slot_at(r, from + i);
        if (*s)
            release(r, s);
    }
    shrink_if_empty(r);
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
    if (!r->nheld)
        return;
    /* The slots of live bytes: from the head's chunk through the chunk of
     * the last live byte; every other slot can go.  The walk stops when
     * only the live ones are left: a drained ring (called on every read
     * that empties it) usually holds just the head's chunk, the first
     * slot looked at, so this is not a walk over all nslots. */
    uint32_t first = r->head >> RING_CHUNK_SHIFT;
    uint32_t nlive = live ? span_of(r, live - 1, 1) : 0;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < nlive && i < r->nslots; i++)
        keep += *slot_at(r, first + i) != NULL;
    for (uint32_t i = nlive; i < r->nslots && r->nheld > keep; i++) {
        uint8_t **s = slot_at(r, first + i);
        if (*s)
            release(r, s);
    }
    shrink_if_empty(r);
}

uint32_t ring_chunks(const struct ring *r)
{
    uint32_t n = 0;
    uint8_t *const *sl = cslots(r);
    for (uint32_t i = 0; i < r->nslots; i++)
        n += sl[i] != NULL;
    return n;
}

uint32_t ring_tail_room(const struct ring *r)
{
    uint32_t pos = r->head + r->len;
    uint32_t in = pos & (RING_CHUNK - 1);
    if (in == 0 || !r->nheld || !cslots(r)[(pos >> RING_CHUNK_SHIFT) & (r->nslots - 1)])
        return 0;
    uint32_t room = RING_CHUNK - in;
    return room < ring_space(r) ? room : ring_space(r);
}

size_t ring_mem_bytes(const struct ring *r)
{
    size_t table = r->nslots > RING_INLINE ? (size_t)r->nslots * sizeof(*r->big) : 0;
    return table + (size_t)r->nheld * RING_CHUNK;
}
