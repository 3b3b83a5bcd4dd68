/* TCP options and per-connection switches: what the SYNs negotiate (RFC
 * 7323 2.2 and 3.2, RFC 2018 2) for passive and active opens and with the
 * stack's switches; window scaling of the fields we send and take;
 * timestamps on every segment and the TS.Recent rule (RFC 7323 4.3); PAWS
 * (RFC 7323 5.3, 5.5); Nagle (RFC 896, RFC 9293 3.7.4, Minshall's form);
 * keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6); sk_conn_set_opts. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "eth.h"
#include "harness.h"
#include "ipv4.h"
#include "seq.h"
#include "tcp_fixture.h"

#define PISN 0x01020304u
#define MS   1000ULL
#define SEC  1000000ULL
#define DAY  (24ULL * 3600 * SEC)

enum { O_SACK = 1, O_TS = 2, O_WS = 4 };

static uint8_t stream[16384];
static void fill_stream(void)
{
    for (uint32_t k = 0; k < sizeof(stream); k++)
        stream[k] = (uint8_t)(k * 7 + 3 + (k >> 9));
}

static void no_sack(struct sk_config *cfg)
{
    cfg->tcp_no_sack = true;
}
static void no_ts(struct sk_config *cfg)
{
    cfg->tcp_no_timestamps = true;
}
static void no_ws(struct sk_config *cfg)
{
    cfg->tcp_no_wscale = true;
}
static void no_options(struct sk_config *cfg)
{
    cfg->tcp_no_sack = cfg->tcp_no_timestamps = cfg->tcp_no_wscale = true;
}
/* The switches, and the option each one takes away. */
static void (*const switch_off[3])(struct sk_config *) = {no_sack, no_ts, no_ws};
static const unsigned switched[3] = {O_SACK, O_TS, O_WS};

/* The TCP header length of the i-th captured frame (we send no IP options). */
static unsigned hdr_len(struct harness *h, int i)
{
    return (unsigned)(h->out[i][ETH_HDR_LEN + IP_HDR_LEN + 12] >> 4) * 4;
}

/* The option bytes of a SYN or SYN-ACK carrying MSS and `m` (Linux's
 * layout: MSS; sackOK and TS together in 12 bytes, or each NOP-padded to
 * 4 and 12; NOP and wscale in 4). */
static unsigned syn_opt_len(unsigned m)
{
    unsigned n = 4;
    if ((m & O_SACK) && (m & O_TS))
        n += 12;
    else if (m & O_SACK)
        n += 4;
    else if (m & O_TS)
        n += 12;
    if (m & O_WS)
        n += 4;
    return n;
}

/* A peer SYN offering the options in m (MSS 1460 always). */
static struct h_seg syn_offer(unsigned m, uint16_t wnd, uint8_t ws, uint32_t tsval)
{
    return (struct h_seg){.seq = PISN,
                          .wnd = wnd,
                          .mss = 1460,
                          .sack_ok = (m & O_SACK) != 0,
                          .has_ws = (m & O_WS) != 0,
                          .ws = ws,
                          .ts = (m & O_TS) != 0,
                          .tsval = tsval};
}

/* Our timestamp clock: TSval = now in ms + a per-connection offset. */
static uint32_t ts_offset_of(uint32_t tsval, uint64_t now)
{
    return tsval - (uint32_t)(now / 1000);
}
static uint32_t ts_at(uint32_t off, uint64_t now)
{
    return (uint32_t)(now / 1000) + off;
}

/* Every option a segment after the SYN must not carry. */
static void expect_no_syn_options(const struct tcp_seg *g)
{
    ck_assert_uint_eq(g->opt.mss, 0);
    ck_assert_int_eq(g->opt.wscale, -1);
    ck_assert(!g->opt.sack_ok);
}

/* An unacceptable (old) empty segment from the peer: answered at once by
 * one ACK (RFC 9293 3.10.7.4 first), which is returned. */
static struct tcp_seg poke(struct tcp_fx *f)
{
    h_clear(f->h);
    fx_seg_at(f, f->pseq - 1, f->pack, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.ack, f->pseq);
    h_clear(f->h);
    return g;
}

/* Takes the connection out of the quick-ACK phase: TCP_QUICKACKS full
 * segments of `len`, each ACKed at once. */
static void use_up_quickacks(struct tcp_fx *f, uint32_t len)
{
    for (int i = 0; i < TCP_QUICKACKS; i++) {
        fx_seg(f, TCP_ACK, stream, len);
        ck_assert_int_eq(h_ntcp(f->h), 1);
        ck_assert_uint_eq(h_out_tcp_at(f->h, 0).ack, f->pseq);
        h_clear(f->h);
    }
}

static void set_opts_ok(sk_conn *c, void (*edit)(struct sk_tcp_opts *))
{
    struct sk_tcp_opts o;
    sk_conn_get_opts(c, &o);
    edit(&o);
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0);
}

/* ==== negotiation: passive opens ==== */

/* Our SYN-ACK answers exactly what the SYN offered, and the connection
 * runs with that (RFC 7323 2.2, 3.2; RFC 2018 2). */
