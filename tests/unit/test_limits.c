/* Limits and memory at scale: a connection table and timer heap that grow
 * on demand past the old fixed 4,096; the memory an idle connection holds
 * (at most 4 KiB once its data has drained); the limits of sk_config and
 * their checks; the stack-wide budget for buffers (sk_config.tcp_mem_max):
 * sk_send refused at it and woken after, windows that stop growing under
 * pressure and never shrink (RFC 9293 3.8.6.2.1), received data dropped
 * and counted at it, and never a chunk beyond it. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "harness.h"
#include "seq.h"
#include "tcp_fixture.h"

#define PISN 1000u
#define SEC  1000000ULL

static uint8_t stream[4 << 20];
static void fill_stream(void)
{
    for (uint32_t k = 0; k < sizeof(stream); k++)
        stream[k] = (uint8_t)((k * 2654435761u) >> 13);
}

#define CTR(f, name) (sk_counters((f)->h->s)->name)

/* A passive open offering SACK and window scaling with shift 0: the
 * peer's window stays 64 KiB, so a flush sends at most 45 segments (the
 * harness captures 512).  Our own shift, for a 4 MiB buffer, is 7. */
static void accept_on(struct tcp_fx *f, uint16_t pport)
{
    struct h_seg syn = {
        .seq = PISN, .wnd = 65535, .mss = 1460, .sack_ok = true, .has_ws = true, .ws = 0};
    fx_accept_with(f, pport, &syn);
}

static void open_one(struct tcp_fx *f, void (*tweak)(struct sk_config *))
{
    fill_stream();
    fx_listen(f, tweak, 0);
    accept_on(f, FX_PPORT);
}

/* Acknowledges everything f's connection sends, round by round, until
 * nothing is left unacknowledged (bounded). */
static void drain_send(struct tcp_fx *f)
{
    for (int round = 0; round < 2000; round++) {
        h_flush(f->h);
        uint32_t end = f->pack;
        for (int k = 0; k < h_ntcp(f->h); k++) {
            struct tcp_seg g = h_out_tcp_at(f->h, k);
            if (g.dport == f->pport && seq_gt(g.seq + g.len, end))
                end = g.seq + g.len;
        }
        h_clear(f->h);
        if (end == f->pack)
            break;
        fx_ack(f, end);
    }
    struct sk_conn_info i;
    sk_conn_info(f->c, &i);
    ck_assert_uint_eq(i.unacked, 0);
    ck_assert_uint_eq(i.send_queued, 0);
}

/* The peer sends stream[off, off + len) in 1448-byte segments. */
static void peer_sends(struct tcp_fx *f, uint32_t off, uint32_t len)
{
    for (uint32_t k = 0; k < len; k += 1448) {
        uint32_t n = len - k < 1448 ? len - k : 1448;
        fx_seg(f, TCP_ACK, stream + off + k, n);
        h_clear(f->h);
    }
}

/* ---- the table ---- */

static unsigned long nframes;
static void count_frame(void *ctx, const uint8_t *frame, size_t len)
{
    (void)ctx, (void)frame, (void)len;
    nframes++;
}
static void counting_output(struct sk_config *cfg)
{
    cfg->output = count_frame;
}

