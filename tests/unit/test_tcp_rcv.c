/* The receiver (tcp_rcv.c): SACK blocks for each out-of-order pattern (RFC
 * 2018 4) and D-SACK (RFC 2883); one duplicate ACK per out-of-order
 * segment; options that never push a segment past the MTU; delayed ACKs
 * (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2) after the quick-ACK phase; a
 * window that never shrinks (RFC 9293 3.8.6.2.1, RFC 7323 2.4) and moves
 * as receiver SWS avoidance says (3.8.6.2.2); rings that give their memory
 * back once drained. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "eth.h"
#include "harness.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp_fixture.h"

#define PISN 0x7ffffff0u /* the peer's stream crosses 2^31 */
#define MS   1000ULL
#define SEC  1000000ULL

enum { O_SACK = 1, O_TS = 2, O_WS = 4 };

static uint8_t stream[1200000];
static void fill_stream(void)
{
    /* No short period: a byte put at the wrong place shows. */
    for (uint32_t k = 0; k < sizeof(stream); k++)
        stream[k] = (uint8_t)((k * 2654435761u) >> 13);
}

/* The peer's first data byte: stream offsets count from it. */
static uint32_t base;

/* A passive open whose SYN offers m (MSS mss, window wnd, shift ws). */
static void open_with(struct tcp_fx *f, void (*tweak)(struct sk_config *), unsigned m, uint16_t mss,
                      uint16_t wnd, uint8_t ws)
{
    fill_stream();
    fx_listen(f, tweak, 0);
    struct h_seg syn = {.seq = PISN,
                        .wnd = wnd,
                        .mss = mss,
                        .sack_ok = (m & O_SACK) != 0,
                        .has_ws = (m & O_WS) != 0,
                        .ws = ws,
                        .ts = (m & O_TS) != 0,
                        .tsval = 1000};
    fx_accept_with(f, FX_PPORT, &syn);
    base = f->pseq;
}

/* Stream bytes [off, off + len) from the peer, at their sequence numbers. */
static void pdata(struct tcp_fx *f, uint32_t off, uint32_t len)
{
    ck_assert_uint_le(off + len, sizeof(stream));
    fx_seg_at(f, base + off, f->pack, TCP_ACK, stream + off, len);
}

/* The frame of the same segment, for a batch fed without a flush. */
static size_t pdata_frame(struct tcp_fx *f, uint8_t *frame, uint32_t off, uint32_t len)
{
    return h_tcp(frame, &(struct h_seg){.sport = f->pport,
                                        .dport = f->lport,
                                        .seq = base + off,
                                        .ack = f->pack,
                                        .flags = TCP_ACK,
                                        .wnd = f->pwnd,
                                        .data = stream + off,
                                        .len = len,
                                        .ts = f->pts,
                                        .tsval = f->ptsval,
                                        .tsecr = f->ptsecr});
}

/* The segment carries exactly the n blocks b (stream offsets). */
static void expect_blocks(const struct tcp_seg *g, int n, const uint32_t b[][2])
{
    ck_assert_uint_eq(g->opt.nsack, n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(g->opt.sack[i].start == base + b[i][0] &&
                          g->opt.sack[i].end == base + b[i][1],
                      "block %d is [%u, %u), expected [%u, %u)", i, g->opt.sack[i].start - base,
                      g->opt.sack[i].end - base, b[i][0], b[i][1]);
    }
}

/* Exactly one ACK went out, acknowledging stream offset `ack`, with the
 * blocks b; the capture is cleared. */
static struct tcp_seg expect_ack_blocks(struct tcp_fx *f, uint32_t ack, int n,
                                        const uint32_t b[][2])
{
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.len, 0);
    ck_assert_uint_eq(g.ack, base + ack);
    expect_blocks(&g, n, b);
    h_clear(f->h);
    return g;
}

/* Reads everything queued; it must be stream[off, off + len). */
static void expect_read(struct tcp_fx *f, uint32_t off, uint32_t len)
{
    static uint8_t buf[sizeof(stream)];
    long n = sk_recv(f->c, buf, sizeof(buf));
    ck_assert_int_eq(n, (long)len);
    ck_assert_mem_eq(buf, stream + off, len);
}

static const struct sk_counters *ctr(struct tcp_fx *f)
{
    return sk_counters(f->h->s);
}

/* ==== SACK blocks (RFC 2018 4) ==== */

