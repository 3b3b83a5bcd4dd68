/* tcp_fixture.c - see tcp_fixture.h. */
#include "tcp_fixture.h"

#include <check.h>
#include <string.h>

static void fx_stack(struct tcp_fx *f, void (*tweak)(struct sk_config *))
{
    memset(f, 0, sizeof(*f));
    f->h = h_new(tweak);
    h_learn_peer(f->h);
}

void fx_listen(struct tcp_fx *f, void (*tweak)(struct sk_config *), unsigned backlog)
{
    fx_stack(f, tweak);
    f->lport = FX_LPORT;
    f->l = h_listen(f->h, FX_LPORT, backlog);
}

struct tcp_seg fx_syn(struct tcp_fx *f, uint16_t pport, uint32_t pisn, uint16_t wnd, uint16_t mss)
{
    f->pport = pport;
    f->pwnd = wnd;
    f->pts = false; /* h_syn offers no timestamps */
    struct tcp_seg g = h_syn(f->h, pport, f->lport, pisn, wnd, mss);
    f->iss = g.seq;
    f->pseq = pisn + 1;
    f->pack = f->iss + 1;
    return g;
}

struct tcp_seg fx_syn_with(struct tcp_fx *f, uint16_t pport, const struct h_seg *syn)
{
    struct h_seg g = *syn;
    g.sport = pport;
    g.dport = f->lport;
    g.ack = 0;
    g.flags = TCP_SYN;
    f->pport = pport;
    f->pwnd = syn->wnd;
    h_clear(f->h);
    h_send(f->h, &g);
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg sa = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(sa.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(sa.ack, syn->seq + 1);
    f->iss = sa.seq;
    f->pseq = syn->seq + 1;
    f->pack = f->iss + 1;
    f->pts = sa.opt.ts;
    f->ptsval = syn->tsval;
    f->ptsecr = sa.opt.ts ? sa.opt.tsval : 0;
    h_clear(f->h);
    return sa;
}

static void fx_accepted(struct tcp_fx *f)
{
    fx_seg(f, TCP_ACK, NULL, 0);
    f->c = sk_accept(f->l);
    ck_assert_ptr_nonnull(f->c);
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    h_events_of(f->h, f->c);
    h_clear(f->h);
}

void fx_accept_with(struct tcp_fx *f, uint16_t pport, const struct h_seg *syn)
{
    fx_syn_with(f, pport, syn);
    fx_accepted(f);
}

void fx_accept(struct tcp_fx *f, uint16_t pport, uint32_t pisn, uint16_t wnd, uint16_t mss)
{
    fx_syn(f, pport, pisn, wnd, mss);
    fx_accepted(f);
}

void fx_open_passive(struct tcp_fx *f, void (*tweak)(struct sk_config *), uint32_t pisn,
                     uint16_t wnd, uint16_t mss)
{
    fx_listen(f, tweak, 0);
    fx_accept(f, FX_PPORT, pisn, wnd, mss);
}

struct tcp_seg fx_connect(struct tcp_fx *f, void (*tweak)(struct sk_config *))
{
    fx_stack(f, tweak);
    f->lport = FX_CPORT;
    f->pport = FX_RPORT;
    f->pwnd = 65535;
    int err = -1;
    f->c = sk_connect(f->h->s, PEER_IP, FX_RPORT, FX_CPORT, f->h->now, &err);
    ck_assert_ptr_nonnull(f->c);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(sk_conn_state(f->c), SK_SYN_SENT);
    h_flush(f->h);
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(g.flags, TCP_SYN);
    f->iss = g.seq;
    h_clear(f->h);
    return g;
}

void fx_open_active(struct tcp_fx *f, void (*tweak)(struct sk_config *), uint32_t pisn,
                    uint64_t rtt)
{
    fx_connect(f, tweak);
    h_advance(f->h, rtt);
    ck_assert_int_eq(f->h->nout, 0);
    f->pseq = pisn + 1;
    f->pack = f->iss + 1;
    h_send(f->h, &(struct h_seg){.sport = f->pport,
                                 .dport = f->lport,
                                 .seq = pisn,
                                 .ack = f->pack,
                                 .flags = TCP_SYN | TCP_ACK,
                                 .wnd = f->pwnd,
                                 .mss = 1460});
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    h_events_of(f->h, f->c);
    h_clear(f->h);
}

void fx_free(struct tcp_fx *f)
{
    if (f->l)
        sk_close(f->l);
    h_free(f->h);
}

void fx_seg_at(struct tcp_fx *f, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
               size_t len)
{
    h_send(f->h, &(struct h_seg){.sport = f->pport,
                                 .dport = f->lport,
                                 .seq = seq,
                                 .ack = ack,
                                 .flags = flags,
                                 .wnd = f->pwnd,
                                 .data = data,
                                 .len = len,
                                 .ts = f->pts,
                                 .tsval = f->ptsval,
                                 .tsecr = f->ptsecr});
}

void fx_seg(struct tcp_fx *f, uint8_t flags, const void *data, size_t len)
{
    fx_seg_at(f, f->pseq, f->pack, flags, data, len);
    f->pseq += (uint32_t)len + !!(flags & TCP_FIN);
}

void fx_ack(struct tcp_fx *f, uint32_t ack)
{
    f->pack = ack;
    fx_seg(f, TCP_ACK, NULL, 0);
}

void fx_to_state(struct tcp_fx *f, int state)
{
    switch (state) {
    case SK_ESTABLISHED:
        break;
    case SK_FIN_WAIT_1:
        ck_assert_int_eq(sk_shutdown(f->c), 0);
        h_flush(f->h);
        break;
    case SK_FIN_WAIT_2:
        fx_to_state(f, SK_FIN_WAIT_1);
        fx_ack(f, f->iss + 2);
        break;
    case SK_CLOSE_WAIT:
        fx_seg(f, TCP_FIN | TCP_ACK, NULL, 0);
        break;
    case SK_CLOSING:
        fx_to_state(f, SK_FIN_WAIT_1);
        fx_seg(f, TCP_FIN | TCP_ACK, NULL, 0); /* does not ACK our FIN */
        break;
    case SK_LAST_ACK:
        fx_to_state(f, SK_CLOSE_WAIT);
        ck_assert_int_eq(sk_shutdown(f->c), 0);
        h_flush(f->h);
        break;
    case SK_TIME_WAIT:
        fx_to_state(f, SK_FIN_WAIT_2);
        fx_seg(f, TCP_FIN | TCP_ACK, NULL, 0);
        break;
    default:
        ck_abort_msg("no path to %s", sk_state_name(state));
    }
    ck_assert_int_eq(sk_conn_state(f->c), state);
    h_events_of(f->h, f->c);
    h_clear(f->h);
}

struct tcp_seg fx_expect_one(struct tcp_fx *f, uint8_t flags, uint32_t seq, uint32_t ack)
{
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = h_out_tcp_at(f->h, 0);
    ck_assert_uint_eq(g.flags, flags);
    ck_assert_uint_eq(g.seq, seq);
    ck_assert_uint_eq(g.ack, ack);
    ck_assert_uint_eq(g.len, 0);
    h_clear(f->h);
    return g;
}

struct tcp_seg fx_expect_ack(struct tcp_fx *f, uint32_t seq, uint32_t ack)
{
    return fx_expect_one(f, TCP_ACK, seq, ack);
}
