/* Opening connections (RFC 9293 3.5, 3.10.7.1-3.10.7.3): passive, active
 * and simultaneous opens, refusals, RSTs from closed ports and listeners,
 * the MSS option, and the listener's bounded queues.  Segment in, segment
 * out, with a fixed clock and a fixed ISN key. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define LPORT FX_LPORT /* our listener */
#define PPORT FX_PPORT /* the peer's port */
#define PISN  3136640809u

/* ---- helpers ---- */

static void peer(struct harness *h, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
                 const void *data, size_t len)
{
    h_send(h, &(struct h_seg){.sport = sport,
                              .dport = LPORT,
                              .seq = seq,
                              .ack = ack,
                              .flags = flags,
                              .wnd = 65535,
                              .data = data,
                              .len = len});
}

/* The peer at sport sends a SYN (with MSS 1460); returns our ISS from the
 * SYN-ACK, after checking it. */
static uint32_t syn_from(struct harness *h, uint16_t sport, uint32_t isn)
{
    return h_syn(h, sport, LPORT, isn, 65535, 1460).seq;
}

/* ---- passive open ---- */

START_TEST(passive_open_and_data)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, 5050, 0, &err);
    ck_assert_ptr_nonnull(l);
    h_send(h, &(struct h_seg){.sport = 60118,
                              .dport = 5050,
                              .seq = 3136640809u,
                              .flags = TCP_SYN,
                              .wnd = 65535,
                              .mss = 1460});
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, 3136640810u); /* ack = ISN + 1 */
    ck_assert_uint_eq(g.opt.mss, 1460);
    uint32_t iss = g.seq;
    h_clear(h);
    h_send(h, &(struct h_seg){.sport = 60118,
                              .dport = 5050,
                              .seq = 3136640810u,
                              .ack = iss + 1,
                              .flags = TCP_ACK | TCP_PSH,
                              .wnd = 65535,
                              .data = "hi\n",
                              .len = 3});
    sk_conn *c = sk_accept(l);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    char buf[16];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 3);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.ack, 3136640813u);
    sk_close(c);
    sk_close(l);
    h_free(h);
}
END_TEST

START_TEST(passive_open)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    ck_assert_uint_eq(h_events_of(f.h, f.l), 0);

    h_send(f.h, &(struct h_seg){.sport = PPORT,
                                .dport = LPORT,
                                .seq = PISN,
                                .flags = TCP_SYN,
                                .wnd = 65535,
                                .mss = 1460});
    uint32_t want_iss = tcp_isn(f.h->s, US_IP, LPORT, PEER_IP, PPORT);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.sport, LPORT);
    ck_assert_uint_eq(g.dport, PPORT);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.seq, want_iss); /* RFC 6528 ISN */
    ck_assert_uint_eq(g.ack, PISN + 1);
    ck_assert_uint_eq(g.opt.mss, 1460); /* 1500 - 40 */
    ck_assert_uint_eq(g.wnd, 65535);
    ck_assert_uint_eq(g.len, 0);
    /* Half-open: nothing to accept, no event yet. */
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_uint_eq(h_events_of(f.h, f.l), 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_passive_opens, 1);

    h_clear(f.h);
    peer(f.h, PPORT, PISN + 1, want_iss + 1, TCP_ACK, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0); /* a bare ACK is not answered */
    ck_assert_uint_eq(h_events_of(f.h, f.l), SK_EV_ACCEPT);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    ck_assert_int_eq(sk_conn_error(c), 0);
    ck_assert_uint_eq(h_events_of(f.h, c), SK_EV_WRITABLE);
    uint32_t la, ra;
    uint16_t lp, rp;
    sk_conn_endpoints(c, &la, &lp, &ra, &rp);
    ck_assert_uint_eq(la, US_IP);
    ck_assert_uint_eq(lp, LPORT);
    ck_assert_uint_eq(ra, PEER_IP);
    ck_assert_uint_eq(rp, PPORT);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert_uint_eq(i.iss, want_iss);
    ck_assert_uint_eq(i.irs, PISN);
    ck_assert_uint_eq(i.snd_una, want_iss + 1);
    ck_assert_uint_eq(i.snd_nxt, want_iss + 1);
    ck_assert_uint_eq(i.rcv_nxt, PISN + 1);
    ck_assert_uint_eq(i.snd_wnd, 65535);
    ck_assert_uint_eq(i.mss, 1460);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_established, 1);
    sk_close(c);
    fx_free(&f);
}
END_TEST