START_TEST(sack_one_gap)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK, 1460, 65535, 0);
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 100, 0, NULL);
    pdata(&f, 200, 100);
    expect_ack_blocks(&f, 100, 1, (const uint32_t[][2]){{200, 300}});
    ck_assert_uint_eq(ctr(&f)->tcp_dupacks_out, 1);
    ck_assert_uint_eq(ctr(&f)->tcp_ooo_segments, 1);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rcv_ooo, 1);
    /* The gap fills: everything ACKed at once, no block left. */
    pdata(&f, 100, 100);
    expect_ack_blocks(&f, 300, 0, NULL);
    expect_read(&f, 0, 300);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Gaps opened, grown, bridged and filled, with (loop 1) and without (0)
 * timestamps: 3 blocks fit beside them, 4 without. */
START_TEST(sack_gap_patterns)
{
    bool ts = _i;
    int max = ts ? 3 : 4;
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | (ts ? O_TS : 0), 1460, 65535, 0);
    /* One, two, three, four gaps: the newest block first. */
    pdata(&f, 100, 100);
    expect_ack_blocks(&f, 0, 1, (const uint32_t[][2]){{100, 200}});
    pdata(&f, 300, 100);
    expect_ack_blocks(&f, 0, 2, (const uint32_t[][2]){{300, 400}, {100, 200}});
    pdata(&f, 500, 100);
    expect_ack_blocks(&f, 0, 3, (const uint32_t[][2]){{500, 600}, {300, 400}, {100, 200}});
    pdata(&f, 700, 100);
    expect_ack_blocks(&f, 0, max,
                      (const uint32_t[][2]){{700, 800}, {500, 600}, {300, 400}, {100, 200}});
    /* The oldest range grows: its block comes first, the others keep
     * their order of last change. */
    pdata(&f, 200, 50);
    expect_ack_blocks(&f, 0, max,
                      (const uint32_t[][2]){{100, 250}, {700, 800}, {500, 600}, {300, 400}});
    /* A segment bridges two ranges: one block. */
    pdata(&f, 250, 50);
    expect_ack_blocks(&f, 0, 3, (const uint32_t[][2]){{100, 400}, {700, 800}, {500, 600}});
    /* A segment inside no range but touching one on its right. */
    pdata(&f, 450, 50);
    expect_ack_blocks(&f, 0, 3, (const uint32_t[][2]){{450, 600}, {100, 400}, {700, 800}});
    ck_assert_uint_eq(ctr(&f)->tcp_dupacks_out, 7);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rcv_ooo, 3);
    /* The first gap fills: ACKed at once; its block is gone. */
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 400, 2, (const uint32_t[][2]){{450, 600}, {700, 800}});
    pdata(&f, 400, 50);
    expect_ack_blocks(&f, 600, 1, (const uint32_t[][2]){{700, 800}});
    pdata(&f, 600, 100);
    expect_ack_blocks(&f, 800, 0, NULL);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rcv_ooo, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_dupacks_out, 7);
    expect_read(&f, 0, 800);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* RFC 5681 4.2, RFC 2018 4: every out-of-order segment gets its own
 * duplicate ACK, with the blocks of that moment, even when several come
 * in one batch; in-order segments of a batch share one ACK. */
