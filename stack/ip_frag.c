/* ip_frag.c - IPv4 reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2).
 *
 * Theory of operation.  A fragment's datagram is found by RFC 791's key
 * (source, destination, protocol, identification) in a hash table keyed
 * with a secret, so nobody can pile chains up.  Each datagram keeps the
 * payload ranges it holds, sorted and merged when they touch (RFC 815's
 * holes are the gaps between them), and its bytes in chunks of
 * IP_FRAG_CHUNK, one per 1 KiB of offset, taken from a free list: after
 * the first datagrams no fragment costs a malloc.  When the ranges cover
 * [0, length of the last fragment) and the first fragment's header is
 * known, the datagram is copied out whole and goes up the stack as if it
 * had come in one piece.
 *
 * A hostile link is assumed.  The rules, each drop with its counter:
 *   - all fragments but the last carry a multiple of 8 bytes, none is
 *     empty (RFC 791): drop_ip_frag_bad_len;
 *   - a first fragment must hold the whole transport header, and no later
 *     fragment may start inside it (RFC 1858 3.2, which refuses a TCP
 *     fragment at offset 8): drop_ip_frag_tiny;
 *   - the datagram may not exceed 65,535 bytes (RFC 791; the "ping of
 *     death"): drop_ip_frag_too_big;
 *   - any overlap, duplicates included, discards the whole datagram (RFC
 *     5722's rule for IPv6, which Linux applies to IPv4 too): fragments
 *     that overlap are either an attack on a filter or a corruption, and
 *     no choice of which copy to keep is safe: drop_ip_frag_overlap;
 *   - fragments that disagree on where the datagram ends discard it, as
 *     Linux does: drop_ip_frag_bad_end;
 *   - more than IP_FRAG_RANGES separate pieces discard it (a bound on the
 *     work per fragment): drop_ip_frag_too_many.
 * A discarded datagram's key is remembered until its timeout (RFC 5722:
 * the fragments still to come are dropped too): drop_ip_frag_dead.
 *
 * Bounds.  cfg.ip_frag_mem bytes of chunks for all datagrams, and at most
 * cfg.ip_frag_max datagrams.  When either is reached, the oldest datagram
 * is evicted for the newcomer (drop_ip_frag_evicted): a flood must then
 * outpace the few milliseconds a real datagram takes to arrive, whereas
 * refusing newcomers would let anyone who fills the table once deny all
 * reassembly for a whole timeout.  A datagram lives cfg.ip_frag_timeout_ms
 * from its first fragment; every datagram has the same life, so the list
 * in order of arrival is also the list in order of deadline.
 *
 * The timeout: 30 s by default, as Linux.  RFC 791 suggests 15 s as a
 * starting timer, RFC 1122 3.3.2 recommends 60 to 120 s; on a hostile
 * link a long life only lets incomplete datagrams hold memory, and at
 * high rates a 16-bit identification wraps within a minute and can join
 * fragments of different datagrams (RFC 4963 2).  Fragments of one
 * datagram leave their source back to back, so 30 s is long enough for
 * any path that can deliver them at all. */
#include "ip_frag.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "core.h"
#include "icmp.h"
#include "ipv4.h"
#include "siphash.h"
#include "tcp.h"

static struct ip_frag_dgram *from_age(struct link *l)
{
    return container_of(l, struct ip_frag_dgram, age);
}

int ip_frag_init(struct sk_stack *s)
{
    struct ip_frag_table *t = &s->frag;
    uint32_t max = s->cfg.ip_frag_max;
    list_init(&t->age);
    t->nbuckets = 16;
    while (t->nbuckets < max)
        t->nbuckets *= 2;
    t->d = calloc(max, sizeof(*t->d));
    t->bucket = malloc(t->nbuckets * sizeof(*t->bucket));
    t->out = malloc(60 + IP_MAX_LEN);
    if (!t->d || !t->bucket || !t->out)
        return -1;
    for (uint32_t i = 0; i < t->nbuckets; i++)
        t->bucket[i] = IP_FRAG_NIL;
    /* Free descriptors are chained through hnext from nfree_slot. */
    for (uint32_t i = 0; i < max; i++)
        t->d[i].hnext = i + 1 < max ? i + 1 : IP_FRAG_NIL;
    t->nfree_slot = 0;
    t->chunks_max = s->cfg.ip_frag_mem / IP_FRAG_CHUNK;
    s->cfg.random(s->cfg.random_ctx, t->key, sizeof(t->key));
    return 0;
}