/* ---- active open ---- */

START_TEST(active_open)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err = -1;
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(sk_conn_state(c), SK_SYN_SENT);
    ck_assert_int_eq(h->nout, 0); /* nothing until the flush */
    sk_flush(h->s, h->now);
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    uint32_t iss = tcp_isn(h->s, US_IP, 40001, PEER_IP, 80);
    ck_assert_uint_eq(g.flags, TCP_SYN);
    ck_assert_uint_eq(g.seq, iss);
    ck_assert_uint_eq(g.ack, 0);
    ck_assert_uint_eq(g.sport, 40001);
    ck_assert_uint_eq(g.dport, 80);
    ck_assert_uint_eq(g.opt.mss, 1460);
    ck_assert_uint_eq(g.wnd, 65535);
    ck_assert_uint_eq(sk_counters(h->s)->tcp_active_opens, 1);
    ck_assert_int_eq(sk_send(c, "early", 5), 5); /* queued until ESTABLISHED */
    sk_flush(h->s, h->now);
    ck_assert_int_eq(h->nout, 1);

    h_clear(h);
    h_send(h, &(struct h_seg){.sport = 80,
                              .dport = 40001,
                              .seq = 7000,
                              .ack = iss + 1,
                              .flags = TCP_SYN | TCP_ACK,
                              .wnd = 30000,
                              .mss = 1200});
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    ck_assert_uint_eq(h_events_of(h, c), SK_EV_CONNECTED | SK_EV_WRITABLE);
    /* The ACK of the handshake carries the data queued before. */
    ck_assert_int_eq(h_ntcp(h), 1);
    g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH);
    ck_assert_uint_eq(g.seq, iss + 1);
    ck_assert_uint_eq(g.ack, 7001);
    ck_assert_uint_eq(g.len, 5);
    ck_assert_mem_eq(g.data, "early", 5);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert_uint_eq(i.mss, 1200);
    ck_assert_uint_eq(i.snd_wnd, 30000);
    ck_assert_uint_eq(i.irs, 7000);
    ck_assert_uint_eq(i.snd_una, iss + 1);
    ck_assert_uint_eq(i.snd_nxt, iss + 6);
    sk_abort(c);
    h_free(h);
}
END_TEST