START_TEST(dupack_per_segment_in_batch)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | O_TS, 1460, 65535, 0);
    static uint8_t fr[3][H_FRAME_MAX];
    size_t n[3];
    /* Three in-order segments, one flush: one ACK. */
    for (int k = 0; k < 3; k++)
        n[k] = pdata_frame(&f, fr[k], 100 * (uint32_t)k, 100);
    for (int k = 0; k < 3; k++)
        sk_input(f.h->s, fr[k], n[k], f.h->now);
    ck_assert_int_eq(f.h->nout, 0); /* nothing before the flush */
    h_flush(f.h);
    expect_ack_blocks(&f, 300, 0, NULL);
    /* Three out-of-order segments, one flush: three duplicate ACKs. */
    for (int k = 0; k < 3; k++)
        n[k] = pdata_frame(&f, fr[k], 400 + 200 * (uint32_t)k, 100);
    for (int k = 0; k < 3; k++)
        sk_input(f.h->s, fr[k], n[k], f.h->now);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 3);
    const uint32_t want[3][2] = {{800, 900}, {600, 700}, {400, 500}};
    for (int k = 0; k < 3; k++) {
        struct tcp_seg g = h_out_tcp_at(f.h, k);
        ck_assert_uint_eq(g.flags, TCP_ACK);
        ck_assert_uint_eq(g.ack, base + 300);
        expect_blocks(&g, k + 1, (const uint32_t(*)[2]) & want[2 - k]);
    }
    ck_assert_uint_eq(ctr(&f)->tcp_dupacks_out, 3);
    h_clear(f.h);
    /* Part of the gap filled, then out-of-order data, in one batch: the
     * fill is ACKed at once (RFC 5681 4.2), then the duplicate ACK; both
     * acknowledge the in-order part, and nothing is owed at the flush. */
    n[0] = pdata_frame(&f, fr[0], 300, 50);
    n[1] = pdata_frame(&f, fr[1], 1000, 100);
    sk_input(f.h->s, fr[0], n[0], f.h->now);
    sk_input(f.h->s, fr[1], n[1], f.h->now);
    ck_assert_int_eq(h_ntcp(f.h), 2); /* both before the flush */
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 2);
    struct tcp_seg g0 = h_out_tcp_at(f.h, 0), g1 = h_out_tcp_at(f.h, 1);
    ck_assert_uint_eq(g0.ack, base + 350);
    expect_blocks(&g0, 3, (const uint32_t[][2]){{800, 900}, {600, 700}, {400, 500}});
    ck_assert_uint_eq(g1.ack, base + 350);
    expect_blocks(&g1, 3, (const uint32_t[][2]){{1000, 1100}, {800, 900}, {600, 700}});
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== D-SACK (RFC 2883) ==== */

START_TEST(dsack_below_rcv_nxt)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | O_TS, 1460, 65535, 0);
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 100, 0, NULL);
    pdata(&f, 100, 100);
    expect_ack_blocks(&f, 200, 0, NULL);
    /* A duplicate: reported as the first block, at once. */
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 200, 1, (const uint32_t[][2]){{0, 100}});
    ck_assert_uint_eq(ctr(&f)->tcp_dsack_out, 1);
    /* Only once: the next ACK has no block. */
    pdata(&f, 200, 100);
    expect_ack_blocks(&f, 300, 0, NULL);
    /* Partly old: the old part is reported, the new part taken. */
    pdata(&f, 250, 100);
    expect_ack_blocks(&f, 350, 1, (const uint32_t[][2]){{250, 300}});
    ck_assert_uint_eq(ctr(&f)->tcp_dsack_out, 2);
    pdata(&f, 350, 10);
    expect_ack_blocks(&f, 360, 0, NULL);
    expect_read(&f, 0, 360);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* RFC 2883 4.1 (2): a duplicate of out-of-order data is the first block,
 * the range holding it the second. */
START_TEST(dsack_inside_ooo_range)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | O_TS, 1460, 65535, 0);
    pdata(&f, 200, 100);
    expect_ack_blocks(&f, 0, 1, (const uint32_t[][2]){{200, 300}});
    pdata(&f, 300, 100);
    expect_ack_blocks(&f, 0, 1, (const uint32_t[][2]){{200, 400}});
    /* A duplicate inside the range. */
    pdata(&f, 250, 100);
    expect_ack_blocks(&f, 0, 2, (const uint32_t[][2]){{250, 350}, {200, 400}});
    ck_assert_uint_eq(ctr(&f)->tcp_dsack_out, 1);
    /* Reported once. */
    pdata(&f, 600, 100);
    expect_ack_blocks(&f, 0, 2, (const uint32_t[][2]){{600, 700}, {200, 400}});
    /* A duplicate of a whole range, the newest: then the other ranges. */
    pdata(&f, 600, 100);
    expect_ack_blocks(&f, 0, 3, (const uint32_t[][2]){{600, 700}, {600, 700}, {200, 400}});
    ck_assert_uint_eq(ctr(&f)->tcp_dsack_out, 2);
    ck_assert_uint_eq(ctr(&f)->tcp_dupacks_out, 5);
    pdata(&f, 0, 200);
    expect_ack_blocks(&f, 400, 1, (const uint32_t[][2]){{600, 700}});
    expect_read(&f, 0, 400);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Without SACK, a duplicate gets a plain ACK. */
