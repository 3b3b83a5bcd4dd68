/* Robustness against a hostile or odd peer: regressions for what review
 * found - freeing a stack with half-open children, a RST carrying data,
 * orphans held by a closed window, cwnd growth, the connection table full
 * of TIME_WAIT, and buffers for half-open connections. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define PISN 0x10000000u

START_TEST(free_stack_with_half_open_children)
{
    /* valgrind and ASan watch this one: the listener must not be freed
     * before the children that point at it. */
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    for (uint16_t p = 0; p < 3; p++)
        fx_syn(&f, (uint16_t)(FX_PPORT + p), PISN, 1000, 0);
    ck_assert_uint_eq(f.l->synq_len, 3);
    h_free(f.h); /* with the listener and its children still there */
}
END_TEST

START_TEST(rst_with_data_checked_before_trimming)
{
    /* RFC 5961 3.2 compares SEG.SEQ itself with RCV.NXT: a RST whose data
     * merely overlaps RCV.NXT must not reset. */
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    fx_accept(&f, FX_PPORT, PISN, 65535, 1460);
    static const uint8_t junk[1000];
    uint32_t rcv_nxt = PISN + 1;
    fx_seg_at(&f, rcv_nxt - 500, f.iss + 1, TCP_RST | TCP_ACK, junk, sizeof(junk));
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_challenge_acks, 1);
    /* The exact match still resets. */
    fx_seg_at(&f, rcv_nxt, f.iss + 1, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(orphan_held_by_zero_window_is_bounded)
{
    /* The app closes with data queued while the peer's window is 0, and the
     * peer answers every probe with window 0: the orphan still ends. */
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    fx_accept(&f, FX_PPORT, PISN, 0, 1460);
    static const uint8_t data[4000];
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), (long)sizeof(data));
    sk_flush(f.h->s, f.h->now);
    sk_close(f.c); /* orphaned; FIN waits behind the data */
    sk_close(f.l);
    ck_assert_uint_eq(f.h->s->tcp.ntcbs, 1);
    int probes = 0;
    for (int i = 0; i < 200 && f.h->s->tcp.ntcbs; i++) {
        h_clear(f.h);
        h_advance(f.h, 60 * 1000000ULL); /* past any backed-off probe time */
        if (h_ntcp(f.h)) {
            probes++;
            struct tcp_seg g = h_last_tcp(f.h);
            /* Answer it, window still shut. */
            fx_seg_at(&f, f.pseq, g.seq, TCP_ACK, NULL, 0);
        }
    }
    ck_assert_uint_eq(f.h->s->tcp.ntcbs, 0);
    ck_assert_int_le(probes, (int)f.h->s->cfg.tcp_max_retries + 1);
    ck_assert_uint_ge(sk_counters(f.h->s)->tcp_aborts_timeout, 1);
    h_free(f.h);
}
END_TEST

START_TEST(cwnd_stays_bounded)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    fx_accept(&f, FX_PPORT, PISN, 65535, 1460);
    static uint8_t data[1460];
    uint32_t una = f.iss + 1;
    /* Many round trips of one segment each, every one ACKed. */
    for (int i = 0; i < 3000; i++) {
        ck_assert_int_gt(sk_send(f.c, data, sizeof(data)), 0);
        h_flush(f.h);
        una += sizeof(data);
        fx_ack(&f, una);
        h_clear(f.h);
    }
    struct sk_conn_info info;
    sk_conn_info(f.c, &info);
    ck_assert_uint_le(info.cwnd, f.h->s->cfg.tcp_sndbuf);
    ck_assert_uint_ge(info.cwnd, 10 * 1460);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

static void small_table(struct sk_config *cfg)
{
    cfg->tcp_max_conns = 8;
}