START_TEST(active_open_pure_ack)
{
    struct tcp_fx f;
    fx_connect(&f, NULL);
    f.pwnd = 1000;
    fx_seg_at(&f, 0xFFFFFFFFu, f.iss + 1, TCP_SYN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.ack, 0); /* 0xFFFFFFFF + 1 */
    ck_assert_uint_eq(g.len, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.mss, 536); /* no MSS option: RFC 9293 3.7.1 default */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(syn_sent_bad_ack)
{
    struct tcp_fx f;
    fx_connect(&f, NULL);
    f.pwnd = 1000;
    /* SEG.ACK =< ISS: <SEQ=SEG.ACK><CTL=RST>, and we stay in SYN_SENT. */
    fx_seg_at(&f, 7000, f.iss, TCP_SYN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    /* SEG.ACK > SND.NXT likewise. */
    h_clear(f.h);
    fx_seg_at(&f, 7000, f.iss + 2, TCP_SYN | TCP_ACK, NULL, 0);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    /* A RST with an unacceptable ACK is dropped without a reply. */
    h_clear(f.h);
    h_send(
        f.h,
        &(struct h_seg){
            .sport = 80, .dport = 40001, .seq = 0, .ack = f.iss + 5, .flags = TCP_RST | TCP_ACK});
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    /* A RST without ACK too (RFC 9293 3.10.7.3: drop it). */
    h_send(f.h, &(struct h_seg){.sport = 80, .dport = 40001, .seq = 0, .flags = TCP_RST});
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    /* A bare ACK-less segment without SYN is dropped. */
    h_send(f.h,
           &(struct h_seg){
               .sport = 80, .dport = 40001, .seq = 0, .flags = TCP_PSH, .data = "x", .len = 1});
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    /* The right SYN-ACK still completes it. */
    fx_seg_at(&f, 7000, f.iss + 1, TCP_SYN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(simultaneous_open)
{
    struct tcp_fx f;
    fx_connect(&f, NULL);
    /* The peer's own SYN crosses ours. */
    h_send(
        f.h,
        &(struct h_seg){
            .sport = 80, .dport = 40001, .seq = 9000, .flags = TCP_SYN, .wnd = 20000, .mss = 1000});
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_RECEIVED);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.seq, f.iss); /* our SYN again, now with the ACK */
    ck_assert_uint_eq(g.ack, 9001);
    ck_assert_uint_eq(g.opt.mss, 1460);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    /* The peer acknowledges our SYN. */
    h_clear(f.h);
    h_send(f.h, &(struct h_seg){.sport = 80,
                                .dport = 40001,
                                .seq = 9001,
                                .ack = f.iss + 1,
                                .flags = TCP_ACK,
                                .wnd = 20000});
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_CONNECTED | SK_EV_WRITABLE);
    ck_assert_int_eq(f.h->nout, 0);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 1);
    ck_assert_uint_eq(i.rcv_nxt, 9001);
    ck_assert_uint_eq(i.mss, 1000);
    ck_assert_uint_eq(i.snd_wnd, 20000);
    /* Data flows both ways. */
    ck_assert_int_eq(sk_send(f.c, "abc", 3), 3);
    sk_flush(f.h->s, f.h->now);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(connection_refused)
{
    struct tcp_fx f;
    fx_connect(&f, NULL);
    h_send(
        f.h,
        &(struct h_seg){
            .sport = 80, .dport = 40001, .seq = 0, .ack = f.iss + 1, .flags = TCP_RST | TCP_ACK});
    ck_assert_int_eq(f.h->nout, 0); /* never answer a RST */
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNREFUSED);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_ECONNREFUSED);
    ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4), -SK_ECONNREFUSED);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_failed_opens, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_rst_received, 1);
    /* Nothing is retransmitted later. */
    h_advance(f.h, 10000000);
    ck_assert_int_eq(f.h->nout, 0);
    sk_close(f.c);
    ck_assert_int_eq(h_count_conns(f.h), 0);
    fx_free(&f);
}
END_TEST

/* ---- no connection ---- */

START_TEST(closed_port_rst)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    /* SYN: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
    peer(h, PPORT, 1000, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(g.seq, 0);
    ck_assert_uint_eq(g.ack, 1001);
    ck_assert_uint_eq(g.sport, LPORT);
    ck_assert_uint_eq(g.dport, PPORT);
    ck_assert_uint_eq(g.wnd, 0);
    ck_assert_uint_eq(g.len, 0);
    /* A SYN with data: SEG.LEN counts the SYN and the data. */
    h_clear(h);
    peer(h, PPORT, 0xFFFFFFFEu, 0, TCP_SYN, "hello", 5);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(g.seq, 0);
    ck_assert_uint_eq(g.ack, 4); /* 0xFFFFFFFE + 6, wrapped */
    /* A FIN without ACK. */
    h_clear(h);
    peer(h, PPORT, 500, 0, TCP_FIN, NULL, 0);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(g.ack, 501);
    /* An ACK: <SEQ=SEG.ACK><CTL=RST> */
    h_clear(h);
    peer(h, PPORT, 1000, 0xDEADBEEFu, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(h), 1);
    g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, 0xDEADBEEFu);
    ck_assert_uint_eq(g.ack, 0);
    /* Data with ACK likewise. */
    h_clear(h);
    peer(h, PPORT, 1000, 77, TCP_ACK | TCP_PSH | TCP_FIN, "data", 4);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, 77);
    /* SYN and FIN together: still not a RST, so answered (RFC 9293
     * 3.10.7.1); SEG.LEN counts both. */
    h_clear(h);
    peer(h, PPORT, 3000, 0, TCP_SYN | TCP_FIN, NULL, 0);
    ck_assert_int_eq(h_ntcp(h), 1);
    g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(g.seq, 0);
    ck_assert_uint_eq(g.ack, 3002);
    /* A RST: nothing, also with SYN. */
    h_clear(h);
    peer(h, PPORT, 1000, 0, TCP_SYN | TCP_RST, NULL, 0);
    peer(h, PPORT, 1000, 0, TCP_RST, NULL, 0);
    peer(h, PPORT, 1000, 5, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_no_conn, 8);
    ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_bad_flags, 1);
    ck_assert_uint_eq(sk_counters(h->s)->tcp_rst_sent, 6);
    h_free(h);
}
END_TEST