START_TEST(dsack_needs_sack)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_TS, 1460, 65535, 0);
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 100, 0, NULL);
    pdata(&f, 0, 100);
    expect_ack_blocks(&f, 100, 0, NULL);
    pdata(&f, 300, 100);
    expect_ack_blocks(&f, 100, 0, NULL);
    ck_assert_uint_eq(ctr(&f)->tcp_dsack_out, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_sack_blocks_out, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== options within the MTU ==== */

static void mtu576(struct sk_config *cfg)
{
    cfg->mtu = 576;
}
static void mtu9000(struct sk_config *cfg)
{
    cfg->mtu = 9000;
}
static const struct {
    void (*tweak)(struct sk_config *);
    uint16_t mtu;
    bool ts;
    uint16_t peer_mss; /* 0: the same as ours */
} mtu_cases[] = {
    {NULL, 1500, true, 0},    {NULL, 1500, false, 0},     {mtu576, 576, true, 0},
    {mtu576, 576, false, 0},  {mtu9000, 9000, true, 0},   {mtu9000, 9000, false, 0},
    {NULL, 1500, true, 8960}, {mtu576, 576, false, 1460},
};

static void edit_nodelay(struct sk_tcp_opts *o)
{
    o->nodelay = true;
}

/* With 4 out-of-order ranges pending, every segment we send stays within
 * the MTU and carries as many SACK blocks as the room left allows (RFC
 * 2018 3: 3 beside timestamps, 4 without). */
START_TEST(options_fit_mtu)
{
    uint16_t mtu = mtu_cases[_i].mtu;
    bool ts = mtu_cases[_i].ts;
    uint32_t wire = mtu - 40u;              /* our MSS: what our MTU holds */
    uint32_t data = wire - (ts ? 12u : 0u); /* data in a full segment */
    int max = ts ? 3 : 4;
    struct tcp_fx f;
    uint16_t pmss = mtu_cases[_i].peer_mss ? mtu_cases[_i].peer_mss : (uint16_t)wire;
    open_with(&f, mtu_cases[_i].tweak, O_SACK | O_WS | (ts ? O_TS : 0), pmss, 65535, 7);
    struct sk_tcp_opts o;
    sk_conn_get_opts(f.c, &o);
    edit_nodelay(&o);
    ck_assert_int_eq(sk_conn_set_opts(f.c, &o), 0);
    for (uint32_t k = 0; k < 4; k++)
        pdata(&f, 200 + 200 * k, 100);
    ck_assert_int_eq(h_ntcp(f.h), 4);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 3).opt.nsack, (unsigned)max);
    h_clear(f.h);
    /* Writes that leave R bytes of a full segment unused. */
    static const uint32_t room[] = {0, 4, 12, 20, 28, 36, 44, 52};
    uint32_t sent = 0;
    for (size_t w = 0; w < sizeof(room) / sizeof(room[0]); w++) {
        if (room[w] < (ts ? 12u : 0u))
            continue;
        uint32_t len = wire - room[w];
        if (w == 0 || (ts && room[w] == 12))
            len = 2 * data; /* two full segments */
        ck_assert_int_eq(sk_send(f.c, stream, len), (long)len);
        h_flush(f.h);
        int nseg = h_ntcp(f.h);
        ck_assert_int_ge(nseg, 1);
        uint32_t got = 0;
        for (int k = 0; k < nseg; k++) {
            struct tcp_seg g = h_out_tcp_at(f.h, k);
            ck_assert_msg(f.h->out_len[k] <= (size_t)mtu + ETH_HDR_LEN,
                          "frame of %zu bytes for MTU %u", f.h->out_len[k], mtu);
            ck_assert_uint_le(rd16(f.h->out[k] + ETH_HDR_LEN + 2), mtu); /* IP total length */
            ck_assert_uint_eq(g.seq, f.iss + 1 + sent + got);
            ck_assert_uint_eq(g.ack, base);
            ck_assert_uint_le(g.len, data);
            ck_assert_int_eq(g.opt.ts, ts);
            /* The room beside this segment's data, less the timestamps,
             * less the SACK option's kind, length and NOPs. */
            int32_t left = (int32_t)(wire < g.len + 40 ? wire - g.len : 40) - (ts ? 12 : 0) - 4;
            int fit = left > 0 ? left / 8 : 0;
            if (fit > max)
                fit = max;
            ck_assert_msg(g.opt.nsack == fit, "%u data bytes: %u blocks, %d fit", g.len,
                          g.opt.nsack, fit);
            got += g.len;
        }
        ck_assert_uint_eq(got, len);
        sent += len;
        h_clear(f.h);
        fx_ack(&f, f.iss + 1 + sent);
        h_clear(f.h);
    }
    ck_assert_uint_gt(sent, 4 * data);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== delayed ACKs ==== */