START_TEST(table_grows_past_4096)
{
    /* The old table was sized once for 4,096 connections: the 4,097th SYN
     * found no room.  Now it starts at TCP_HASH_MIN buckets and doubles;
     * the timer heap too, and every timer still fires. */
    struct harness *h = h_new(counting_output);
    h_learn_peer(h);
    ck_assert_uint_eq(h->s->tcp.bucket_mask + 1, TCP_HASH_MIN);
    ck_assert_uint_le(h->s->tcp.heap_cap, TCP_HEAP_MIN);
    enum { N = 10000 };
    static sk_conn *c[N];
    for (int i = 0; i < N; i++) {
        int err;
        c[i] = sk_connect(h->s, PEER_IP, (uint16_t)(1000 + i), 0, h->now, &err);
        ck_assert_msg(c[i] != NULL, "connection %d: %s", i, sk_strerror(err));
    }
    nframes = 0;
    sk_flush(h->s, h->now);
    ck_assert_uint_eq(nframes, N); /* a SYN each */
    struct tcp_table *t = &h->s->tcp;
    ck_assert_uint_ge(t->bucket_mask + 1, N); /* a load of 1 at most */
    ck_assert_uint_le(t->bucket_mask + 1, 2 * N);
    ck_assert_uint_eq(t->heap_len, N);
    ck_assert_uint_ge(t->heap_cap, N);
    /* Every connection is found through the grown table. */
    for (int i = 0; i < N; i++) {
        uint32_t la, ra;
        uint16_t lp, rp;
        sk_conn_endpoints(c[i], &la, &lp, &ra, &rp);
        ck_assert_ptr_eq(tcb_lookup(h->s, la, lp, ra, rp), c[i]);
    }
    /* The SYN timers of all of them fire: one retransmission each. */
    nframes = 0;
    h->now += 1100000;
    sk_timers(h->s, h->now);
    sk_flush(h->s, h->now);
    ck_assert_uint_eq(nframes, N);
    for (int i = 0; i < N; i++)
        sk_abort(c[i]);
    ck_assert_int_eq(h_count_conns(h), 0);
    h_free(h);
}
END_TEST

static void max_conns_3(struct sk_config *cfg)
{
    cfg->tcp_max_conns = 3;
}

START_TEST(connection_limit_is_configurable)
{
    struct harness *h = h_new(max_conns_3);
    int err;
    for (int i = 0; i < 3; i++)
        ck_assert_ptr_nonnull(sk_connect(h->s, PEER_IP, (uint16_t)(80 + i), 0, h->now, &err));
    ck_assert_ptr_null(sk_connect(h->s, PEER_IP, 90, 0, h->now, &err));
    ck_assert_int_eq(err, SK_ENOMEM);
    h_free(h);
}
END_TEST

START_TEST(config_defaults_and_bounds)
{
    struct harness *h = h_new(NULL); /* its config, its output */
    struct sk_config good = h->cfg;
    good.tcp_max_conns = good.tcp_max_ooo = 0;
    good.tcp_mem_max = 0;
    struct sk_config c = good;
    int err;
    sk_stack *s = sk_stack_new(&c, 0, &err);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->cfg.tcp_max_conns, 262144);
    ck_assert_uint_eq(s->cfg.tcp_max_ooo, 256);
    ck_assert_uint_eq(s->cfg.tcp_mem_max, 256ull << 20);
    ck_assert_uint_eq(s->tcp.pool.limit, (256ull << 20) / RING_CHUNK);
    sk_stack_free(s);
    /* A few million connections may be asked for; not more. */
    c.tcp_max_conns = 4000000;
    ck_assert_ptr_nonnull(s = sk_stack_new(&c, 0, &err));
    sk_stack_free(s);
    c.tcp_max_conns = SK_MAX_CONNS_CEILING + 1;
    ck_assert_ptr_null(sk_stack_new(&c, 0, &err));
    ck_assert_int_eq(err, SK_EINVAL);
    c = good;
    c.tcp_max_ooo = 16385;
    ck_assert_ptr_null(sk_stack_new(&c, 0, &err));
    c.tcp_max_ooo = 16384;
    ck_assert_ptr_nonnull(s = sk_stack_new(&c, 0, &err));
    sk_stack_free(s);
    c = good;
    c.tcp_mem_max = 1000; /* below 1 MiB: not a budget for even one connection */
    ck_assert_ptr_null(sk_stack_new(&c, 0, &err));
    c.tcp_mem_max = 1ull << 20;
    ck_assert_ptr_nonnull(s = sk_stack_new(&c, 0, &err));
    ck_assert_uint_eq(s->tcp.pool.limit, 64);
    sk_stack_free(s);
    h_free(h);
}
END_TEST

/* ---- memory per connection ---- */