START_TEST(bad_flags_and_ports_dropped)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    peer(f.h, PPORT, 1000, 0, TCP_SYN | TCP_FIN, NULL, 0);
    peer(f.h, PPORT, 1000, 0, TCP_SYN | TCP_RST, NULL, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_bad_flags, 2);
    h_send(f.h, &(struct h_seg){.sport = 0, .dport = LPORT, .seq = 1, .flags = TCP_SYN});
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_bad_port, 1);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(listener_stray_segments)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    /* An ACK to a listener: <SEQ=SEG.ACK><CTL=RST>. */
    peer(f.h, PPORT, 1000, 123456, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, 123456);
    ck_assert_uint_eq(g.dport, PPORT);
    /* A RST is ignored; a segment with neither SYN nor ACK is dropped. */
    h_clear(f.h);
    peer(f.h, PPORT, 1000, 0, TCP_RST, NULL, 0);
    peer(f.h, PPORT, 1000, 0, TCP_PSH, "zz", 2);
    peer(f.h, PPORT, 1000, 0, TCP_FIN, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.l), SK_LISTEN);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert_uint_eq(h_events_of(f.h, f.l), 0);
    /* A SYN|ACK to a listener is an ACK first: RST. */
    peer(f.h, PPORT, 1000, 42, TCP_SYN | TCP_ACK, NULL, 0);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, 42);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(listen_errors)
{
    struct harness *h = h_new(NULL);
    int err = 0;
    ck_assert_ptr_null(sk_listen(h->s, 0, 0, &err));
    ck_assert_int_eq(err, SK_EINVAL);
    sk_conn *l = h_listen(h, LPORT, 0);
    ck_assert_ptr_null(sk_listen(h->s, LPORT, 0, &err));
    ck_assert_int_eq(err, SK_EADDRINUSE);
    ck_assert_ptr_null(sk_accept(l));
    ck_assert_int_eq(sk_send(l, "x", 1), -SK_EINVAL);
    ck_assert_int_eq(sk_recv(l, (char[4]){0}, 4), -SK_EINVAL);
    sk_close(l);
    /* The port is free again. */
    l = h_listen(h, LPORT, 0);
    sk_close(l);
    h_free(h);
}
END_TEST

/* ---- MSS ---- */

static void mtu_1280(struct sk_config *cfg)
{
    cfg->mtu = 1280;
}

START_TEST(mss_announced_from_mtu)
{
    struct tcp_fx f;
    fx_listen(&f, mtu_1280, 0);
    ck_assert_uint_eq(fx_syn(&f, PPORT, PISN, 65535, 1460).opt.mss, 1240); /* MTU - 40 */
    sk_conn *c = sk_connect(f.h->s, PEER_IP, 80, 40001, f.h->now, NULL);
    h_flush(f.h);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_SYN);
    ck_assert_uint_eq(g.opt.mss, 1240);
    /* The peer's 1460 is capped by our own 1240 for what we send. */
    h_clear(f.h);
    h_send(f.h, &(struct h_seg){.sport = 80,
                                .dport = 40001,
                                .seq = 1,
                                .ack = g.seq + 1,
                                .flags = TCP_SYN | TCP_ACK,
                                .wnd = 65535,
                                .mss = 1460});
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert_uint_eq(i.mss, 1240);
    static uint8_t buf[3000];
    ck_assert_int_eq(sk_send(c, buf, sizeof(buf)), 3000);
    h_clear(f.h);
    sk_flush(f.h->s, f.h->now);
    ck_assert_int_eq(h_ntcp(f.h), 3);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).len, 1240);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 1).len, 1240);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 2).len, 520);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