/* TCP_QUICKACKS full segments, each ACKed at once; returns the offset
 * after them. */
static uint32_t use_up_quickacks(struct tcp_fx *f, uint32_t off, uint32_t len)
{
    for (int i = 0; i < TCP_QUICKACKS; i++) {
        pdata(f, off, len);
        off += len;
        ck_assert_msg(h_ntcp(f->h) == 1, "segment %d not ACKed at once", i);
        ck_assert_uint_eq(h_out_tcp_at(f->h, 0).ack, base + off);
        h_clear(f->h);
    }
    return off;
}

static void delack_100(struct sk_config *cfg)
{
    cfg->tcp_delack_ms = 100;
}

/* After the quick-ACK phase, one full segment waits tcp_delack_ms (40 ms
 * by default, loop 0; 100 ms configured, loop 1); the second full segment
 * is ACKed at once. */
START_TEST(delack_after_quickacks)
{
    uint64_t delay = _i ? 100 * MS : 40 * MS;
    struct tcp_fx f;
    open_with(&f, _i ? delack_100 : NULL, 0, 1460, 65535, 0);
    uint32_t off = use_up_quickacks(&f, 0, 1460);
    ck_assert_uint_eq(ctr(&f)->tcp_delayed_acks, 0);
    pdata(&f, off, 1460);
    off += 1460;
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, delay - 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    expect_ack_blocks(&f, off, 0, NULL);
    ck_assert_uint_eq(ctr(&f)->tcp_delayed_acks, 1);
    /* Two full segments: the second is ACKed at once. */
    pdata(&f, off, 1460);
    off += 1460;
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, delay / 2);
    ck_assert_int_eq(f.h->nout, 0);
    pdata(&f, off, 1460);
    off += 1460;
    expect_ack_blocks(&f, off, 0, NULL);
    /* The timer went with the ACK. */
    h_advance(f.h, 2 * delay);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_delayed_acks, 1);
    expect_read(&f, 0, off);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* A FIN is ACKed at once (RFC 9293 3.10.7.4 eighth), with or without
 * data, and whatever the delayed-ACK timer had pending. */
START_TEST(delack_fin_at_once)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_TS, 1460, 65535, 0);
    uint32_t off = use_up_quickacks(&f, 0, 1448);
    /* Loop 0: data and FIN in one segment; loop 1: a bare FIN after a
     * delayed segment. */
    if (_i == 0) {
        fx_seg_at(&f, base + off, f.pack, TCP_ACK | TCP_FIN, stream + off, 1448);
        off += 1448;
    } else {
        pdata(&f, off, 1448);
        off += 1448;
        ck_assert_int_eq(f.h->nout, 0);
        fx_seg_at(&f, base + off, f.pack, TCP_ACK | TCP_FIN, NULL, 0);
    }
    expect_ack_blocks(&f, off + 1, 0, NULL);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSE_WAIT);
    h_advance(f.h, 100 * MS);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_delayed_acks, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Out-of-order data starts the quick-ACK phase again. */
START_TEST(delack_ooo_restarts_quickacks)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK, 1460, 65535, 0);
    uint32_t off = use_up_quickacks(&f, 0, 1460);
    pdata(&f, off, 1460); /* delayed */
    off += 1460;
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 40 * MS);
    expect_ack_blocks(&f, off, 0, NULL);
    /* A hole, its duplicate ACK, then the fill: both at once. */
    pdata(&f, off + 1460, 1460);
    expect_ack_blocks(&f, off, 1, (const uint32_t[][2]){{off + 1460, off + 2920}});
    pdata(&f, off, 1460);
    off += 2920;
    expect_ack_blocks(&f, off, 0, NULL);
    /* The fill's ACK was the first of a new quick-ACK phase: the next
     * TCP_QUICKACKS - 1 single segments are ACKed at once too. */
    for (int k = 0; k < TCP_QUICKACKS - 1; k++) {
        pdata(&f, off, 1460);
        off += 1460;
        expect_ack_blocks(&f, off, 0, NULL);
    }
    /* Then delayed again. */
    pdata(&f, off, 1460);
    off += 1460;
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 40 * MS);
    expect_ack_blocks(&f, off, 0, NULL);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Feeds full segments [off + k * 1460) for k < n as one batch: no flush
 * between them, as frames read from the TAP in one go. */