START_TEST(time_wait_recycled_when_the_table_is_full)
{
    /* Server-closes-first services fill the table with TIME_WAIT; a new
     * SYN must still get in, by recycling the oldest of them. */
    struct tcp_fx f;
    fx_listen(&f, small_table, 8);
    for (uint16_t p = 0; p < 20; p++) {
        uint16_t port = (uint16_t)(41000 + p);
        fx_accept(&f, port, PISN, 65535, 1460);
        sk_close(f.c); /* our FIN first */
        h_flush(f.h);
        /* The peer ACKs it and sends its FIN: TIME_WAIT on our side. */
        fx_seg_at(&f, f.pseq, f.iss + 2, TCP_FIN | TCP_ACK, NULL, 0);
        ck_assert_int_eq(sk_conn_state(tcb_lookup(f.h->s, US_IP, FX_LPORT, PEER_IP, port)),
                         SK_TIME_WAIT);
    }
    ck_assert_uint_le(f.h->s->tcp.ntcbs, 8);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_conns_limit, 0);
    ck_assert_uint_gt(sk_counters(f.h->s)->tcp_time_wait_recycled, 0);
    fx_free(&f);
}
END_TEST

START_TEST(half_open_connections_hold_no_buffers)
{
    /* A SYN costs a TCB, not two rings: those come at ESTABLISHED, and
     * even then memory is taken only as bytes are queued, and given back
     * when they are read. */
    struct tcp_fx f;
    fx_listen(&f, NULL, 8);
    struct tcp_seg g = fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    ck_assert_uint_eq(g.wnd, 65535); /* the SYN-ACK still offers the full window */
    struct sk_tcb *child = tcb_lookup(f.h->s, US_IP, FX_LPORT, PEER_IP, FX_PPORT);
    ck_assert_ptr_nonnull(child);
    ck_assert_uint_eq(child->sndq.cap, 0);
    ck_assert_uint_eq(child->rcvq.cap, 0);
    fx_seg(&f, TCP_ACK | TCP_PSH, "abc", 3);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_eq(c, child);
    ck_assert_uint_gt(c->rcvq.cap, 0);
    ck_assert_uint_eq(ring_chunks(&c->rcvq), 1);
    ck_assert_uint_eq(ring_chunks(&c->sndq), 0);
    char buf[8];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 3);
    ck_assert_uint_eq(ring_chunks(&c->rcvq), 0);
    sk_close(c);
    fx_free(&f);
}
END_TEST

#define CTR(f, name) (sk_counters((f)->h->s)->name)

static void small_rcvbuf(struct sk_config *cfg)
{
    cfg->tcp_rcvbuf = 1024;
}