START_TEST(passive_offer_matrix)
{
    unsigned m = (unsigned)_i;
    bool sack = m & O_SACK, ts = m & O_TS, ws = m & O_WS;
    fill_stream();
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    struct h_seg syn = syn_offer(m, 20000, 3, 777);
    struct tcp_seg sa = fx_syn_with(&f, FX_PPORT, &syn);
    ck_assert_uint_eq(sa.opt.mss, 1460);
    ck_assert_int_eq(sa.opt.sack_ok, sack);
    ck_assert_int_eq(sa.opt.ts, ts);
    ck_assert_int_eq(sa.opt.wscale, ws ? 7 : -1); /* 4 MiB: shift 7 */
    ck_assert_uint_eq(sa.opt.nsack, 0);
    ck_assert_uint_eq(hdr_len(f.h, 0), TCP_HDR_LEN + syn_opt_len(m));
    if (ts)
        ck_assert_uint_eq(sa.opt.tsecr, 777); /* echoes the SYN's TSval */
    ck_assert_uint_eq(sa.wnd, 65535);         /* a SYN-ACK's window is never scaled */
    uint32_t off = ts_offset_of(sa.opt.tsval, f.h->now);

    /* The handshake's ACK: its window is the first one scaled. */
    f.ptsval = 778;
    fx_seg(&f, TCP_ACK, NULL, 0);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_int_eq(i.state, SK_ESTABLISHED);
    ck_assert_int_eq(i.sack, sack);
    ck_assert_int_eq(i.timestamps, ts);
    ck_assert_int_eq(i.snd_wscale, ws ? 3 : -1);
    ck_assert_int_eq(i.rcv_wscale, ws ? 7 : -1);
    ck_assert_uint_eq(i.snd_wnd, ws ? 20000u << 3 : 20000u);
    /* The data a full segment holds, as ss's mss: less the 12 bytes of
     * the timestamp option when it is on. */
    ck_assert_uint_eq(i.mss, ts ? 1448 : 1460);

    /* Data from the peer: our ACK's window is its field << our shift. */
    h_advance(f.h, 5 * MS);
    h_clear(f.h);
    f.ptsval = 790;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 1000);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.ack, f.pseq);
    expect_no_syn_options(&a);
    ck_assert_int_eq(a.opt.ts, ts);
    if (ts) {
        ck_assert_uint_eq(a.opt.tsval, ts_at(off, f.h->now));
        ck_assert_uint_eq(a.opt.tsecr, 790);
    }
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq((uint32_t)a.wnd << (ws ? 7 : 0), i.rcv_wnd);
    if (ws) /* the free space, rounded up to the unit (RFC 7323 2.4) */
        ck_assert_uint_eq(a.wnd, (4u * 1024 * 1024 - 1000 + 127) >> 7);
    else /* the edge would move by less than an MSS: it stays (SWS) */
        ck_assert_uint_eq(a.wnd, 65535 - 1000);
    h_clear(f.h);

    /* Our data: an MSS of 1460 holds 1448 bytes beside the timestamps. */
    ck_assert_int_eq(sk_send(f.c, stream, 4000), 4000);
    h_flush(f.h);
    uint32_t per = ts ? 1448 : 1460;
    ck_assert_int_eq(h_ntcp(f.h), 3);
    for (int k = 0; k < 3; k++) {
        struct tcp_seg d = h_out_tcp_at(f.h, k);
        ck_assert_uint_eq(d.seq, f.iss + 1 + k * per);
        ck_assert_uint_eq(d.len, k < 2 ? per : 4000 - 2 * per);
        ck_assert_int_eq(d.opt.ts, ts);
        expect_no_syn_options(&d);
    }
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* With a switch off, the option is not answered even when offered. */
START_TEST(passive_switches)
{
    unsigned off = switched[_i];
    unsigned want = (O_SACK | O_TS | O_WS) & ~off;
    struct tcp_fx f;
    fx_listen(&f, switch_off[_i], 0);
    struct h_seg syn = syn_offer(O_SACK | O_TS | O_WS, 20000, 3, 777);
    struct tcp_seg sa = fx_syn_with(&f, FX_PPORT, &syn);
    ck_assert_int_eq(sa.opt.sack_ok, (want & O_SACK) != 0);
    ck_assert_int_eq(sa.opt.ts, (want & O_TS) != 0);
    ck_assert_int_eq(sa.opt.wscale, (want & O_WS) ? 7 : -1);
    ck_assert_uint_eq(hdr_len(f.h, 0), TCP_HDR_LEN + syn_opt_len(want));
    fx_seg(&f, TCP_ACK, NULL, 0);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_int_eq(i.sack, (want & O_SACK) != 0);
    ck_assert_int_eq(i.timestamps, (want & O_TS) != 0);
    ck_assert_int_eq(i.snd_wscale, (want & O_WS) ? 3 : -1);
    ck_assert_int_eq(i.rcv_wscale, (want & O_WS) ? 7 : -1);
    /* Without scaling the peer's window is taken as it is. */
    ck_assert_uint_eq(i.snd_wnd, (want & O_WS) ? 160000u : 20000u);
    /* And ours is sent unscaled. */
    struct tcp_seg a = poke(&f);
    ck_assert_int_eq(a.opt.ts, (want & O_TS) != 0);
    ck_assert_uint_eq(a.wnd, (want & O_WS) ? (4u << 20) >> 7 : 65535u);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== negotiation: active opens ==== */

START_TEST(active_syn_offers_all)
{
    struct tcp_fx f;
    struct tcp_seg syn = fx_connect(&f, NULL);
    ck_assert_uint_eq(syn.flags, TCP_SYN);
    ck_assert_uint_eq(syn.opt.mss, 1460);
    ck_assert(syn.opt.sack_ok);
    ck_assert(syn.opt.ts);
    ck_assert_uint_eq(syn.opt.tsecr, 0); /* RFC 7323 3.2: nothing to echo yet */
    ck_assert_int_eq(syn.opt.wscale, 7); /* the 4 MiB default buffer */
    ck_assert_uint_eq(syn.wnd, 65535);   /* never scaled on a SYN */
    ck_assert_uint_eq(hdr_len(f.h, 0), TCP_HDR_LEN + 20);
    /* The SYN sent again: same options, TSval from the clock. */
    uint32_t off = ts_offset_of(syn.opt.tsval, f.h->now);
    h_advance(f.h, SEC);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg again = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(again.flags, TCP_SYN);
    ck_assert(again.opt.sack_ok && again.opt.ts);
    ck_assert_int_eq(again.opt.wscale, 7);
    ck_assert_uint_eq(again.opt.tsval, ts_at(off, f.h->now));
    ck_assert_uint_eq(again.opt.tsval, syn.opt.tsval + 1000);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Loop 0..2: one switch off; 3: all three. */
START_TEST(active_syn_switches)
{
    unsigned want = _i < 3 ? (O_SACK | O_TS | O_WS) & ~switched[_i] : 0;
    struct tcp_fx f;
    struct tcp_seg syn = fx_connect(&f, _i < 3 ? switch_off[_i] : no_options);
    ck_assert_uint_eq(syn.opt.mss, 1460);
    ck_assert_int_eq(syn.opt.sack_ok, (want & O_SACK) != 0);
    ck_assert_int_eq(syn.opt.ts, (want & O_TS) != 0);
    ck_assert_int_eq(syn.opt.wscale, (want & O_WS) ? 7 : -1);
    ck_assert_uint_eq(hdr_len(f.h, 0), TCP_HDR_LEN + syn_opt_len(want));
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* The peer's SYN-ACK for an active open offering everything; returns our
 * ACK of it. */
static struct tcp_seg synack_with(struct tcp_fx *f, unsigned m, uint32_t tsecr)
{
    f->pseq = PISN + 1;
    f->pack = f->iss + 1;
    f->pwnd = 20000;
    h_clear(f->h);
    h_send(f->h, &(struct h_seg){.sport = f->pport,
                                 .dport = f->lport,
                                 .seq = PISN,
                                 .ack = f->pack,
                                 .flags = TCP_SYN | TCP_ACK,
                                 .wnd = 20000,
                                 .mss = 1460,
                                 .sack_ok = (m & O_SACK) != 0,
                                 .has_ws = (m & O_WS) != 0,
                                 .ws = 2,
                                 .ts = (m & O_TS) != 0,
                                 .tsval = 555,
                                 .tsecr = tsecr});
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg a = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(a.flags, TCP_ACK);
    ck_assert_uint_eq(a.seq, f->iss + 1);
    ck_assert_uint_eq(a.ack, PISN + 1);
    h_clear(f->h);
    return a;
}

/* The SYN-ACK decides what is on; without wscale both shifts are 0. */
START_TEST(active_synack_matrix)
{
    unsigned m = (unsigned)_i;
    bool sack = m & O_SACK, ts = m & O_TS, ws = m & O_WS;
    fill_stream();
    struct tcp_fx f;
    struct tcp_seg syn = fx_connect(&f, NULL);
    uint32_t off = ts_offset_of(syn.opt.tsval, f.h->now);
    h_advance(f.h, 3 * MS);
    struct tcp_seg a = synack_with(&f, m, syn.opt.tsval);
    expect_no_syn_options(&a);
    ck_assert_int_eq(a.opt.ts, ts);
    if (ts) {
        ck_assert_uint_eq(a.opt.tsval, ts_at(off, f.h->now));
        ck_assert_uint_eq(a.opt.tsecr, 555);
    }
    /* Our window: scaled by 7 only if the SYN-ACK had wscale. */
    ck_assert_uint_eq(a.wnd, ws ? (4u << 20) >> 7 : 65535u);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_int_eq(i.sack, sack);
    ck_assert_int_eq(i.timestamps, ts);
    ck_assert_int_eq(i.snd_wscale, ws ? 2 : -1);
    ck_assert_int_eq(i.rcv_wscale, ws ? 7 : -1);
    ck_assert_uint_eq(i.rcv_wnd, (uint32_t)a.wnd << (ws ? 7 : 0));
    ck_assert_uint_eq(i.snd_wnd, 20000); /* the SYN-ACK's, unscaled */
    /* The next window from the peer is scaled by its shift. */
    f.pts = ts;
    f.ptsval = 556;
    f.ptsecr = a.opt.tsval;
    fx_seg(&f, TCP_ACK, NULL, 0);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_wnd, ws ? 80000u : 20000u);
    /* Data segments: the timestamps take 12 bytes of the MSS. */
    ck_assert_int_eq(sk_send(f.c, stream, 2000), 2000);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 2);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).len, ts ? 1448 : 1460);
    ck_assert_int_eq(h_out_tcp_at(f.h, 1).opt.ts, ts);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* A SYN-ACK with an option our SYN did not offer does not turn it on. */