static void batch_full(struct tcp_fx *f, uint32_t off, int n)
{
    static uint8_t fr[8][H_FRAME_MAX];
    ck_assert_int_le(n, 8);
    for (int k = 0; k < n; k++) {
        size_t len = pdata_frame(f, fr[k], off + 1460 * (uint32_t)k, 1460);
        sk_input(f->h->s, fr[k], len, f->h->now);
    }
}

/* No stretch ACKs while the peer recovers (RFC 5681 4.2, RFC 2525 2.13):
 * when a batch brings a gap's fill and the segments after it, the fill is
 * ACKed at once and then every second full segment, each before the next
 * frame of the batch is read; a lost ACK then costs the peer only what it
 * covered.  (A sender with a small window whose one ACK for the whole
 * batch was lost had nothing to go on but its RTO.)  In a steady stream,
 * after the quick ACKs, a batch shares one ACK again. */
START_TEST(ack_no_stretch_in_recovery)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK, 1460, 65535, 0);
    uint32_t off = use_up_quickacks(&f, 0, 1460);
    /* A hole at off: its duplicate ACK. */
    pdata(&f, off + 1460, 1460);
    expect_ack_blocks(&f, off, 1, (const uint32_t[][2]){{off + 1460, off + 2920}});
    /* One batch: the fill, then four new full segments. */
    static uint8_t fill[H_FRAME_MAX];
    size_t n = pdata_frame(&f, fill, off, 1460);
    sk_input(f.h->s, fill, n, f.h->now);
    batch_full(&f, off + 2920, 4);
    ck_assert_int_eq(h_ntcp(f.h), 3); /* all before the flush */
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 3);
    const uint32_t want[3] = {off + 2920, off + 2920 + 2 * 1460, off + 2920 + 4 * 1460};
    for (int k = 0; k < 3; k++) {
        struct tcp_seg g = h_out_tcp_at(f.h, k);
        ck_assert_uint_eq(g.flags, TCP_ACK);
        ck_assert_uint_eq(g.ack, base + want[k]);
        ck_assert_uint_eq(g.opt.nsack, 0);
    }
    h_clear(f.h);
    off += 2920 + 4 * 1460;
    /* The quick ACKs that remain, one full segment each. */
    for (int k = 0; k < TCP_QUICKACKS - 3; k++) {
        pdata(&f, off, 1460);
        off += 1460;
        expect_ack_blocks(&f, off, 0, NULL);
    }
    /* Steady again: a batch of four has one ACK, at the flush. */
    batch_full(&f, off, 4);
    off += 4 * 1460;
    ck_assert_int_eq(h_ntcp(f.h), 0);
    h_flush(f.h);
    expect_ack_blocks(&f, off, 0, NULL);
    expect_read(&f, 0, off);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* A segment we hold already means the peer is resending (after its
 * timeout, or because our ACKs were lost): its D-SACK goes at once, and
 * the ACKs after it are quick again, so the peer's small window is not
 * held back by our delayed-ACK timer while it rebuilds. */
START_TEST(duplicate_restarts_quickacks)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK, 1460, 65535, 0);
    uint32_t off = use_up_quickacks(&f, 0, 1460);
    /* Still delayed: one full segment waits. */
    pdata(&f, off, 1460);
    off += 1460;
    ck_assert_int_eq(h_ntcp(f.h), 0);
    h_advance(f.h, 40 * MS);
    expect_ack_blocks(&f, off, 0, NULL);
    /* The peer sends the last segment again: D-SACK at once. */
    pdata(&f, off - 1460, 1460);
    expect_ack_blocks(&f, off, 1, (const uint32_t[][2]){{off - 1460, off}});
    /* The next single full segment is ACKed without delay. */
    pdata(&f, off, 1460);
    off += 1460;
    expect_ack_blocks(&f, off, 0, NULL);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== the window (RFC 9293 3.8.6.2, RFC 7323 2.4) ==== */

/* What we announce, as the peer sees it. */
struct edge_log {
    uint32_t edge; /* the furthest right edge announced: ack + (wnd << shift) */
    uint32_t last; /* the latest one: what a peer sends up to */
    bool have;
    int moves;     /* times it moved right */
    uint32_t step; /* receiver SWS: the least it may move by (0: unchecked) */
    uint8_t shift;
};