void ip_frag_free(struct sk_stack *s)
{
    struct ip_frag_table *t = &s->frag;
    if (t->d)
        for (uint32_t i = 0; i < s->cfg.ip_frag_max; i++)
            for (int c = 0; c < IP_FRAG_CHUNKS; c++)
                free(t->d[i].chunk[c]);
    while (t->free_chunks) {
        uint8_t *next;
        memcpy(&next, t->free_chunks, sizeof(next));
        free(t->free_chunks);
        t->free_chunks = next;
    }
    free(t->d);
    free(t->bucket);
    free(t->out);
    memset(t, 0, sizeof(*t));
}

static uint32_t hash_key(const struct ip_frag_table *t, uint32_t src, uint32_t dst, uint16_t id,
                         uint8_t proto)
{
    uint8_t in[11];
    wr32(in, src);
    wr32(in + 4, dst);
    wr16(in + 8, id);
    in[10] = proto;
    return (uint32_t)siphash24(t->key, in, sizeof(in)) & (t->nbuckets - 1);
}

static struct ip_frag_dgram *find(struct ip_frag_table *t, const struct ipv4_hdr *h)
{
    uint32_t i = t->bucket[hash_key(t, h->src, h->dst, h->id, h->proto)];
    while (i != IP_FRAG_NIL) {
        struct ip_frag_dgram *d = &t->d[i];
        if (d->src == h->src && d->dst == h->dst && d->id == h->id && d->proto == h->proto)
            return d;
        i = d->hnext;
    }
    return NULL;
}

/* ---- chunks ---- */

static void put_chunks(struct ip_frag_table *t, struct ip_frag_dgram *d)
{
    for (int c = 0; c < IP_FRAG_CHUNKS; c++) {
        if (!d->chunk[c])
            continue;
        memcpy(d->chunk[c], &t->free_chunks, sizeof(t->free_chunks));
        t->free_chunks = d->chunk[c];
        d->chunk[c] = NULL;
        t->chunks_used--;
    }
}

/* Forgets everything of d but its key: later fragments are dropped. */
static void kill(struct sk_stack *s, struct ip_frag_dgram *d)
{
    put_chunks(&s->frag, d);
    d->state = IPF_DEAD;
    d->nranges = 0;
    d->have = d->total = 0;
    d->hdr_len = 0;
}

static void release(struct sk_stack *s, struct ip_frag_dgram *d)
{
    struct ip_frag_table *t = &s->frag;
    uint32_t idx = (uint32_t)(d - t->d);
    put_chunks(t, d);
    uint32_t *pp = &t->bucket[hash_key(t, d->src, d->dst, d->id, d->proto)];
    while (*pp != idx)
        pp = &t->d[*pp].hnext;
    *pp = d->hnext;
    list_del(&d->age);
    d->state = IPF_FREE;
    d->hnext = t->nfree_slot;
    t->nfree_slot = idx;
    t->nlive--;
}

/* Evicts the oldest datagram other than `keep`; with `need_memory`, only
 * one that holds chunks.  False if there is none. */
static bool evict_oldest(struct sk_stack *s, const struct ip_frag_dgram *keep, bool need_memory)
{
    struct ip_frag_table *t = &s->frag;
    for (struct link *l = t->age.next; l != &t->age; l = l->next) {
        struct ip_frag_dgram *d = from_age(l);
        if (d == keep || (need_memory && (d->state != IPF_LIVE || !d->have)))
            continue;
        if (d->state == IPF_LIVE)
            s->ctr.drop_ip_frag_evicted++;
        release(s, d);
        return true;
    }
    return false;
}

static uint8_t *get_chunk(struct sk_stack *s, const struct ip_frag_dgram *keep)
{
    struct ip_frag_table *t = &s->frag;
    /* Bounded: each pass frees a datagram's chunks or gives up. */
    for (;;) {
        if (t->chunks_used < t->chunks_max) {
            uint8_t *c = t->free_chunks;
            if (c)
                memcpy(&t->free_chunks, c, sizeof(t->free_chunks));
            else
                c = malloc(IP_FRAG_CHUNK);
            if (c)
                t->chunks_used++;
            return c;
        }
        if (!evict_oldest(s, keep, true))
            return NULL;
    }
}