START_TEST(active_synack_unoffered_ignored)
{
    unsigned want = (O_SACK | O_TS | O_WS) & ~switched[_i];
    struct tcp_fx f;
    struct tcp_seg syn = fx_connect(&f, switch_off[_i]);
    struct tcp_seg a = synack_with(&f, O_SACK | O_TS | O_WS, syn.opt.tsval);
    ck_assert_int_eq(a.opt.ts, (want & O_TS) != 0);
    ck_assert_uint_eq(a.wnd, (want & O_WS) ? (4u << 20) >> 7 : 65535u);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_int_eq(i.sack, (want & O_SACK) != 0);
    ck_assert_int_eq(i.timestamps, (want & O_TS) != 0);
    ck_assert_int_eq(i.snd_wscale, (want & O_WS) ? 2 : -1);
    ck_assert_int_eq(i.rcv_wscale, (want & O_WS) ? 7 : -1);
    f.pts = (want & O_TS) != 0;
    f.ptsval = 556;
    fx_seg(&f, TCP_ACK, NULL, 0);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_wnd, (want & O_WS) ? 80000u : 20000u);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* The receive buffer decides the shift our SYN offers: the smallest that
 * lets the window cover the buffer (RFC 7323 2.3). */
static const struct {
    uint32_t rcvbuf;
    int wscale;
} wscale_table[] = {
    {1024, 0},     {65535, 0},    {65536, 1},
    {131070, 1},   {131071, 2},   {1u << 20, 5},
    {4u << 20, 7}, {8u << 20, 8}, {(1u << 30) - (1u << 14), 14},
};