/* A passive open from a peer announcing MSS option mss (0: none): our
 * SYN-ACK announces our own 1460 whatever it is; then the n bytes the app
 * sends must leave as exactly nwant segments of the lengths want[]. */
static void expect_segment_sizes(uint16_t mss, size_t n, const uint32_t *want, int nwant)
{
    static uint8_t buf[20000];
    for (size_t k = 0; k < sizeof(buf); k++)
        buf[k] = (uint8_t)k;
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    ck_assert_uint_eq(fx_syn(&f, PPORT, PISN, 65535, mss).opt.mss, 1460);
    fx_seg(&f, TCP_ACK, NULL, 0);
    f.c = sk_accept(f.l);
    ck_assert_ptr_nonnull(f.c);
    ck_assert_uint_le(n, sizeof(buf));
    ck_assert_int_eq(sk_send(f.c, buf, n), (long)n);
    h_clear(f.h);
    h_flush(f.h);
    int k = 0;
    for (int i = 0; i < f.h->nout; i++) {
        struct tcp_seg g;
        if (!h_out_tcp(f.h, i, &g))
            continue;
        ck_assert_int_lt(k, nwant);
        ck_assert_uint_eq(g.len, want[k]);
        k++;
    }
    ck_assert_int_eq(k, nwant);
    sk_abort(f.c);
    fx_free(&f);
}

START_TEST(mss_peer_honoured)
{
    static const uint32_t want[] = {1000, 1000, 1000, 500};
    expect_segment_sizes(1000, 3500, want, 4);
}
END_TEST

START_TEST(mss_default_536)
{
    static const uint32_t want[] = {536, 536, 536, 392};
    expect_segment_sizes(0, 2000, want, 4);
}
END_TEST

START_TEST(mss_peer_larger_than_ours)
{
    static const uint32_t want[] = {1460, 1460, 80}; /* never above our MTU */
    expect_segment_sizes(8960, 3000, want, 3);
}
END_TEST

/* ---- SYN_RECEIVED ---- */

START_TEST(syn_data_not_delivered)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    h_send(f.h, &(struct h_seg){.sport = PPORT,
                                .dport = LPORT,
                                .seq = PISN,
                                .flags = TCP_SYN,
                                .wnd = 65535,
                                .mss = 1460,
                                .data = "early",
                                .len = 5});
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, PISN + 1); /* the data is not acknowledged */
    uint32_t iss = g.seq;
    h_clear(f.h);
    peer(f.h, PPORT, PISN + 1, iss + 1, TCP_ACK, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    char buf[16];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), -SK_EAGAIN);
    ck_assert_uint_eq(h_events_of(f.h, c), SK_EV_WRITABLE);
    /* The peer sends it again after the handshake; now it counts. */
    peer(f.h, PPORT, PISN + 1, iss + 1, TCP_ACK | TCP_PSH, "early", 5);
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 5);
    ck_assert_mem_eq(buf, "early", 5);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.ack, PISN + 6);
    sk_close(c);
    fx_free(&f);
}
END_TEST

START_TEST(dup_syn_resends_synack)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    uint32_t iss = syn_from(f.h, PPORT, PISN);
    h_advance(f.h, 300000); /* before our own retransmission */
    ck_assert_int_eq(f.h->nout, 0);
    /* The SYN again: exactly one SYN-ACK, acknowledging PISN + 1. */
    struct tcp_seg g = h_syn(f.h, PPORT, LPORT, PISN, 65535, 1460);
    ck_assert_uint_eq(g.seq, iss);
    ck_assert_uint_eq(g.opt.mss, 1460);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_retransmits, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_passive_opens, 1); /* no second child */
    ck_assert_int_eq(h_count_conns(f.h), 2);
    /* The handshake then completes as usual. */
    peer(f.h, PPORT, PISN + 1, iss + 1, TCP_ACK, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    sk_close(c);
    fx_free(&f);
}
END_TEST