static struct ip_frag_dgram *new_dgram(struct sk_stack *s, const struct ipv4_hdr *h)
{
    struct ip_frag_table *t = &s->frag;
    if (t->nlive >= s->cfg.ip_frag_max)
        evict_oldest(s, NULL, false);
    uint32_t idx = t->nfree_slot;
    struct ip_frag_dgram *d = &t->d[idx];
    t->nfree_slot = d->hnext;
    t->nlive++;
    memset(d, 0, offsetof(struct ip_frag_dgram, chunk)); /* chunks are all NULL already */
    d->src = h->src;
    d->dst = h->dst;
    d->id = h->id;
    d->proto = h->proto;
    d->state = IPF_LIVE;
    d->deadline = s->now + (uint64_t)s->cfg.ip_frag_timeout_ms * 1000;
    uint32_t b = hash_key(t, h->src, h->dst, h->id, h->proto);
    d->hnext = t->bucket[b];
    t->bucket[b] = idx;
    list_add_tail(&t->age, &d->age);
    return d;
}

/* ---- input ---- */

/* RFC 1858 3.2: how much of the payload is the transport header, which
 * the first fragment must hold whole.  For TCP its data offset, if the
 * fragment shows it; at least the fixed header. */
static uint32_t transport_header_len(uint8_t proto, const uint8_t *data, uint32_t len)
{
    switch (proto) {
    case IP_PROTO_TCP:
        if (data && len > 12 && (uint32_t)(data[12] >> 4) * 4 > TCP_HDR_LEN)
            return (uint32_t)(data[12] >> 4) * 4;
        return TCP_HDR_LEN;
    case IP_PROTO_ICMP:
    case IP_PROTO_UDP:
        return 8;
    default:
        return 0;
    }
}

/* Copies payload bytes [off, off + len) between the chunks and a buffer. */
static void copy_in(struct ip_frag_dgram *d, uint32_t off, const uint8_t *src, uint32_t len)
{
    while (len) {
        uint32_t c = off / IP_FRAG_CHUNK, in = off % IP_FRAG_CHUNK;
        uint32_t n = min_u32(len, IP_FRAG_CHUNK - in);
        memcpy(d->chunk[c] + in, src, n);
        off += n;
        src += n;
        len -= n;
    }
}

static void copy_out(const struct ip_frag_dgram *d, uint8_t *dst, uint32_t len)
{
    for (uint32_t off = 0; off < len;) {
        uint32_t n = min_u32(len - off, IP_FRAG_CHUNK);
        memcpy(dst + off, d->chunk[off / IP_FRAG_CHUNK], n);
        off += n;
    }
}

/* The datagram is whole: header and payload into t->out, *h describes it. */
static const uint8_t *assemble(struct sk_stack *s, struct ip_frag_dgram *d, struct ipv4_hdr *h)
{
    struct ip_frag_table *t = &s->frag;
    uint32_t total = d->hdr_len + d->total;
    if (total > IP_MAX_LEN) { /* the first fragment's options made it too long */
        s->ctr.drop_ip_frag_too_big++;
        kill(s, d);
        return NULL;
    }
    memcpy(t->out, d->hdr, d->hdr_len);
    copy_out(d, t->out + d->hdr_len, d->total);
    /* RFC 791: the first fragment's header, now for the whole datagram. */
    wr16(t->out + 2, (uint16_t)total);
    wr16(t->out + 6, rd16(t->out + 6) & IP_FLAG_DF);
    wr16(t->out + 10, 0);
    wr16(t->out + 10, csum(t->out, d->hdr_len));
    release(s, d);
    if (ipv4_parse(t->out, total, h) != IPV4_OK)
        return NULL; /* cannot happen: the header was checked as it came */
    s->ctr.ip_reassembled++;
    return t->out;
}

/* Records [off, end) among the ranges (no overlap: checked before).
 * False if that would make too many pieces. */
static bool add_range(struct ip_frag_dgram *d, uint32_t off, uint32_t end)
{
    uint32_t pos = 0;
    while (pos < d->nranges && d->r[pos].start < end)
        pos++;
    bool left = pos > 0 && d->r[pos - 1].end == off;
    bool right = pos < d->nranges && d->r[pos].start == end;
    if (left && right) {
        d->r[pos - 1].end = d->r[pos].end;
        memmove(&d->r[pos], &d->r[pos + 1], (d->nranges - pos - 1) * sizeof(d->r[0]));
        d->nranges--;
    } else if (left) {
        d->r[pos - 1].end = end;
    } else if (right) {
        d->r[pos].start = off;
    } else {
        if (d->nranges == IP_FRAG_RANGES)
            return false;
        memmove(&d->r[pos + 1], &d->r[pos], (d->nranges - pos) * sizeof(d->r[0]));
        d->r[pos] = (struct ip_frag_range){off, end};
        d->nranges++;
    }
    return true;
}

