/* ring.h - a byte queue in fixed-size chunks: the send and receive queues
 * of a TCB.
 *
 * A ring holds up to `cap` bytes from `head`, its first byte.  Memory is
 * taken a chunk at a time as bytes are written and given back as they are
 * consumed, so a connection with a 4 MiB buffer and nothing queued holds
 * no chunk at all.  Chunks come from, and go back to, a small free list
 * per stack (struct ring_pool), so a steady transfer does no malloc.
 * Positions are offsets from the head; bytes may be written at any offset
 * below cap (out-of-order data waits past the in-order bytes).
 *
 * The table of chunk pointers grows too: two slots live in the ring
 * itself, enough for the messages of a request/response exchange, and a
 * larger table is taken only when more chunks are held at once and given
 * back when the ring is empty again.  An idle connection's rings hold no
 * memory but their own few bytes.  The pool may be given a limit (the
 * stack's memory budget for buffers): past it no chunk is taken. */
#ifndef SK_RING_H
#define SK_RING_H

#include <stddef.h>
#include <stdint.h>

#define RING_CHUNK_SHIFT 14
#define RING_CHUNK       (1u << RING_CHUNK_SHIFT) /* 16 KiB */

/* Free chunks kept for reuse, shared by the rings of one stack. */
struct ring_pool {
    void *free;     /* singly linked through the chunks' first bytes */
    uint32_t nfree; /* chunks on the free list */
    uint32_t max_free;
    uint64_t chunks; /* chunks held by rings now (memory in use / RING_CHUNK) */
    uint64_t limit;  /* chunks the rings may hold at most */
    uint64_t peak;   /* the most chunks held at once */
};
/* limit 0: no limit. */
void ring_pool_init(struct ring_pool *p, uint32_t max_free, uint64_t limit);
/* Chunks that may still be taken before the limit. */
static inline uint64_t ring_pool_room(const struct ring_pool *p)
{
    return p->chunks < p->limit ? p->limit - p->chunks : 0;
}
void ring_pool_free(struct ring_pool *p);

#define RING_INLINE 2 /* chunk slots inside struct ring */
struct ring {
    /* nslots chunk pointers, NULL where nothing is held: inl while nslots
     * is RING_INLINE, else big.  Every held chunk is within nslots chunks
     * of the head's, so each has a slot of its own. */
    uint8_t *inl[RING_INLINE];
    uint8_t **big;
    uint32_t nslots;   /* a power of two, RING_INLINE to maxslots */
    uint32_t maxslots; /* a power of two, more than cap needs */
    uint32_t cap;      /* bytes the ring may hold; 0 until ring_init */
    uint32_t head;     /* stream position of the first byte (wraps at 2^32) */
    uint32_t len;      /* bytes held from the head */
    uint32_t nheld;    /* chunks held: ring_trim stops when none is left to give */
    struct ring_pool *pool;
};

/* Sets the capacity; takes no memory yet.  -1 if cap is 0 or above
 * 1 GiB + 16 KiB. */
int ring_init(struct ring *r, uint32_t cap, struct ring_pool *pool);
/* Gives back everything; the ring is empty with cap 0 afterwards. */
void ring_free(struct ring *r);
static inline uint32_t ring_space(const struct ring *r)
{
    return r->cap - r->len;
}
/* Appends up to n bytes; returns how many fit (fewer, or 0, also when
 * memory or the pool's limit ran out). */
uint32_t ring_write(struct ring *r, const void *data, uint32_t n);
/* Writes n bytes at offset off past the head without changing len: where
 * out-of-order data waits.  off + n must be <= cap.  -1 if memory ran out
 * (nothing written then). */
int ring_write_at(struct ring *r, uint32_t off, const void *data, uint32_t n);
/* A piece of the ring's memory. */
struct ring_span {
    uint8_t *base;
    uint32_t len;
};
/* Takes the chunks for n bytes at offset off past the head, as
 * ring_write_at would, but writes nothing: the pieces of memory they are
 * go to sp (in stream order), for a reader to fill.  Returns how many, 0
 * if memory ran out or more than max would be needed (nothing taken). */
int ring_place(struct ring *r, uint32_t off, uint32_t n, struct ring_span *sp, int max);
/* Copies n bytes starting off bytes past the head; off + n <= what was
 * written there. */
void ring_peek(const struct ring *r, uint32_t off, void *out, uint32_t n);
/* Drops n bytes from the head, giving back the chunks left behind. */
void ring_consume(struct ring *r, uint32_t n);
/* Reads and drops up to n bytes; returns how many. */
uint32_t ring_read(struct ring *r, void *out, uint32_t n);
/* Gives back every chunk that holds nothing below offset `live` (bytes
 * written past it, like forgotten out-of-order data, are lost). */
void ring_trim(struct ring *r, uint32_t live);
/* Chunks held, for memory accounting in tests. */
uint32_t ring_chunks(const struct ring *r);
/* Bytes the ring can take without a new chunk: the rest of the chunk its
 * tail is in, if that one is held. */
uint32_t ring_tail_room(const struct ring *r);
/* Bytes of memory the ring holds: chunks and the slot table. */
size_t ring_mem_bytes(const struct ring *r);

#endif