/* Checks every segment captured against the log; clears the capture. */
static void log_edges(struct tcp_fx *f, struct edge_log *l)
{
    for (int k = 0; k < h_ntcp(f->h); k++) {
        struct tcp_seg g = h_out_tcp_at(f->h, k);
        if (!(g.flags & TCP_ACK))
            continue;
        uint32_t edge = g.ack + ((uint32_t)g.wnd << l->shift);
        uint32_t unit = 1u << l->shift;
        if (l->have) {
            /* RFC 7323 2.4: the window field is rounded to the scale's
             * unit, so the edge the peer sees may seem to move left by less
             * than a unit; by a unit or more it never may.  l->edge is the
             * furthest edge announced so far. */
            ck_assert_msg(seq_gt(edge + unit, l->edge), "the right edge moved left by %u",
                          l->edge - edge);
            if (seq_gt(edge, l->edge)) {
                uint32_t by = edge - l->edge;
                /* Moves below a unit are rounding; a real move is at least
                 * the SWS step, less the rounding (RFC 9293 3.8.6.2.2). */
                if (by >= unit) {
                    l->moves++;
                    ck_assert_msg(!l->step || by + unit - 1 >= l->step,
                                  "the right edge moved by %u, less than %u (SWS)", by, l->step);
                }
                l->edge = edge;
            }
        } else {
            l->edge = edge;
        }
        l->last = edge;
        l->have = true;
    }
    h_clear(f->h);
}

static void rcvbuf_small(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 86400000; /* the peer stays known all along */
    cfg->tcp_rcvbuf = 70001;         /* shift 1 */
}
static void rcvbuf_200k(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 86400000; /* the peer stays known all along */
    cfg->tcp_rcvbuf = 200001;        /* shift 2 */
}
static void rcvbuf_1m(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 86400000; /* the peer stays known all along */
    cfg->tcp_rcvbuf = 1000003;       /* shift 4 */
}
static const struct {
    void (*tweak)(struct sk_config *);
    uint32_t rcvbuf;
    uint8_t shift;
    uint32_t seg; /* the peer's segment size */
} win_cases[] = {
    {rcvbuf_small, 70001, 1, 1001}, {rcvbuf_200k, 200001, 2, 1001}, {rcvbuf_200k, 200001, 2, 1447},
    {rcvbuf_1m, 1000003, 4, 999},   {rcvbuf_1m, 1000003, 4, 1460},
};

/* The peer fills what we announce, the app does not read; then the app
 * reads in small pieces.  The right edge never moves left. */
START_TEST(window_never_shrinks)
{
    uint32_t rcvbuf = win_cases[_i].rcvbuf;
    uint32_t seg = win_cases[_i].seg;
    struct tcp_fx f;
    open_with(&f, win_cases[_i].tweak, O_WS, 1460, 65535, 0);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_int_eq(i.rcv_wscale, win_cases[_i].shift);
    struct edge_log l = {.shift = win_cases[_i].shift};
    /* The window the handshake left: the SYN-ACK's 65535, unscaled. */
    l.edge = l.last = base + 65535;
    l.have = true;
    uint32_t off = 0;
    for (int round = 0; round < 100000; round++) {
        /* A peer sends up to the edge we announced last (RFC 7323 2.4: a
         * sender copes with the edge seeming to move left by rounding). */
        uint32_t room = seq_gt(l.last, base + off) ? l.last - (base + off) : 0;
        if (room == 0)
            break;
        uint32_t n = room < seg ? room : seg;
        pdata(&f, off, n);
        off += n;
        h_advance(f.h, 50 * MS); /* the delayed ACK, if any */
        log_edges(&f, &l);
    }
    ck_assert_uint_eq(ctr(&f)->drop_tcp_unacceptable, 0);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_rcv_nomem, 0);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.recv_queued, off);
    /* The whole buffer was offered, in whole units of the scale (what
     * the buffer has is rounded down to one before the field rounds up). */
    ck_assert_uint_ge(off, rcvbuf - ((1u << win_cases[_i].shift) - 1));
    /* The app reads a little at a time: the edge moves by at least
     * min(RCV.BUFF/2, MSS) when it moves (RFC 9293 3.8.6.2.2). */
    l.step = rcvbuf / 2 < 1460 ? rcvbuf / 2 : 1460;
    l.moves = 0;
    static uint8_t buf[sizeof(stream)];
    uint32_t read = 0;
    while (read < off) {
        long n = sk_recv(f.c, buf + read, 700);
        ck_assert_int_gt(n, 0);
        read += (uint32_t)n;
        h_flush(f.h);
        log_edges(&f, &l);
    }
    ck_assert_mem_eq(buf, stream, off);
    ck_assert_int_gt(l.moves, 0);
    ck_assert(seq_gt(l.edge, base + off)); /* open again */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== memory, as queued ==== */