const uint8_t *ip_frag_input(struct sk_stack *s, struct ipv4_hdr *h, const uint8_t *p)
{
    struct ip_frag_table *t = &s->frag;
    s->ctr.ip_frags_in++;
    uint32_t off = (uint32_t)(h->frag & IP_OFF_MASK) * 8;
    uint32_t len = (uint32_t)(h->total_len - h->ihl);
    uint32_t end = off + len;
    bool more = h->frag & IP_FLAG_MF;
    const uint8_t *data = p + h->ihl;

    /* RFC 791 3.2: fragments but the last carry multiples of 8 bytes. */
    if (len == 0 || (more && (len & 7))) {
        s->ctr.drop_ip_frag_bad_len++;
        return NULL;
    }
    struct ip_frag_dgram *d = find(t, h);
    if (d && d->state == IPF_DEAD) {
        s->ctr.drop_ip_frag_dead++;
        return NULL;
    }
    uint32_t thl = transport_header_len(h->proto, off ? NULL : data, len);
    if ((off == 0 && len < thl) || (off > 0 && off < thl)) {
        s->ctr.drop_ip_frag_tiny++;
        if (d)
            kill(s, d);
        return NULL;
    }
    if (h->ihl + end > IP_MAX_LEN) {
        s->ctr.drop_ip_frag_too_big++;
        if (d)
            kill(s, d);
        return NULL;
    }
    if (!d)
        d = new_dgram(s, h);

    /* Where the datagram ends: the last fragment says, once; nothing may
     * lie beyond it (as Linux's ip_frag_queue). */
    uint32_t far = d->nranges ? d->r[d->nranges - 1].end : 0;
    if ((!more && ((d->total && d->total != end) || far > end)) ||
        (more && d->total && end >= d->total)) {
        s->ctr.drop_ip_frag_bad_end++;
        kill(s, d);
        return NULL;
    }
    for (uint32_t i = 0; i < d->nranges; i++) {
        if (off < d->r[i].end && d->r[i].start < end) {
            s->ctr.drop_ip_frag_overlap++;
            kill(s, d);
            return NULL;
        }
    }
    for (uint32_t c = off / IP_FRAG_CHUNK; c <= (end - 1) / IP_FRAG_CHUNK; c++) {
        if (!d->chunk[c] && !(d->chunk[c] = get_chunk(s, d))) {
            /* Even with every other datagram evicted this one does not
             * fit the budget: it can never complete. */
            s->ctr.drop_ip_frag_nomem++;
            kill(s, d);
            return NULL;
        }
    }
    if (!add_range(d, off, end)) {
        s->ctr.drop_ip_frag_too_many++;
        kill(s, d);
        return NULL;
    }
    copy_in(d, off, data, len);
    d->have += len;
    if (!more)
        d->total = end;
    if (off == 0) {
        memcpy(d->hdr, p, h->ihl);
        d->hdr_len = h->ihl;
    }
    if (d->total && d->have == d->total && d->hdr_len)
        return assemble(s, d, h);
    return NULL;
}

/* ---- time ---- */

void ip_frag_timers(struct sk_stack *s)
{
    struct ip_frag_table *t = &s->frag;
    while (!list_empty(&t->age)) {
        struct ip_frag_dgram *d = from_age(t->age.next);
        if (d->deadline > s->now)
            break;
        if (d->state == IPF_LIVE) {
            s->ctr.drop_ip_frag_timeout++;
            /* RFC 1122 3.3.2: if fragment zero came, tell the source
             * (time exceeded, code 1), quoting its header and first 8
             * bytes of data (the first fragment holds at least 8). */
            if (d->hdr_len) {
                uint8_t q[60 + 8];
                memcpy(q, d->hdr, d->hdr_len);
                copy_out(d, q + d->hdr_len, 8);
                icmp_send_reasm_timeout(s, d->src, d->proto, q, d->hdr_len + 8u);
            }
        }
        release(s, d);
    }
}

uint64_t ip_frag_next_deadline(const struct sk_stack *s)
{
    const struct ip_frag_table *t = &s->frag;
    if (list_empty(&t->age))
        return UINT64_MAX;
    return container_of(t->age.next, struct ip_frag_dgram, age)->deadline;
}

size_t ip_frag_mem_used(const struct sk_stack *s)
{
    return (size_t)s->frag.chunks_used * IP_FRAG_CHUNK;
}

uint32_t ip_frag_count(const struct sk_stack *s)
{
    return s->frag.nlive;
}