START_TEST(active_rcvbuf_decides_wscale)
{
    uint32_t rcvbuf = wscale_table[_i].rcvbuf;
    struct tcp_fx f;
    fx_listen(&f, NULL, 0); /* a stack (the listener is unused) */
    int err = -1;
    sk_conn *c = sk_connect(f.h->s, PEER_IP, FX_RPORT, FX_CPORT, f.h->now, &err);
    ck_assert_ptr_nonnull(c);
    struct sk_tcp_opts o;
    sk_conn_get_opts(c, &o);
    o.rcvbuf = rcvbuf;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg syn = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(syn.flags, TCP_SYN);
    ck_assert_int_eq(syn.opt.wscale, wscale_table[_i].wscale);
    ck_assert_uint_eq(syn.wnd, rcvbuf < 65535 ? rcvbuf : 65535);
    sk_conn_get_opts(c, &o);
    ck_assert_uint_eq(o.rcvbuf, rcvbuf);
    /* Once the SYN is out, the buffers are fixed. */
    o.rcvbuf = rcvbuf == 65535 ? 65536 : 65535;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), -SK_EINVAL);
    sk_conn_get_opts(c, &o);
    ck_assert_uint_eq(o.rcvbuf, rcvbuf);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

/* ==== timestamps (RFC 7323 3, 4) ==== */

/* A passive open with everything on; returns our TS clock offset. */
static uint32_t open_all(struct tcp_fx *f, uint32_t tsval)
{
    fill_stream();
    fx_listen(f, NULL, 0);
    struct h_seg syn = syn_offer(O_SACK | O_TS | O_WS, 65535, 7, tsval);
    struct tcp_seg sa = fx_syn_with(f, FX_PPORT, &syn);
    ck_assert(sa.opt.ts);
    uint32_t off = ts_offset_of(sa.opt.tsval, f->h->now);
    fx_seg(f, TCP_ACK, NULL, 0);
    f->c = sk_accept(f->l);
    ck_assert_ptr_nonnull(f->c);
    h_events_of(f->h, f->c);
    h_clear(f->h);
    return off;
}

/* Every segment carries TS: TSval from a 1 ms clock, TSecr = TS.Recent. */
START_TEST(ts_on_every_segment)
{
    struct tcp_fx f;
    uint32_t off = open_all(&f, 100);
    /* The clock ticks in milliseconds. */
    h_advance(f.h, 999);
    struct tcp_seg a = poke(&f);
    ck_assert_uint_eq(a.opt.tsval, ts_at(off, f.h->now));
    ck_assert_uint_eq(a.opt.tsecr, 100);
    uint32_t v0 = a.opt.tsval;
    h_advance(f.h, 1);
    ck_assert_uint_eq(poke(&f).opt.tsval, v0 + 1);
    h_advance(f.h, 2500 * MS);
    ck_assert_uint_eq(poke(&f).opt.tsval, v0 + 2501);

    /* ACK of data. */
    f.ptsval = 200;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    a = h_out_tcp_at(f.h, 0);
    ck_assert(a.opt.ts);
    ck_assert_uint_eq(a.opt.tsval, ts_at(off, f.h->now));
    ck_assert_uint_eq(a.opt.tsecr, 200);
    h_clear(f.h);

    /* A duplicate ACK for out-of-order data: TS and SACK. */
    f.ptsval = 201;
    fx_seg_at(&f, f.pseq + 1000, f.pack, TCP_ACK, stream, 100);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    a = h_out_tcp_at(f.h, 0);
    ck_assert(a.opt.ts);
    ck_assert_uint_eq(a.opt.tsecr, 200); /* not covering our last ACK: TS.Recent stays */
    ck_assert_uint_eq(a.opt.nsack, 1);
    h_clear(f.h);

    /* Data and the FIN. */
    h_advance(f.h, 7 * MS);
    ck_assert_int_eq(sk_send(f.c, stream, 3000), 3000);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 3);
    for (int k = 0; k < 3; k++) {
        struct tcp_seg d = h_out_tcp_at(f.h, k);
        ck_assert(d.opt.ts);
        ck_assert_uint_eq(d.opt.tsval, ts_at(off, f.h->now));
        ck_assert_uint_eq(d.opt.tsecr, 200);
        ck_assert_uint_eq(d.len, k < 2 ? 1448 : 3000 - 2 * 1448);
        expect_no_syn_options(&d);
    }
    ck_assert(h_out_tcp_at(f.h, 2).flags & TCP_FIN);
    /* Sent again by a timer: a fresh TSval. */
    h_clear(f.h);
    h_advance(f.h, 1 * SEC);
    ck_assert_int_ge(h_ntcp(f.h), 1);
    for (int k = 0; k < h_ntcp(f.h); k++) {
        struct tcp_seg r = h_out_tcp_at(f.h, k);
        ck_assert(r.opt.ts);
        ck_assert_uint_eq(r.opt.tsval, ts_at(off, f.h->now));
        ck_assert_uint_eq(r.opt.tsecr, 200);
    }
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* A connection without timestamps never sends them. */
START_TEST(ts_never_without)
{
    fill_stream();
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    struct h_seg syn = syn_offer(O_SACK | O_WS, 65535, 7, 0);
    fx_accept_with(&f, FX_PPORT, &syn);
    ck_assert(!f.pts);
    int n = 0;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    fx_seg_at(&f, f.pseq + 1000, f.pack, TCP_ACK, stream, 100);
    n += h_ntcp(f.h);
    for (int k = 0; k < h_ntcp(f.h); k++)
        ck_assert(!h_out_tcp_at(f.h, k).opt.ts);
    h_clear(f.h);
    ck_assert_int_eq(sk_send(f.c, stream, 3000), 3000);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    h_flush(f.h);
    h_advance(f.h, 1 * SEC);
    n += h_ntcp(f.h);
    for (int k = 0; k < h_ntcp(f.h); k++) {
        struct tcp_seg d = h_out_tcp_at(f.h, k);
        ck_assert(!d.opt.ts);
        if (k < 2)
            ck_assert_uint_eq(d.len, 1460);
    }
    ck_assert_int_ge(n, 6);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* RFC 7323 4.3: TS.Recent is the TSval of the segment that covered our
 * last ACK: with a delayed ACK, the earliest unacknowledged segment's
 * (case A); across a hole, not the out-of-order segment's, until the
 * segment that fills the hole (case C). */
START_TEST(ts_recent_rule)
{
    struct tcp_fx f;
    open_all(&f, 100);
    f.ptsval = 100;
    use_up_quickacks(&f, 1448);
    /* Case A: two segments, one ACK, echoing the first's TSval. */
    f.ptsval = 500;
    fx_seg(&f, TCP_ACK, stream, 1448);
    ck_assert_int_eq(f.h->nout, 0); /* delayed */
    f.ptsval = 501;
    fx_seg(&f, TCP_ACK, stream, 1448);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.ack, f.pseq);
    ck_assert_uint_eq(a.opt.tsecr, 500);
    h_clear(f.h);
    /* Case C: a hole.  The out-of-order segment's TSval is not taken. */
    uint32_t hole = f.pseq;
    f.ptsval = 600;
    fx_seg_at(&f, hole + 1448, f.pack, TCP_ACK, stream, 1448);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.ack, hole);
    ck_assert_uint_eq(a.opt.tsecr, 500);
    h_clear(f.h);
    /* The segment that fills it is echoed. */
    f.ptsval = 700;
    fx_seg_at(&f, hole, f.pack, TCP_ACK, stream, 1448);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.ack, hole + 2 * 1448);
    ck_assert_uint_eq(a.opt.tsecr, 700);
    h_clear(f.h);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== PAWS (RFC 7323 5.3) ==== */

