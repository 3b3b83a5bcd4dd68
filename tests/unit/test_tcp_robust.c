/* Robustness against a hostile or odd peer: regressions for what review
 * found - freeing a stack with half-open children, a RST carrying data,
 * orphans held by a closed window, cwnd growth, the connection table full
 * of TIME_WAIT, and buffers for half-open connections. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "seq.h"

#define LPORT 5050
#define PISN  0x10000000u

/* A passive connection from pport, established; returns it accepted. */
static sk_conn *open_conn(struct harness *h, sk_conn *l, uint16_t pport, uint16_t wnd,
                          uint32_t *iss)
{
    h_clear(h);
    h_send(h, &(struct h_seg){.sport = pport,
                              .dport = LPORT,
                              .seq = PISN,
                              .flags = TCP_SYN,
                              .wnd = wnd,
                              .mss = 1460});
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    *iss = g.seq;
    h_send(h, &(struct h_seg){.sport = pport,
                              .dport = LPORT,
                              .seq = PISN + 1,
                              .ack = g.seq + 1,
                              .flags = TCP_ACK,
                              .wnd = wnd});
    sk_conn *c = sk_accept(l);
    ck_assert_ptr_nonnull(c);
    h_clear(h);
    return c;
}

START_TEST(free_stack_with_half_open_children)
{
    /* valgrind and ASan watch this one: the listener must not be freed
     * before the children that point at it. */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    ck_assert_ptr_nonnull(l);
    for (uint16_t p = 0; p < 3; p++)
        h_send(h, &(struct h_seg){.sport = (uint16_t)(40000 + p),
                                  .dport = LPORT,
                                  .seq = PISN,
                                  .flags = TCP_SYN,
                                  .wnd = 1000});
    ck_assert_uint_eq(l->synq_len, 3);
    h_free(h); /* with the listener and its children still there */
}
END_TEST

START_TEST(rst_with_data_checked_before_trimming)
{
    /* RFC 5961 3.2 compares SEG.SEQ itself with RCV.NXT: a RST whose data
     * merely overlaps RCV.NXT must not reset. */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    uint32_t iss;
    sk_conn *c = open_conn(h, l, 40000, 65535, &iss);
    static const uint8_t junk[1000];
    uint32_t rcv_nxt = PISN + 1;
    h_send(h, &(struct h_seg){.sport = 40000,
                              .dport = LPORT,
                              .seq = rcv_nxt - 500,
                              .ack = iss + 1,
                              .flags = TCP_RST | TCP_ACK,
                              .wnd = 65535,
                              .data = junk,
                              .len = sizeof(junk)});
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    ck_assert_uint_eq(sk_counters(h->s)->tcp_challenge_acks, 1);
    /* The exact match still resets. */
    h_send(h, &(struct h_seg){.sport = 40000,
                              .dport = LPORT,
                              .seq = rcv_nxt,
                              .ack = iss + 1,
                              .flags = TCP_RST | TCP_ACK,
                              .wnd = 65535});
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(c), SK_ECONNRESET);
    sk_close(c);
    sk_close(l);
    h_free(h);
}
END_TEST

START_TEST(orphan_held_by_zero_window_is_bounded)
{
    /* The app closes with data queued while the peer's window is 0, and the
     * peer answers every probe with window 0: the orphan still ends. */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    uint32_t iss;
    sk_conn *c = open_conn(h, l, 40000, 0, &iss);
    static const uint8_t data[4000];
    ck_assert_int_eq(sk_send(c, data, sizeof(data)), (long)sizeof(data));
    sk_flush(h->s, h->now);
    sk_close(c); /* orphaned; FIN waits behind the data */
    sk_close(l);
    ck_assert_uint_eq(h->s->tcp.ntcbs, 1);
    int probes = 0;
    for (int i = 0; i < 200 && h->s->tcp.ntcbs; i++) {
        h_clear(h);
        h_advance(h, 60 * 1000000ULL); /* past any backed-off probe time */
        if (h_ntcp(h)) {
            probes++;
            struct tcp_seg g = h_last_tcp(h);
            /* Answer it, window still shut. */
            h_send(h, &(struct h_seg){.sport = 40000,
                                      .dport = LPORT,
                                      .seq = PISN + 1,
                                      .ack = g.seq,
                                      .flags = TCP_ACK,
                                      .wnd = 0});
        }
    }
    ck_assert_uint_eq(h->s->tcp.ntcbs, 0);
    ck_assert_int_le(probes, (int)h->s->cfg.tcp_max_retries + 1);
    ck_assert_uint_ge(sk_counters(h->s)->tcp_aborts_timeout, 1);
    h_free(h);
}
END_TEST