START_TEST(every_drop_counted_by_reason)
{
    /* Segments RFC 9293 3.10.7 says to drop, each with its counter. */
    struct tcp_fx l;
    fx_listen(&l, NULL, 8);
    /* LISTEN: a RST is ignored. */
    h_send(l.h,
           &(struct h_seg){
               .sport = FX_PPORT, .dport = FX_LPORT, .seq = PISN, .flags = TCP_RST, .wnd = 1000});
    ck_assert_int_eq(l.h->nout, 0);
    ck_assert_uint_eq(CTR(&l, tcp_rst_in), 1);
    ck_assert_uint_eq(CTR(&l, drop_tcp_rst_ignored), 1);
    ck_assert_uint_eq(CTR(&l, tcp_rst_received), 0);
    /* ESTABLISHED: data without the ACK flag is not delivered. */
    fx_accept(&l, FX_PPORT, PISN, 65535, 1460);
    fx_seg_at(&l, l.pseq, 0, 0, "abc", 3);
    ck_assert_uint_eq(CTR(&l, drop_tcp_no_ack), 1);
    char buf[8];
    ck_assert_int_eq(sk_recv(l.c, buf, sizeof(buf)), -SK_EAGAIN);
    sk_abort(l.c);
    /* Data into a zero window is counted once, as outside the window,
     * even without the ACK flag. */
    fx_free(&l);
    fx_listen(&l, small_rcvbuf, 8);
    fx_accept(&l, FX_PPORT, PISN, 65535, 1460);
    static const uint8_t fill[1024];
    fx_seg(&l, TCP_ACK, fill, sizeof(fill)); /* fills the 1024-byte buffer */
    fx_seg_at(&l, l.pseq, 0, 0, "x", 1);
    ck_assert_uint_eq(CTR(&l, drop_tcp_unacceptable), 1);
    ck_assert_uint_eq(CTR(&l, drop_tcp_no_ack), 0);
    sk_abort(l.c);
    fx_free(&l);

    struct tcp_fx a;
    fx_connect(&a, NULL);
    /* SYN_SENT: a RST without an ACK of our SYN is ignored... */
    fx_seg_at(&a, PISN, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(sk_conn_state(a.c), SK_SYN_SENT);
    ck_assert_uint_eq(CTR(&a, drop_tcp_rst_ignored), 1);
    /* ...so is one whose ACK is not of our SYN (no RST answers a RST)... */
    fx_seg_at(&a, PISN, a.iss + 5, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(a.c), SK_SYN_SENT);
    ck_assert_uint_eq(CTR(&a, drop_tcp_rst_ignored), 2);
    ck_assert_uint_eq(CTR(&a, drop_tcp_bad_ack), 0);
    /* ...and a segment with neither SYN nor RST. */
    fx_seg_at(&a, PISN, a.iss + 1, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(a.c), SK_SYN_SENT);
    ck_assert_uint_eq(CTR(&a, drop_tcp_no_syn), 1);
    ck_assert_int_eq(a.h->nout, 0);
    ck_assert_uint_eq(CTR(&a, tcp_rst_in), 2);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(lookup_forgets_a_freed_connection)
{
    /* tcb_lookup tries the connection it found last before hashing: one
     * freed must not be found so (ASan and valgrind see the use after
     * free).  A segment to its 4-tuple meets the listener, which answers
     * an ACK with a RST (RFC 9293 3.10.7.2), and the other connection is
     * still found. */
    struct tcp_fx l;
    fx_listen(&l, NULL, 8);
    fx_accept(&l, FX_PPORT, PISN, 65535, 1460);
    sk_conn *a = l.c;
    uint32_t a_seq = l.pseq, a_ack = l.pack;
    fx_seg(&l, TCP_ACK, "abc", 3); /* a is the last found */
    fx_accept(&l, FX_PPORT + 1, PISN, 65535, 1460);
    sk_conn *b = l.c;
    fx_seg(&l, TCP_ACK, "de", 2); /* b is */
    l.c = a;
    l.pport = FX_PPORT;
    fx_seg_at(&l, a_seq + 3, a_ack, TCP_ACK, "f", 1); /* a again */
    char buf[8];
    ck_assert_int_eq(sk_recv(a, buf, sizeof(buf)), 4);
    sk_abort(a); /* a RST out; a is freed */
    h_clear(l.h);
    h_send(l.h, &(struct h_seg){.sport = FX_PPORT,
                                .dport = FX_LPORT,
                                .seq = a_seq + 4,
                                .ack = a_ack,
                                .flags = TCP_ACK,
                                .wnd = 1000,
                                .data = "g",
                                .len = 1});
    ck_assert_int_eq(h_ntcp(l.h), 1);
    struct tcp_seg rst = h_last_tcp(l.h);
    ck_assert(rst.flags & TCP_RST);
    ck_assert_uint_eq(rst.seq, a_ack);
    ck_assert_int_eq(sk_recv(b, buf, sizeof(buf)), 2);
    l.c = b;
    sk_abort(b);
    fx_free(&l);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_robust");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, free_stack_with_half_open_children);
    tcase_add_test(tc, rst_with_data_checked_before_trimming);
    tcase_add_test(tc, orphan_held_by_zero_window_is_bounded);
    tcase_add_test(tc, cwnd_stays_bounded);
    tcase_add_test(tc, time_wait_recycled_when_the_table_is_full);
    tcase_add_test(tc, half_open_connections_hold_no_buffers);
    tcase_add_test(tc, every_drop_counted_by_reason);
    tcase_add_test(tc, lookup_forgets_a_freed_connection);
    suite_add_tcase(s, tc);
    return h_run(s);
}