START_TEST(memory_receive_drained)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | O_TS | O_WS, 1460, 65535, 7);
    uint32_t total = 300 * 1448;
    /* In order, with every fourth pair swapped (out-of-order data too). */
    for (uint32_t k = 0; k < 300; k += 4) {
        pdata(&f, (k + 1) * 1448, 1448);
        pdata(&f, k * 1448, 1448);
        pdata(&f, (k + 2) * 1448, 1448);
        pdata(&f, (k + 3) * 1448, 1448);
        h_clear(f.h);
        if (k == 100) {
            /* Read everything in order while a range waits past it. */
            pdata(&f, (k + 5) * 1448, 1448);
            h_clear(f.h);
            expect_read(&f, 0, (k + 4) * 1448);
            ck_assert_uint_ge(ring_chunks(&f.c->rcvq), 1);
        }
    }
    ck_assert_uint_gt(ring_chunks(&f.c->rcvq), 1);
    static uint8_t buf[sizeof(stream)];
    uint32_t got = 104 * 1448;
    long n;
    while ((n = sk_recv(f.c, buf + got, 5000)) > 0)
        got += (uint32_t)n;
    ck_assert_uint_eq(got, total);
    ck_assert_mem_eq(buf + 104 * 1448, stream + 104 * 1448, total - 104 * 1448);
    ck_assert_uint_eq(ring_chunks(&f.c->rcvq), 0);
    ck_assert_uint_eq(f.h->s->tcp.pool.chunks, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(memory_send_acked)
{
    struct tcp_fx f;
    open_with(&f, NULL, O_SACK | O_TS | O_WS, 1460, 65535, 7);
    uint32_t total = 256 * 1024 + 77;
    ck_assert_int_eq(sk_send(f.c, stream, total), (long)total);
    ck_assert_uint_ge(ring_chunks(&f.c->sndq), total / RING_CHUNK);
    uint32_t end = f.iss + 1;
    for (int round = 0; round < 1000 && end != f.iss + 1 + total; round++) {
        h_flush(f.h);
        for (int k = 0; k < h_ntcp(f.h); k++) {
            struct tcp_seg g = h_out_tcp_at(f.h, k);
            if (seq_gt(g.seq + g.len, end))
                end = g.seq + g.len;
        }
        h_clear(f.h);
        f.ptsval++;
        fx_ack(&f, end);
    }
    ck_assert_uint_eq(end, f.iss + 1 + total);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.unacked, 0);
    ck_assert_uint_eq(i.send_queued, 0);
    ck_assert_uint_eq(ring_chunks(&f.c->sndq), 0);
    ck_assert_uint_eq(f.h->s->tcp.pool.chunks, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_rcv");
    TCase *sack = tcase_create("sack");
    tcase_add_test(sack, sack_one_gap);
    tcase_add_loop_test(sack, sack_gap_patterns, 0, 2);
    tcase_add_test(sack, dupack_per_segment_in_batch);
    tcase_add_test(sack, dsack_below_rcv_nxt);
    tcase_add_test(sack, dsack_inside_ooo_range);
    tcase_add_test(sack, dsack_needs_sack);
    tcase_add_loop_test(sack, options_fit_mtu, 0, (int)(sizeof(mtu_cases) / sizeof(mtu_cases[0])));
    suite_add_tcase(s, sack);
    TCase *ack = tcase_create("delayed_ack");
    tcase_add_loop_test(ack, delack_after_quickacks, 0, 2);
    tcase_add_loop_test(ack, delack_fin_at_once, 0, 2);
    tcase_add_test(ack, delack_ooo_restarts_quickacks);
    tcase_add_test(ack, ack_no_stretch_in_recovery);
    tcase_add_test(ack, duplicate_restarts_quickacks);
    suite_add_tcase(s, ack);
    TCase *win = tcase_create("window");
    tcase_add_loop_test(win, window_never_shrinks, 0,
                        (int)(sizeof(win_cases) / sizeof(win_cases[0])));
    suite_add_tcase(s, win);
    TCase *mem = tcase_create("memory");
    tcase_add_test(mem, memory_receive_drained);
    tcase_add_test(mem, memory_send_acked);
    suite_add_tcase(s, mem);
    return h_run(s);
}