START_TEST(syn_received_bad_ack_rst)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    uint32_t iss = syn_from(f.h, PPORT, PISN);
    /* An ACK that does not acknowledge our SYN: <SEQ=SEG.ACK><CTL=RST>. */
    peer(f.h, PPORT, PISN + 1, iss, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, iss);
    ck_assert_ptr_null(sk_accept(f.l));
    /* One beyond anything we sent gets the RST too, not RFC 5961's ACK
     * (that is for synchronized states). */
    h_clear(f.h);
    peer(f.h, PPORT, PISN + 1, iss + 100, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, iss + 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_bad_ack, 2);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_ack_unsent, 0);
    ck_assert_ptr_null(sk_accept(f.l));
    /* The half-open connection is still there for the right ACK. */
    peer(f.h, PPORT, PISN + 1, iss + 1, TCP_ACK, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    sk_close(c);
    fx_free(&f);
}
END_TEST

static void no_cookies(struct sk_config *cfg)
{
    cfg->tcp_syncookies = SK_SYNCOOKIES_OFF;
}

/* Without SYN cookies (test_tcp_hostile.c has them), a full half-open
 * queue evicts its oldest entry. */
START_TEST(synq_full_evicts_oldest)
{
    struct tcp_fx f;
    fx_listen(&f, no_cookies, 2);
    uint32_t iss1 = syn_from(f.h, 1001, 100);
    uint32_t iss2 = syn_from(f.h, 1002, 200);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_syn_evictions, 0);
    ck_assert_int_eq(h_count_conns(f.h), 3);
    /* The third SYN still gets its SYN-ACK; the oldest half-open goes. */
    uint32_t iss3 = syn_from(f.h, 1003, 300);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_syn_evictions, 1);
    ck_assert_int_eq(h_count_conns(f.h), 3);
    /* The evicted peer's ACK meets the listener: RST. */
    peer(f.h, 1001, 101, iss1 + 1, TCP_ACK, NULL, 0);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, iss1 + 1);
    ck_assert_ptr_null(sk_accept(f.l));
    /* The other two complete. */
    h_clear(f.h);
    peer(f.h, 1002, 201, iss2 + 1, TCP_ACK, NULL, 0);
    peer(f.h, 1003, 301, iss3 + 1, TCP_ACK, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    sk_conn *a = sk_accept(f.l), *b = sk_accept(f.l);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_null(sk_accept(f.l));
    uint16_t rp;
    sk_conn_endpoints(a, NULL, NULL, NULL, &rp);
    ck_assert_uint_eq(rp, 1002); /* in the order they completed */
    sk_conn_endpoints(b, NULL, NULL, NULL, &rp);
    ck_assert_uint_eq(rp, 1003);
    sk_close(a);
    sk_close(b);
    fx_free(&f);
}
END_TEST

START_TEST(acceptq_full_drops)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 2);
    uint32_t iss1 = syn_from(f.h, 1001, 100);
    peer(f.h, 1001, 101, iss1 + 1, TCP_ACK, NULL, 0);
    uint32_t iss2 = syn_from(f.h, 1002, 200);
    uint32_t iss3 = syn_from(f.h, 1003, 300);
    peer(f.h, 1002, 201, iss2 + 1, TCP_ACK, NULL, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_listen_overflow, 0);
    /* The accept queue holds 2: the third ACK is ignored, the connection
     * stays half-open. */
    peer(f.h, 1003, 301, iss3 + 1, TCP_ACK, NULL, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_listen_overflow, 1);
    ck_assert_int_eq(f.h->nout, 0);
    /* A new SYN is dropped without an answer. */
    h_send(f.h, &(struct h_seg){
                    .sport = 1004, .dport = LPORT, .seq = 400, .flags = TCP_SYN, .wnd = 65535});
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_listen_overflow, 2);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 4);
    /* Once the app accepts, the ignored peer's next ACK gets in. */
    sk_conn *a = sk_accept(f.l);
    ck_assert_ptr_nonnull(a);
    peer(f.h, 1003, 301, iss3 + 1, TCP_ACK, NULL, 0);
    sk_conn *b = sk_accept(f.l), *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(c);
    uint16_t rp;
    sk_conn_endpoints(c, NULL, NULL, NULL, &rp);
    ck_assert_uint_eq(rp, 1003);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    sk_close(a);
    sk_close(b);
    sk_close(c);
    fx_free(&f);
}
END_TEST