START_TEST(idle_after_request_response_holds_4k)
{
    /* 1,000 clients and a 4 MiB buffer each way: each connection kept a
     * 4 KiB slot table per ring, a scoreboard and a head chunk after
     * use.  Once drained it holds the TCB and little else. */
    struct tcp_fx f;
    open_one(&f, NULL);
    char buf[2000];
    for (int round = 0; round < 3; round++) {
        peer_sends(&f, 0, 300); /* a request */
        ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 300);
        ck_assert_int_eq(sk_send(f.c, stream, 1200), 1200); /* the response */
        drain_send(&f);
        h_advance(f.h, 50000); /* the delayed ACK of the request goes */
        h_clear(f.h);
        size_t m = tcb_mem_bytes(f.c);
        ck_assert_msg(m <= 4096, "round %d: %zu bytes held", round, m);
        /* The scoreboard's array went back to the stack, for the next
         * response: no malloc per response. */
        ck_assert_uint_eq(f.h->s->tcp.sb_nfree, 1);
    }
    ck_assert_uint_eq(ring_chunks(&f.c->sndq), 0);
    ck_assert_uint_eq(ring_chunks(&f.c->rcvq), 0);
    ck_assert_uint_eq(f.c->sb.cap, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(idle_after_bulk_holds_4k)
{
    struct tcp_fx f;
    open_one(&f, NULL);
    /* 3 MiB out, acknowledged as it goes. */
    ck_assert_int_eq(sk_send(f.c, stream, 3 << 20), 3 << 20);
    drain_send(&f);
    /* 1 MiB in, with gaps (out-of-order ranges), then read. */
    uint32_t total = 1 << 20;
    for (uint32_t k = 0; k + 2 * 1448 <= total; k += 2 * 1448) {
        fx_seg_at(&f, f.pseq + k + 1448, f.pack, TCP_ACK, stream + k + 1448, 1448);
        fx_seg_at(&f, f.pseq + k, f.pack, TCP_ACK, stream + k, 1448);
        h_clear(f.h);
    }
    static uint8_t in[1 << 20];
    uint32_t got = 0;
    long n;
    while ((n = sk_recv(f.c, in + got, sizeof(in) - got)) > 0)
        got += (uint32_t)n;
    ck_assert_uint_gt(got, total - 2 * 1448);
    ck_assert_mem_eq(in, stream, got);
    h_advance(f.h, 50000);
    h_clear(f.h);
    size_t m = tcb_mem_bytes(f.c);
    ck_assert_msg(m <= 4096, "%zu bytes held", m);
    ck_assert_uint_eq(f.c->ooo_cap, 0);
    ck_assert_uint_eq(f.c->sb.cap, 0);
    ck_assert_ptr_null(f.c->sndq.big);
    ck_assert_ptr_null(f.c->rcvq.big);
    ck_assert_uint_eq(f.h->s->tcp.pool.chunks, 0);
    /* The stack keeps the chunks for the next burst, up to 4 MiB: a bulk
     * transfer's window goes round the free list, not through malloc
     * (whose trimmed heap costs page faults to grow again). */
    const struct ring_pool *pool = &f.h->s->tcp.pool;
    ck_assert_uint_gt(pool->peak, 64);
    ck_assert_uint_eq(pool->nfree, pool->peak < 256 ? pool->peak : 256);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(bulk_with_data_queued_does_not_churn)
{
    /* While data stays queued, the slot table and the scoreboard stay:
     * they are given back at drain, not per segment.  A new array is
     * taken only to grow (a doubling, a few times in a transfer). */
    struct tcp_fx f;
    open_one(&f, NULL);
    ck_assert_int_eq(sk_send(f.c, stream, 2 << 20), 2 << 20);
    h_flush(f.h);
    uint8_t **table = f.c->sndq.big;
    uint32_t nslots = f.c->sndq.nslots;
    struct tcp_rec *rec = f.c->sb.rec;
    uint32_t cap = f.c->sb.cap;
    ck_assert_ptr_nonnull(table);
    ck_assert_ptr_nonnull(rec);
    uint32_t off = 2 << 20;
    int changes = 0;
    for (int round = 0; round < 200; round++) {
        uint32_t end = f.pack;
        for (int k = 0; k < h_ntcp(f.h); k++) {
            struct tcp_seg g = h_out_tcp_at(f.h, k);
            if (seq_gt(g.seq + g.len, end))
                end = g.seq + g.len;
        }
        h_clear(f.h);
        fx_ack(&f, end);
        /* The app tops the queue up as it drains. */
        long w = sk_send(f.c, stream + off % (2 << 20), 65536);
        ck_assert_int_gt(w, 0);
        off += (uint32_t)w;
        h_flush(f.h);
        ck_assert_uint_gt(f.c->sndq.len, 0);
        if (f.c->sndq.big != table) {
            ck_assert_uint_gt(f.c->sndq.nslots, nslots);
            changes++;
        }
        if (f.c->sb.rec != rec) {
            ck_assert_uint_gt(f.c->sb.cap, cap);
            changes++;
        }
        table = f.c->sndq.big, nslots = f.c->sndq.nslots;
        rec = f.c->sb.rec, cap = f.c->sb.cap;
    }
    ck_assert_int_le(changes, 4);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(ring_grows_shrinks_and_wraps)
{
    /* The slot table: inline for two chunks, a table beyond, back inline
     * when empty; the stream position wraps at 2^32 on the way (a walk
     * over chunk indices that did not wrap with it would spin). */
    fill_stream();
    struct ring_pool pool;
    ring_pool_init(&pool, 4, 0);
    struct ring r;
    ck_assert_int_eq(ring_init(&r, 1 << 20, &pool), 0);
    r.head = 0xffffffffu - 3 * RING_CHUNK + 77; /* an empty ring may start anywhere */
    ck_assert_uint_eq(ring_write(&r, stream, 1000), 1000);
    ck_assert_ptr_null(r.big);
    ck_assert_uint_eq(r.nslots, RING_INLINE);
    /* Out-of-order bytes far past the head, across the wrap. */
    ck_assert_int_eq(ring_write_at(&r, 200000, stream + 200000, 5000), 0);
    ck_assert_ptr_nonnull(r.big);
    ck_assert_uint_eq(ring_write(&r, stream + 1000, 199000), 199000);
    r.len += 5000; /* the gap is filled: the bytes were in place */
    static uint8_t out[205000];
    ring_peek(&r, 0, out, 205000);
    ck_assert_mem_eq(out, stream, 205000);
    ck_assert_uint_eq(ring_read(&r, out, 100000), 100000);
    ck_assert_mem_eq(out, stream, 100000);
    ck_assert_uint_eq(ring_read(&r, out, 200000), 105000);
    ck_assert_mem_eq(out, stream + 100000, 105000);
    ck_assert(r.head < 1u << 20); /* it wrapped */
    /* The head's chunk stays until the owner trims (out-of-order bytes
     * of a receive ring may wait past an empty queue). */
    ck_assert_uint_eq(r.nheld, 1);
    ring_trim(&r, 0);
    ck_assert_uint_eq(r.nheld, 0);
    ck_assert_ptr_null(r.big);
    ck_assert_uint_eq(r.nslots, RING_INLINE);
    ck_assert_uint_eq(ring_mem_bytes(&r), 0);
    ck_assert_uint_eq(pool.chunks, 0);
    ring_free(&r);
    ring_pool_free(&pool);
}
END_TEST

START_TEST(ring_place_lists_the_pieces)
{
    /* ring_place takes the chunks for a span and lists their memory in
     * stream order, across chunk boundaries and the wrap of the stream
     * position; bytes written there are the ring's once len covers them.
     * Too many pieces for the caller, or no memory: nothing is taken. */
    fill_stream();
    struct ring_pool pool;
    ring_pool_init(&pool, 4, 0);
    struct ring r;
    ck_assert_int_eq(ring_init(&r, 1 << 20, &pool), 0);
    /* 101 bytes before a chunk's end, 16,485 before the wrap. */
    r.head = 0xffffffffu - RING_CHUNK - 100;
    ck_assert_uint_eq(ring_write(&r, stream, 500), 500);
    ck_assert_uint_eq(r.nheld, 2);
    struct ring_span sp[8];
    ck_assert_int_eq(ring_place(&r, 500, 40000, sp, 2), 0); /* needs 3 */
    ck_assert_uint_eq(r.nheld, 2);
    int n = ring_place(&r, 500, 40000, sp, 8);
    ck_assert_int_eq(n, 3);
    ck_assert_uint_eq(sp[0].len, RING_CHUNK - 399);
    uint32_t at = 500;
    for (int i = 0; i < n; i++) {
        ck_assert_uint_le(sp[i].len, RING_CHUNK);
        memcpy(sp[i].base, stream + at, sp[i].len);
        at += sp[i].len;
    }
    ck_assert_uint_eq(at, 40500);
    r.len += 40000;
    static uint8_t out[40500];
    ck_assert_uint_eq(ring_read(&r, out, sizeof(out)), 40500);
    ck_assert_mem_eq(out, stream, 40500);
    ring_trim(&r, 0);
    ck_assert_uint_eq(pool.chunks, 0);
    /* The pool's limit refuses the whole span. */
    struct ring_pool tight;
    ring_pool_init(&tight, 4, 2);
    struct ring t;
    ck_assert_int_eq(ring_init(&t, 1 << 20, &tight), 0);
    ck_assert_int_eq(ring_place(&t, 0, 3 * RING_CHUNK, sp, 8), 0);
    ck_assert_uint_eq(tight.chunks, 0);
    ring_free(&t);
    ring_free(&r);
    ring_pool_free(&pool);
    ring_pool_free(&tight);
}
END_TEST

/* ---- out-of-order limit ---- */

static void max_ooo_4(struct sk_config *cfg)
{
    cfg->tcp_max_ooo = 4;
}

START_TEST(ooo_limit_is_configurable)
{
    struct tcp_fx f;
    open_one(&f, max_ooo_4);
    /* Six ranges past a gap, each apart from the others: four are held. */
    for (uint32_t k = 0; k < 6; k++)
        fx_seg_at(&f, f.pseq + 1000 + k * 2000, f.pack, TCP_ACK, stream, 100);
    ck_assert_uint_eq(f.c->n_ooo, 4);
    ck_assert_uint_eq(CTR(&f, drop_tcp_ooo_full), 2);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- the memory budget ---- */

static void budget_1m(struct sk_config *cfg)
{
    cfg->tcp_mem_max = 1 << 20; /* 64 chunks; pressure from 56 */
}

START_TEST(send_refused_at_budget_and_woken)
{
    struct tcp_fx f;
    open_one(&f, budget_1m);
    struct tcp_fx a = f;
    accept_on(&f, FX_PPORT + 1);
    struct tcp_fx b = f;
    struct ring_pool *pool = &f.h->s->tcp.pool;
    /* A takes what the budget has, not its 4 MiB buffer. */
    long w = sk_send(a.c, stream, 4 << 20);
    ck_assert_int_eq(w, 1 << 20);
    ck_assert_uint_eq(pool->chunks, pool->limit);
    ck_assert_int_eq(sk_send(a.c, stream, 100), -SK_EAGAIN);
    /* B has buffer room but no memory: refused, counted, and told so by
     * sk_send_space too. */
    ck_assert_uint_eq(sk_send_space(b.c), 0);
    ck_assert_int_eq(sk_send(b.c, stream, 1000), -SK_EAGAIN);
    ck_assert_uint_ge(CTR(&f, tcp_mem_send_refused), 2);
    ck_assert_uint_eq(h_events_of(f.h, b.c) & SK_EV_WRITABLE, 0);
    /* A's data is acknowledged: memory is back, and B hears of it. */
    drain_send(&a);
    ck_assert_uint_eq(pool->chunks, 0);
    h_flush(f.h);
    ck_assert_uint_ne(h_events_of(f.h, b.c) & SK_EV_WRITABLE, 0);
    ck_assert_uint_ge(CTR(&f, tcp_mem_send_woken), 1);
    ck_assert_int_eq(sk_send(b.c, stream, 1000), 1000);
    ck_assert_uint_le(pool->peak, pool->limit);
    sk_abort(a.c);
    sk_abort(b.c);
    fx_free(&f);
}
END_TEST

START_TEST(send_under_pressure_one_chunk)
{
    /* Past 7/8 of the budget a connection with an empty send ring may
     * queue one chunk, no more: enough to keep going. */
    struct tcp_fx f;
    open_one(&f, budget_1m);
    struct tcp_fx a = f;
    accept_on(&f, FX_PPORT + 1);
    struct tcp_fx b = f;
    ck_assert_int_eq(sk_send(a.c, stream, 58 * RING_CHUNK), 58 * RING_CHUNK);
    ck_assert_uint_eq(sk_send_space(b.c), RING_CHUNK);
    ck_assert_int_eq(sk_send(b.c, stream, 3 * RING_CHUNK), RING_CHUNK);
    ck_assert_uint_ge(CTR(&f, tcp_mem_pressure), 1);
    ck_assert_int_eq(sk_send(b.c, stream, 10), -SK_EAGAIN);
    sk_abort(a.c);
    sk_abort(b.c);
    fx_free(&f);
}
END_TEST

START_TEST(under_pressure_nothing_beyond_the_peer_window)
{
    /* A peer that does not read (its window closed) is given no memory
     * under pressure: what it cannot take would only pin a chunk.  When
     * its window opens, the sender hears SK_EV_WRITABLE. */
    struct tcp_fx f;
    open_one(&f, budget_1m);
    struct tcp_fx a = f;
    accept_on(&f, FX_PPORT + 1);
    struct tcp_fx b = f;
    ck_assert_int_eq(sk_send(a.c, stream, 58 * RING_CHUNK), 58 * RING_CHUNK);
    b.pwnd = 0;
    fx_ack(&b, b.pack); /* B's peer closes its window */
    h_clear(f.h);
    ck_assert_uint_eq(sk_send_space(b.c), 0);
    ck_assert_int_eq(sk_send(b.c, stream, 100), -SK_EAGAIN);
    ck_assert_uint_eq(ring_chunks(&b.c->sndq), 0);
    h_events_of(f.h, b.c);
    b.pwnd = 1000;
    fx_ack(&b, b.pack); /* and opens it */
    ck_assert_uint_ne(h_events_of(f.h, b.c) & SK_EV_WRITABLE, 0);
    ck_assert_int_eq(sk_send(b.c, stream, 5000), 1000);
    sk_abort(a.c);
    sk_abort(b.c);
    fx_free(&f);
}
END_TEST

/* The right edge of the window in an ACK of ours (scale 7 as offered by
 * accept_on: our own scale for a 4 MiB buffer is 7 too). */
static uint32_t right_edge(const struct tcp_seg *g, uint8_t wscale)
{
    return g->ack + ((uint32_t)g->wnd << wscale);
}

START_TEST(window_held_under_pressure_never_shrinks)
{
    struct tcp_fx f;
    open_one(&f, budget_1m);
    struct tcp_fx a = f;
    accept_on(&f, FX_PPORT + 1);
    struct tcp_fx b = f;
    uint8_t ws = b.c->rcv_wscale;
    /* B receives and reads 100 KB before any pressure: its edge moves. */
    uint32_t edge0 = b.c->rcv_adv;
    char buf[65536];
    peer_sends(&b, 0, 100000);
    while (sk_recv(b.c, buf, sizeof(buf)) > 0)
        ;
    h_advance(f.h, 50000);
    ck_assert(seq_gt(b.c->rcv_adv, edge0));
    h_clear(f.h);
    /* A fills the budget past the mark with data its app does not read. */
    peer_sends(&a, 0, 58 * RING_CHUNK);
    ck_assert_uint_ge(f.h->s->tcp.pool.chunks, 58);
    /* B goes on receiving and reading: its window's right edge must not
     * move right (pressure) and never left (RFC 9293 3.8.6.2.1).  What the
     * field says is rcv_adv rounded up to the scale's unit. */
    uint32_t adv = b.c->rcv_adv;
    uint32_t edge = 0;
    for (int round = 0; round < 20; round++) {
        b.pseq = b.c->rcv_nxt;
        for (uint32_t k = 0; k < 8; k++) {
            fx_seg(&b, TCP_ACK, stream, 1448);
            for (int i = 0; i < h_ntcp(f.h); i++) {
                struct tcp_seg g = h_out_tcp_at(f.h, i);
                if (g.dport == b.pport) {
                    edge = right_edge(&g, ws);
                    ck_assert_uint_lt(edge - adv, 1u << ws);
                }
            }
            h_clear(f.h);
        }
        while (sk_recv(b.c, buf, sizeof(buf)) > 0)
            ;
        h_advance(f.h, 50000);
        for (int i = 0; i < h_ntcp(f.h); i++) {
            struct tcp_seg g = h_out_tcp_at(f.h, i);
            if (g.dport == b.pport)
                ck_assert_uint_lt(right_edge(&g, ws) - adv, 1u << ws);
        }
        h_clear(f.h);
        ck_assert_uint_eq(b.c->rcv_adv, adv);
    }
    ck_assert_uint_ne(edge, 0);
    ck_assert_uint_eq(b.c->rcv_adv, adv);
    /* A's app reads: memory is back, and B's window opens again. */
    while (sk_recv(a.c, buf, sizeof(buf)) > 0)
        ;
    fx_seg(&b, TCP_ACK, stream, 1448);
    while (sk_recv(b.c, buf, sizeof(buf)) > 0)
        ;
    h_advance(f.h, 50000);
    ck_assert(seq_gt(b.c->rcv_adv, adv));
    sk_abort(a.c);
    sk_abort(b.c);
    fx_free(&f);
}
END_TEST

START_TEST(received_data_dropped_at_budget)
{
    struct tcp_fx f;
    open_one(&f, budget_1m);
    struct ring_pool *pool = &f.h->s->tcp.pool;
    /* The peer sends within its window (4 MiB) more than the budget. */
    uint32_t before = f.c->rcv_nxt;
    peer_sends(&f, 0, (1 << 20) + 20 * 1448);
    ck_assert_uint_eq(pool->chunks, pool->limit);
    ck_assert_uint_le(pool->peak, pool->limit);
    /* A segment is taken whole or not at all: up to the last that fit. */
    uint32_t taken = f.c->rcv_nxt - before;
    ck_assert_uint_gt(taken, (1 << 20) - 1448);
    ck_assert_uint_le(taken, 1 << 20);
    ck_assert_uint_ge(CTR(&f, drop_tcp_rcv_nomem), 20);
    /* Out-of-order data that would need a chunk is dropped too. */
    uint64_t drops = CTR(&f, drop_tcp_rcv_nomem);
    fx_seg_at(&f, f.c->rcv_nxt + 5 * RING_CHUNK, f.pack, TCP_ACK, stream, 100);
    ck_assert_uint_eq(CTR(&f, drop_tcp_rcv_nomem), drops + 1);
    ck_assert_uint_le(pool->peak, pool->limit);
    /* Reading gives the memory back; the peer's resend is taken. */
    static uint8_t in[1 << 20];
    uint32_t got = 0;
    long n;
    while ((n = sk_recv(f.c, in + got, sizeof(in) - got)) > 0)
        got += (uint32_t)n;
    ck_assert_uint_eq(got, taken);
    ck_assert_mem_eq(in, stream, got);
    ck_assert_uint_eq(pool->chunks, 0);
    fx_seg_at(&f, f.c->rcv_nxt, f.pack, TCP_ACK, stream + taken, 1448);
    ck_assert_uint_eq(f.c->rcv_nxt - before, taken + 1448);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("limits");
    TCase *t = tcase_create("table");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, table_grows_past_4096);
    tcase_add_test(t, connection_limit_is_configurable);
    tcase_add_test(t, config_defaults_and_bounds);
    suite_add_tcase(s, t);
    t = tcase_create("memory");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, idle_after_request_response_holds_4k);
    tcase_add_test(t, idle_after_bulk_holds_4k);
    tcase_add_test(t, bulk_with_data_queued_does_not_churn);
    tcase_add_test(t, ring_grows_shrinks_and_wraps);
    tcase_add_test(t, ring_place_lists_the_pieces);
    tcase_add_test(t, ooo_limit_is_configurable);
    suite_add_tcase(s, t);
    t = tcase_create("budget");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, send_refused_at_budget_and_woken);
    tcase_add_test(t, send_under_pressure_one_chunk);
    tcase_add_test(t, under_pressure_nothing_beyond_the_peer_window);
    tcase_add_test(t, window_held_under_pressure_never_shrinks);
    tcase_add_test(t, received_data_dropped_at_budget);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return h_run(suite());
}