START_TEST(paws_drops_old_timestamp)
{
    struct tcp_fx f;
    open_all(&f, 1000);
    uint64_t paws0 = sk_counters(f.h->s)->drop_tcp_paws;
    f.ptsval = 1000;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    h_clear(f.h);
    /* Older than TS.Recent: dropped, answered by an ACK, not delivered. */
    f.ptsval = 999;
    fx_seg_at(&f, f.pseq, f.pack, TCP_ACK | TCP_PSH, stream + 100, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, paws0 + 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.flags, TCP_ACK);
    ck_assert_uint_eq(a.ack, f.pseq); /* not past the dropped data */
    ck_assert_uint_eq(a.opt.tsecr, 1000);
    h_clear(f.h);
    uint8_t buf[512];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    ck_assert_mem_eq(buf, stream, 100);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), -SK_EAGAIN);
    /* The same data with a current TSval is taken. */
    f.ptsval = 1001;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream + 100, 100);
    ck_assert_uint_eq(h_last_tcp(f.h).ack, f.pseq);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    ck_assert_mem_eq(buf, stream + 100, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, paws0 + 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Timestamps compare modulo 2^32 (RFC 7323 5.2). */
START_TEST(paws_across_wrap)
{
    struct tcp_fx f;
    open_all(&f, 0xFFFFFF00u);
    uint8_t buf[512];
    f.ptsval = 0x00000010u; /* newer, across the wrap */
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    ck_assert_uint_eq(h_last_tcp(f.h).ack, f.pseq);
    ck_assert_uint_eq(h_last_tcp(f.h).opt.tsecr, 0x10);
    h_clear(f.h);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    f.ptsval = 0xFFFFFF80u; /* older */
    fx_seg_at(&f, f.pseq, f.pack, TCP_ACK | TCP_PSH, stream, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, 1);
    ck_assert_uint_eq(h_last_tcp(f.h).ack, f.pseq);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), -SK_EAGAIN);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* RFC 7323 5.3 R1 leaves RSTs out of PAWS: an RST with an old TSval
 * still resets (its sequence number protects it, RFC 5961). */