START_TEST(close_listener_resets_children)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    uint32_t iss1 = syn_from(f.h, 1001, 100);
    peer(f.h, 1001, 101, iss1 + 1, TCP_ACK, NULL, 0);
    uint32_t iss2 = syn_from(f.h, 1002, 200);
    ck_assert_int_eq(h_count_conns(f.h), 3);
    h_clear(f.h);
    sk_close(f.l);
    ck_assert_int_eq(h_count_conns(f.h), 0);
    ck_assert_int_eq(h_ntcp(f.h), 2);
    struct tcp_seg g = h_out_tcp_at(f.h, 0), g2 = h_out_tcp_at(f.h, 1);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g2.flags, TCP_RST);
    /* Each RST carries its connection's SND.NXT. */
    if (g.dport == 1001) {
        ck_assert_uint_eq(g.seq, iss1 + 1);
        ck_assert_uint_eq(g2.seq, iss2 + 1);
    } else {
        ck_assert_uint_eq(g.seq, iss2 + 1);
        ck_assert_uint_eq(g2.seq, iss1 + 1);
    }
    h_free(f.h);
}
END_TEST

/* ---- SYN-ACK data against a small window ---- */

static void small_rcvbuf(struct sk_config *cfg)
{
    cfg->tcp_rcvbuf = 1024;
}

START_TEST(synack_data_trimmed_to_window)
{
    struct tcp_fx f;
    struct tcp_seg g = fx_connect(&f, small_rcvbuf);
    ck_assert_uint_eq(g.wnd, 1024);
    /* A SYN-ACK carrying more data than the 1024 bytes we offered: only
     * what fits in the window is taken (RFC 9293 3.10.7.3 fourth, then the
     * text is processed as in step 6 onwards, which trims to the window). */
    static uint8_t data[1400];
    for (size_t k = 0; k < sizeof(data); k++)
        data[k] = (uint8_t)(k * 7);
    h_send(f.h, &(struct h_seg){.sport = 80,
                                .dport = 40001,
                                .seq = 5000,
                                .ack = f.iss + 1,
                                .flags = TCP_SYN | TCP_ACK | TCP_PSH,
                                .wnd = 65535,
                                .mss = 1460,
                                .data = data,
                                .len = sizeof(data)});
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.ack, 5001 + 1024);
    ck_assert_uint_eq(g.wnd, 0);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.recv_queued, 1024);
    static uint8_t buf[2048];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 1024);
    ck_assert_mem_eq(buf, data, 1024);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_handshake");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, passive_open_and_data);
    tcase_add_test(tc, passive_open);
    tcase_add_test(tc, active_open);
    tcase_add_test(tc, active_open_pure_ack);
    tcase_add_test(tc, syn_sent_bad_ack);
    tcase_add_test(tc, simultaneous_open);
    tcase_add_test(tc, connection_refused);
    tcase_add_test(tc, closed_port_rst);
    tcase_add_test(tc, bad_flags_and_ports_dropped);
    tcase_add_test(tc, listener_stray_segments);
    tcase_add_test(tc, listen_errors);
    tcase_add_test(tc, mss_announced_from_mtu);
    tcase_add_test(tc, mss_peer_honoured);
    tcase_add_test(tc, mss_default_536);
    tcase_add_test(tc, mss_peer_larger_than_ours);
    tcase_add_test(tc, syn_data_not_delivered);
    tcase_add_test(tc, dup_syn_resends_synack);
    tcase_add_test(tc, syn_received_bad_ack_rst);
    tcase_add_test(tc, synq_full_evicts_oldest);
    tcase_add_test(tc, acceptq_full_drops);
    tcase_add_test(tc, close_listener_resets_children);
    tcase_add_test(tc, synack_data_trimmed_to_window);
    suite_add_tcase(s, tc);
    return h_run(s);
}