START_TEST(cwnd_stays_bounded)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    uint32_t iss;
    sk_conn *c = open_conn(h, l, 40000, 65535, &iss);
    static uint8_t data[1460];
    uint32_t una = iss + 1;
    /* Many round trips of one segment each, every one ACKed. */
    for (int i = 0; i < 3000; i++) {
        ck_assert_int_gt(sk_send(c, data, sizeof(data)), 0);
        sk_flush(h->s, h->now);
        una += sizeof(data);
        h_send(h, &(struct h_seg){.sport = 40000,
                                  .dport = LPORT,
                                  .seq = PISN + 1,
                                  .ack = una,
                                  .flags = TCP_ACK,
                                  .wnd = 65535});
        h_clear(h);
    }
    struct sk_conn_info info;
    sk_conn_info(c, &info);
    ck_assert_uint_le(info.cwnd, h->s->cfg.tcp_sndbuf);
    ck_assert_uint_ge(info.cwnd, 10 * 1460);
    sk_close(c);
    sk_close(l);
    h_free(h);
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
    struct harness *h = h_new(small_table);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    for (uint16_t p = 0; p < 20; p++) {
        uint16_t port = (uint16_t)(41000 + p);
        uint32_t iss;
        sk_conn *c = open_conn(h, l, port, 65535, &iss);
        sk_close(c); /* our FIN first */
        sk_flush(h->s, h->now);
        /* The peer ACKs it and sends its FIN: TIME_WAIT on our side. */
        h_send(h, &(struct h_seg){.sport = port,
                                  .dport = LPORT,
                                  .seq = PISN + 1,
                                  .ack = iss + 2,
                                  .flags = TCP_FIN | TCP_ACK,
                                  .wnd = 65535});
        ck_assert_int_eq(sk_conn_state(tcb_lookup(h->s, US_IP, LPORT, PEER_IP, port)),
                         SK_TIME_WAIT);
    }
    ck_assert_uint_le(h->s->tcp.ntcbs, 8);
    ck_assert_uint_eq(sk_counters(h->s)->tcp_conns_limit, 0);
    ck_assert_uint_gt(sk_counters(h->s)->tcp_time_wait_recycled, 0);
    sk_close(l);
    h_free(h);
}
END_TEST

START_TEST(half_open_connections_hold_no_buffers)
{
    /* A SYN costs a TCB, not two 64 KiB rings: those come at ESTABLISHED. */
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, LPORT, 8, &err);
    h_send(h, &(struct h_seg){.sport = 40000,
                              .dport = LPORT,
                              .seq = PISN,
                              .flags = TCP_SYN,
                              .wnd = 65535,
                              .mss = 1460});
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.wnd, 65535); /* the SYN-ACK still offers the full window */
    struct sk_tcb *child = tcb_lookup(h->s, US_IP, LPORT, PEER_IP, 40000);
    ck_assert_ptr_nonnull(child);
    ck_assert_ptr_null(child->sndq.buf);
    ck_assert_ptr_null(child->rcvq.buf);
    h_send(h, &(struct h_seg){.sport = 40000,
                              .dport = LPORT,
                              .seq = PISN + 1,
                              .ack = g.seq + 1,
                              .flags = TCP_ACK | TCP_PSH,
                              .wnd = 65535,
                              .data = "abc",
                              .len = 3});
    sk_conn *c = sk_accept(l);
    ck_assert_ptr_eq(c, child);
    ck_assert_ptr_nonnull(c->rcvq.buf);
    char buf[8];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 3);
    sk_close(c);
    sk_close(l);
    h_free(h);
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
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