START_TEST(paws_spares_rst)
{
    struct tcp_fx f;
    open_all(&f, 1000);
    f.ptsval = 2000;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    h_clear(f.h);
    f.ptsval = 10;
    fx_seg(&f, TCP_RST, NULL, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    ck_assert(h_events_of(f.h, f.c) & SK_EV_ERROR);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

/* RFC 7323 5.5: after 24 days idle TS.Recent is no longer valid: an old
 * TSval is accepted. */
START_TEST(paws_idle_24_days)
{
    struct tcp_fx f;
    open_all(&f, 1000);
    uint8_t buf[512];
    f.ptsval = 50000;
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 100);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    h_clear(f.h);
    /* Just under 24 days: still dropped.  (The ARP entry of the peer
     * expired meanwhile: it is learnt again, so our segments go at once.) */
    h_advance(f.h, 24 * DAY - SEC);
    ck_assert_int_eq(f.h->nout, 0);
    h_learn_peer(f.h);
    f.ptsval = 40000;
    fx_seg_at(&f, f.pseq, f.pack, TCP_ACK | TCP_PSH, stream + 100, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, 1);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), -SK_EAGAIN);
    h_clear(f.h);
    /* Past 24 days since TS.Recent was taken: accepted. */
    h_advance(f.h, 2 * SEC);
    fx_seg(&f, TCP_ACK | TCP_PSH, stream + 100, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, 1);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    ck_assert_mem_eq(buf, stream + 100, 100);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg a = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(a.ack, f.pseq);
    ck_assert_uint_eq(a.flags, TCP_ACK);
    h_clear(f.h);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== Nagle (RFC 896, RFC 9293 3.7.4; Minshall's variant) ==== */

static void open_plain(struct tcp_fx *f)
{
    fill_stream();
    fx_open_passive(f, NULL, PISN, 65535, 1460);
}

START_TEST(nagle_small_writes_wait_for_ack)
{
    struct tcp_fx f;
    open_plain(&f);
    ck_assert_int_eq(sk_send(f.c, "a", 1), 1);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 1);
    h_clear(f.h);
    /* A small segment is unacknowledged: later small writes wait. */
    ck_assert_int_eq(sk_send(f.c, "b", 1), 1);
    h_flush(f.h);
    ck_assert_int_eq(sk_send(f.c, "c", 1), 1);
    h_flush(f.h);
    ck_assert_int_eq(sk_send(f.c, "d", 1), 1);
    h_flush(f.h);
    h_advance(f.h, 100 * MS);
    ck_assert_int_eq(f.h->nout, 0);
    /* Its ACK lets them go, as one segment. */
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    ck_assert_uint_eq(g.len, 3);
    ck_assert_mem_eq(g.data, "bcd", 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(nagle_tail_of_large_write_goes)
{
    struct tcp_fx f;
    open_plain(&f);
    ck_assert_int_eq(sk_send(f.c, stream, 3000), 3000);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 3);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).len, 1460);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 1).len, 1460);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 2).len, 80); /* the tail, at once */
    h_clear(f.h);
    /* That tail is a small segment in flight: a small write waits for it. */
    ck_assert_int_eq(sk_send(f.c, "xyz", 3), 3);
    h_flush(f.h);
    ck_assert_int_eq(f.h->nout, 0);
    fx_ack(&f, f.iss + 1 + 2920); /* the tail not yet */
    ck_assert_int_eq(f.h->nout, 0);
    fx_ack(&f, f.iss + 1 + 3000);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 3001);
    ck_assert_mem_eq(g.data, "xyz", 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void edit_nodelay(struct sk_tcp_opts *o)
{
    o->nodelay = true;
}

START_TEST(nagle_off_with_nodelay)
{
    struct tcp_fx f;
    open_plain(&f);
    set_opts_ok(f.c, edit_nodelay);
    struct sk_tcp_opts o;
    sk_conn_get_opts(f.c, &o);
    ck_assert(o.nodelay);
    const char *w = "abc";
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(sk_send(f.c, w + k, 1), 1);
        h_flush(f.h);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        struct tcp_seg g = h_out_tcp_at(f.h, 0);
        ck_assert_uint_eq(g.seq, f.iss + 1 + k);
        ck_assert_uint_eq(g.len, 1);
        ck_assert_uint_eq(g.data[0], (uint8_t)w[k]);
        h_clear(f.h);
    }
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== keep-alive (RFC 9293 3.8.4, RFC 1122 4.2.3.6) ==== */

START_TEST(keepalive_off_by_default)
{
    struct tcp_fx f;
    open_plain(&f);
    struct sk_tcp_opts o;
    sk_conn_get_opts(f.c, &o);
    ck_assert_uint_eq(o.keepalive_idle_ms, 0);
    for (int k = 0; k < 10; k++)
        h_advance(f.h, 3600 * SEC);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_keepalive_probes, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void edit_ka(struct sk_tcp_opts *o)
{
    o->keepalive_idle_ms = 10000;
    o->keepalive_intvl_ms = 2000;
    o->keepalive_count = 3;
}

/* Exactly one keep-alive probe went out: <SEQ=SND.UNA-1><ACK=RCV.NXT>,
 * no data (RFC 1122 4.2.3.6). */
static void expect_probe(struct tcp_fx *f, uint32_t snd_una, uint64_t probes)
{
    fx_expect_ack(f, snd_una - 1, f->pseq);
    ck_assert_uint_eq(sk_counters(f->h->s)->tcp_keepalive_probes, probes);
}

START_TEST(keepalive_probes_then_abort)
{
    struct tcp_fx f;
    open_plain(&f);
    set_opts_ok(f.c, edit_ka);
    h_advance(f.h, 10 * SEC - 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    expect_probe(&f, f.iss + 1, 1);
    for (uint64_t p = 2; p <= 3; p++) {
        h_advance(f.h, 2 * SEC - 1);
        ck_assert_int_eq(f.h->nout, 0);
        h_advance(f.h, 1);
        expect_probe(&f, f.iss + 1, p);
    }
    h_advance(f.h, 2 * SEC - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_int_eq(h_ntcp(f.h), 0);
    h_advance(f.h, 1);
    /* Three probes unanswered: the connection is aborted. */
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ETIMEDOUT);
    ck_assert(h_events_of(f.h, f.c) & SK_EV_ERROR);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_keepalive_probes, 3);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_keepalive, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_timeout, 0);
    h_clear(f.h);
    h_advance(f.h, 60 * SEC);
    ck_assert_int_eq(h_ntcp(f.h), 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

/* Any segment from the peer restarts the idle time and the count. */
START_TEST(keepalive_peer_resets_count)
{
    struct tcp_fx f;
    open_plain(&f);
    set_opts_ok(f.c, edit_ka);
    /* Data at 5 s: the first probe comes 10 s after it. */
    h_advance(f.h, 5 * SEC);
    fx_seg(&f, TCP_ACK | TCP_PSH, stream, 10);
    h_clear(f.h);
    h_advance(f.h, 10 * SEC - 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    expect_probe(&f, f.iss + 1, 1);
    h_advance(f.h, 2 * SEC);
    expect_probe(&f, f.iss + 1, 2);
    /* The peer answers 1 s later: idle again from there. */
    h_advance(f.h, 1 * SEC);
    fx_ack(&f, f.iss + 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 10 * SEC - 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    expect_probe(&f, f.iss + 1, 3);
    /* And it takes three new probes to give up. */
    h_advance(f.h, 2 * SEC);
    expect_probe(&f, f.iss + 1, 4);
    h_advance(f.h, 2 * SEC);
    expect_probe(&f, f.iss + 1, 5);
    h_advance(f.h, 2 * SEC - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    h_advance(f.h, 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ETIMEDOUT);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_keepalive, 1);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

static void edit_ka_short(struct sk_tcp_opts *o)
{
    o->keepalive_idle_ms = 2000;
    o->keepalive_intvl_ms = 1000;
    o->keepalive_count = 2;
}

/* With data in flight the retransmission timer watches the peer. */
START_TEST(keepalive_not_with_data_in_flight)
{
    struct tcp_fx f;
    open_plain(&f);
    set_opts_ok(f.c, edit_ka_short);
    ck_assert_int_eq(sk_send(f.c, stream, 100), 100);
    h_flush(f.h);
    for (int k = 0; k < 200; k++) {
        h_advance(f.h, 100 * MS);
        for (int i = 0; i < h_ntcp(f.h); i++)
            ck_assert_uint_eq(h_out_tcp_at(f.h, i).len, 100); /* retransmissions only */
        h_clear(f.h);
    }
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_keepalive_probes, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* All acknowledged: idle from the ACK on. */
    fx_ack(&f, f.iss + 101);
    h_clear(f.h);
    h_advance(f.h, 2 * SEC - 1);
    ck_assert_int_eq(h_ntcp(f.h), 0);
    h_advance(f.h, 1);
    expect_probe(&f, f.iss + 101, 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void edit_listener(struct sk_tcp_opts *o)
{
    o->nodelay = true;
    o->keepalive_idle_ms = 5000;
    o->keepalive_intvl_ms = 1000;
    o->keepalive_count = 2;
    o->rcvbuf = 1u << 20;
    o->sndbuf = 65536;
}

/* A listener's options pass on to the connections it accepts. */
START_TEST(listener_options_pass_on)
{
    fill_stream();
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    set_opts_ok(f.l, edit_listener);
    struct h_seg syn = syn_offer(O_WS, 65535, 0, 0);
    struct tcp_seg sa = fx_syn_with(&f, FX_PPORT, &syn);
    ck_assert_int_eq(sa.opt.wscale, 5); /* 1 MiB */
    fx_seg(&f, TCP_ACK, NULL, 0);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    h_clear(f.h);
    struct sk_tcp_opts o;
    sk_conn_get_opts(f.c, &o);
    ck_assert(o.nodelay);
    ck_assert_uint_eq(o.keepalive_idle_ms, 5000);
    ck_assert_uint_eq(o.keepalive_intvl_ms, 1000);
    ck_assert_uint_eq(o.keepalive_count, 2);
    ck_assert_uint_eq(o.rcvbuf, 1u << 20);
    ck_assert_uint_eq(o.sndbuf, 65536);
    ck_assert_uint_eq(sk_send_space(f.c), 65536);
    /* nodelay: two small writes without an ACK between them. */
    ck_assert_int_eq(sk_send(f.c, "a", 1), 1);
    h_flush(f.h);
    ck_assert_int_eq(sk_send(f.c, "b", 1), 1);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 2);
    fx_ack(&f, f.iss + 3);
    h_clear(f.h);
    /* Keep-alive: 5 s after the peer's last segment. */
    h_advance(f.h, 5 * SEC - 1);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    expect_probe(&f, f.iss + 3, 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ==== sk_conn_set_opts ==== */

START_TEST(set_opts_buffers_before_syn_only)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    int err = -1;
    sk_conn *c = sk_connect(f.h->s, PEER_IP, FX_RPORT, FX_CPORT, f.h->now, &err);
    ck_assert_ptr_nonnull(c);
    struct sk_tcp_opts o;
    sk_conn_get_opts(c, &o);
    ck_assert_uint_eq(o.rcvbuf, 4u << 20);
    ck_assert_uint_eq(o.sndbuf, 4u << 20);
    o.rcvbuf = 65535;
    o.sndbuf = 2048;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0);
    ck_assert_uint_eq(sk_send_space(c), 2048);
    h_flush(f.h);
    struct tcp_seg syn = h_out_tcp_at(f.h, 0);
    ck_assert_int_eq(syn.opt.wscale, 0);
    ck_assert_uint_eq(syn.wnd, 65535);
    /* After the SYN: sizes refused, the rest still taken. */
    o.sndbuf = 4096;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), -SK_EINVAL);
    o.sndbuf = 2048;
    o.rcvbuf = 1 << 20;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), -SK_EINVAL);
    o.rcvbuf = 65535;
    o.nodelay = true;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0);
    sk_conn_get_opts(c, &o);
    ck_assert_uint_eq(o.rcvbuf, 65535);
    ck_assert_uint_eq(o.sndbuf, 2048);
    ck_assert(o.nodelay);
    ck_assert_uint_eq(sk_send_space(c), 2048);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(set_opts_passive_sizes)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    struct sk_tcp_opts o;
    sk_conn_get_opts(f.l, &o);
    o.rcvbuf = 65535;
    ck_assert_int_eq(sk_conn_set_opts(f.l, &o), 0);
    struct h_seg syn = syn_offer(O_WS, 65535, 0, 0);
    struct tcp_seg sa = fx_syn_with(&f, FX_PPORT, &syn);
    ck_assert_int_eq(sa.opt.wscale, 0);
    fx_seg(&f, TCP_ACK, NULL, 0);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    sk_conn_get_opts(f.c, &o);
    ck_assert_uint_eq(o.rcvbuf, 65535);
    o.rcvbuf = 1 << 20;
    ck_assert_int_eq(sk_conn_set_opts(f.c, &o), -SK_EINVAL);
    /* The listener can still change what its next children get. */
    sk_conn_get_opts(f.l, &o);
    o.rcvbuf = 1 << 20;
    ck_assert_int_eq(sk_conn_set_opts(f.l, &o), 0);
    sa = fx_syn_with(&f, FX_PPORT + 1, &syn);
    ck_assert_int_eq(sa.opt.wscale, 5);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static const struct {
    const char *what;
    uint32_t sndbuf, rcvbuf, idle, intvl, count;
    int cc;
} bad_opts[] = {
    {"rcvbuf below 1024", 0, 1023, 0, 0, 0, 0},
    {"rcvbuf above 1 GiB", 0, (1u << 30) + 1, 0, 0, 0, 0},
    {"sndbuf below 1024", 1000, 0, 0, 0, 0, 0},
    {"sndbuf above 1 GiB", (1u << 30) + 1, 0, 0, 0, 0, 0},
    {"cc unknown", 0, 0, 0, 0, 0, SK_CC_COUNT},
    {"cc negative", 0, 0, 0, 0, 0, -1},
    {"keep-alive idle above 7 days", 0, 0, 7 * 86400000u + 1, 1000, 3, 0},
    {"keep-alive interval above a day", 0, 0, 1000, 86400000u + 1, 3, 0},
    {"keep-alive count above 1000", 0, 0, 1000, 1000, 1001, 0},
};

static bool opts_eq(const struct sk_tcp_opts *a, const struct sk_tcp_opts *b)
{
    return a->sndbuf == b->sndbuf && a->rcvbuf == b->rcvbuf && a->nodelay == b->nodelay &&
           a->keepalive_idle_ms == b->keepalive_idle_ms &&
           a->keepalive_intvl_ms == b->keepalive_intvl_ms &&
           a->keepalive_count == b->keepalive_count && a->cc == b->cc;
}

START_TEST(set_opts_bad_values)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    int err = -1;
    sk_conn *c = sk_connect(f.h->s, PEER_IP, FX_RPORT, FX_CPORT, f.h->now, &err);
    ck_assert_ptr_nonnull(c);
    struct sk_tcp_opts before, o;
    sk_conn_get_opts(c, &before);
    ck_assert_int_eq(sk_conn_set_opts(c, NULL), -SK_EINVAL);
    for (size_t k = 0; k < sizeof(bad_opts) / sizeof(bad_opts[0]); k++) {
        o = before;
        if (bad_opts[k].sndbuf)
            o.sndbuf = bad_opts[k].sndbuf;
        if (bad_opts[k].rcvbuf)
            o.rcvbuf = bad_opts[k].rcvbuf;
        o.keepalive_idle_ms = bad_opts[k].idle;
        o.keepalive_intvl_ms = bad_opts[k].intvl;
        o.keepalive_count = bad_opts[k].count;
        o.cc = bad_opts[k].cc;
        ck_assert_msg(sk_conn_set_opts(c, &o) == -SK_EINVAL, "%s accepted", bad_opts[k].what);
        sk_conn_get_opts(c, &o);
        ck_assert_msg(opts_eq(&o, &before), "%s changed the options", bad_opts[k].what);
    }
    /* The bounds themselves are fine. */
    o = before;
    o.rcvbuf = 1024;
    o.sndbuf = 1u << 30;
    o.keepalive_idle_ms = 7 * 86400000u;
    o.keepalive_intvl_ms = 86400000u;
    o.keepalive_count = 1000;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0);
    h_flush(f.h);
    ck_assert_int_eq(h_out_tcp_at(f.h, 0).opt.wscale, 0);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).wnd, 1024);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_options");
    TCase *neg = tcase_create("negotiation");
    tcase_add_loop_test(neg, passive_offer_matrix, 0, 8);
    tcase_add_loop_test(neg, passive_switches, 0, 3);
    tcase_add_test(neg, active_syn_offers_all);
    tcase_add_loop_test(neg, active_syn_switches, 0, 4);
    tcase_add_loop_test(neg, active_synack_matrix, 0, 8);
    tcase_add_loop_test(neg, active_synack_unoffered_ignored, 0, 3);
    tcase_add_loop_test(neg, active_rcvbuf_decides_wscale, 0,
                        (int)(sizeof(wscale_table) / sizeof(wscale_table[0])));
    suite_add_tcase(s, neg);
    TCase *ts = tcase_create("timestamps");
    tcase_add_test(ts, ts_on_every_segment);
    tcase_add_test(ts, ts_never_without);
    tcase_add_test(ts, ts_recent_rule);
    tcase_add_test(ts, paws_drops_old_timestamp);
    tcase_add_test(ts, paws_across_wrap);
    tcase_add_test(ts, paws_spares_rst);
    tcase_add_test(ts, paws_idle_24_days);
    suite_add_tcase(s, ts);
    TCase *nagle = tcase_create("nagle");
    tcase_add_test(nagle, nagle_small_writes_wait_for_ack);
    tcase_add_test(nagle, nagle_tail_of_large_write_goes);
    tcase_add_test(nagle, nagle_off_with_nodelay);
    suite_add_tcase(s, nagle);
    TCase *ka = tcase_create("keepalive");
    tcase_add_test(ka, keepalive_off_by_default);
    tcase_add_test(ka, keepalive_probes_then_abort);
    tcase_add_test(ka, keepalive_peer_resets_count);
    tcase_add_test(ka, keepalive_not_with_data_in_flight);
    tcase_add_test(ka, listener_options_pass_on);
    suite_add_tcase(s, ka);
    TCase *so = tcase_create("set_opts");
    tcase_add_test(so, set_opts_buffers_before_syn_only);
    tcase_add_test(so, set_opts_passive_sizes);
    tcase_add_test(so, set_opts_bad_values);
    suite_add_tcase(s, so);
    return h_run(s);
}
