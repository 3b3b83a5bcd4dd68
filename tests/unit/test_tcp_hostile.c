/* A hostile peer: SYN cookies when a listener's half-open queue is full
 * (RFC 4987 3.6), the per-connection limit on ACKs for out-of-window
 * segments, and the limit on RSTs for closed ports. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp.h"
#include "tcp_fixture.h"

#define LPORT FX_LPORT

static const struct sk_counters *ctr(struct harness *h)
{
    return sk_counters(h->s);
}

static void oow_default(struct sk_config *cfg)
{
    cfg->tcp_oow_ack_ms = 0; /* the default, 500 ms (the harness turns it off) */
}

static void half_open_2(struct sk_config *cfg)
{
    cfg->tcp_max_half_open = 2;
}

static void cookies_always(struct sk_config *cfg)
{
    cfg->tcp_syncookies = SK_SYNCOOKIES_ALWAYS;
}

static void rst_10(struct sk_config *cfg)
{
    cfg->tcp_rst_per_sec = 10;
}

static void half_open_16(struct sk_config *cfg)
{
    cfg->tcp_max_half_open = 16;
}

/* The peer's SYN from sport (options in *syn), answered by one SYN-ACK,
 * which is returned; the capture is cleared. */
static struct tcp_seg syn_of(struct harness *h, uint16_t sport, struct h_seg syn)
{
    syn.sport = sport;
    syn.dport = LPORT;
    syn.flags = TCP_SYN;
    if (!syn.wnd)
        syn.wnd = 65535;
    h_clear(h);
    h_send(h, &syn);
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, syn.seq + 1);
    h_clear(h);
    return g;
}

static void ack_from(struct harness *h, uint16_t sport, uint32_t seq, uint32_t ack, bool ts,
                     uint32_t tsval, uint32_t tsecr)
{
    h_send(h, &(struct h_seg){.sport = sport,
                              .dport = LPORT,
                              .seq = seq,
                              .ack = ack,
                              .flags = TCP_ACK,
                              .wnd = 1000,
                              .ts = ts,
                              .tsval = tsval,
                              .tsecr = tsecr});
}

/* ---- SYN cookies ---- */

START_TEST(cookie_when_half_open_queue_full)
{
    struct tcp_fx f;
    fx_listen(&f, half_open_2, 0);
    syn_of(f.h, 1001, (struct h_seg){.seq = 100, .mss = 1460});
    syn_of(f.h, 1002, (struct h_seg){.seq = 200, .mss = 1460});
    ck_assert_int_eq(h_count_conns(f.h), 3);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_sent, 0);
    /* The third SYN is answered, but nothing is kept for it. */
    struct tcp_seg sa = syn_of(f.h, 1003, (struct h_seg){.seq = 300, .mss = 1460});
    ck_assert_int_eq(h_count_conns(f.h), 3);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_sent, 1);
    ck_assert_uint_eq(ctr(f.h)->tcp_syn_evictions, 0);
    ck_assert_uint_eq(sa.opt.mss, 1460);
    ck_assert(!sa.opt.sack_ok);
    ck_assert_int_eq(sa.opt.wscale, -1);
    /* Its ACK brings the connection back, with the MSS the cookie kept. */
    ack_from(f.h, 1003, 301, sa.seq + 1, false, 0, 0);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_ok, 1);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert_uint_eq(i.mss, 1460);
    ck_assert_uint_eq(i.iss, sa.seq);
    ck_assert_uint_eq(i.irs, 300);
    /* Data flows both ways. */
    h_send(f.h, &(struct h_seg){.sport = 1003,
                                .dport = LPORT,
                                .seq = 301,
                                .ack = sa.seq + 1,
                                .flags = TCP_ACK | TCP_PSH,
                                .wnd = 1000,
                                .data = "hi",
                                .len = 2});
    char buf[8];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 2);
    ck_assert_int_eq(sk_send(c, "yo", 2), 2);
    h_clear(f.h);
    h_flush(f.h);
    struct tcp_seg d = h_last_tcp(f.h);
    ck_assert_uint_eq(d.len, 2);
    ck_assert_uint_eq(d.seq, sa.seq + 1);
    ck_assert_uint_eq(d.ack, 303);
    /* The two half-open ones still complete normally. */
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(cookie_keeps_options_with_timestamps)
{
    struct tcp_fx f;
    fx_listen(&f, cookies_always, 0);
    struct tcp_seg sa = syn_of(f.h, 1001,
                               (struct h_seg){.seq = 5000,
                                              .mss = 1460,
                                              .sack_ok = true,
                                              .has_ws = true,
                                              .ws = 7,
                                              .ts = true,
                                              .tsval = 777});
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert(sa.opt.ts);
    ck_assert(sa.opt.sack_ok);
    ck_assert_int_ge(sa.opt.wscale, 0);
    ck_assert_uint_eq(sa.opt.tsecr, 777);
    ck_assert_uint_eq(sa.opt.tsval & 0x1F, 7 | 0x10); /* shift 7, SACK */
    ack_from(f.h, 1001, 5001, sa.seq + 1, true, 778, sa.opt.tsval);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert(i.timestamps);
    ck_assert(i.sack);
    ck_assert_int_eq(i.snd_wscale, 7);
    ck_assert_int_eq(i.rcv_wscale, sa.opt.wscale);
    ck_assert_uint_eq(i.mss, 1448); /* 1460 less the timestamps */
    /* The peer's window is scaled by the shift the cookie kept. */
    ck_assert_uint_eq(i.snd_wnd, 1000u << 7);
    /* Our timestamps never go back from the SYN-ACK's (the peer's PAWS). */
    ck_assert_int_eq(sk_send(c, "x", 1), 1);
    h_clear(f.h);
    h_flush(f.h);
    struct tcp_seg d = h_last_tcp(f.h);
    ck_assert(d.opt.ts);
    ck_assert_int_ge((int32_t)(d.opt.tsval - sa.opt.tsval), 0);
    ck_assert_uint_eq(d.opt.tsecr, 778);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(cookie_without_timestamps_keeps_only_mss)
{
    struct tcp_fx f;
    fx_listen(&f, cookies_always, 0);
    struct tcp_seg sa =
        syn_of(f.h, 1001,
               (struct h_seg){.seq = 5000, .mss = 1000, .sack_ok = true, .has_ws = true, .ws = 7});
    /* Nowhere to keep SACK and the shift: the SYN-ACK offers neither. */
    ck_assert(!sa.opt.ts);
    ck_assert(!sa.opt.sack_ok);
    ck_assert_int_eq(sa.opt.wscale, -1);
    ack_from(f.h, 1001, 5001, sa.seq + 1, false, 0, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert(!i.sack);
    ck_assert(!i.timestamps);
    ck_assert_int_eq(i.snd_wscale, -1);
    ck_assert_uint_eq(i.mss, 536); /* the largest cookie MSS not above 1000 */
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(cookie_forged_or_expired_refused)
{
    struct tcp_fx f;
    fx_listen(&f, cookies_always, 0);
    struct tcp_seg sa = syn_of(f.h, 1001, (struct h_seg){.seq = 5000, .mss = 1460});
    /* A wrong cookie, or the right one from another ISN: RST, nothing made. */
    ack_from(f.h, 1001, 5001, sa.seq + 2, false, 0, 0);
    ack_from(f.h, 1001, 5002, sa.seq + 1, false, 0, 0);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_failed, 2);
    ck_assert_int_eq(h_ntcp(f.h), 2);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).flags, TCP_RST);
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_int_eq(h_count_conns(f.h), 1);
    /* The right ACK, four minutes late (while cookies are still being
     * sent, to others): expired. */
    h_advance(f.h, 240ULL * 1000000);
    h_learn_peer(f.h); /* the ARP entry has aged out meanwhile */
    syn_of(f.h, 1002, (struct h_seg){.seq = 7000, .mss = 1460});
    ack_from(f.h, 1001, 5001, sa.seq + 1, false, 0, 0);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_failed, 3);
    ck_assert_ptr_null(sk_accept(f.l));
    /* A fresh one, 55 s old: good. */
    sa = syn_of(f.h, 1001, (struct h_seg){.seq = 9000, .mss = 1460});
    h_advance(f.h, 55ULL * 1000000);
    ack_from(f.h, 1001, 9001, sa.seq + 1, false, 0, 0);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_ok, 1);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(stray_ack_not_a_cookie_without_cookies_sent)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    ack_from(f.h, 1001, 5001, 12345, false, 0, 0);
    ck_assert_uint_eq(h_last_tcp(f.h).flags, TCP_RST);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_failed, 0);
    ck_assert_uint_eq(ctr(f.h)->drop_tcp_no_conn, 1);
    fx_free(&f);
}
END_TEST

START_TEST(syn_flood_real_client_gets_in)
{
    struct tcp_fx f;
    fx_listen(&f, half_open_16, 0);
    /* 1000 spoofed SYNs, never completed: each answered, 16 kept. */
    struct tcp_seg first = syn_of(f.h, 10000, (struct h_seg){.seq = 0, .mss = 1460});
    for (uint16_t p = 1; p < 1000; p++)
        syn_of(f.h, (uint16_t)(10000 + p), (struct h_seg){.seq = 1000u * p, .mss = 1460});
    ck_assert_int_eq(h_count_conns(f.h), 17);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_sent, 984);
    ck_assert_uint_eq(ctr(f.h)->tcp_syn_evictions, 0);
    /* A real client's SYN, then 500 more spoofed ones before its ACK
     * arrives (evicting the oldest half-open entry would have dropped it
     * long before): it completes. */
    struct tcp_seg sa = syn_of(f.h, 20000, (struct h_seg){.seq = 42, .mss = 1460});
    for (uint16_t p = 0; p < 500; p++)
        syn_of(f.h, (uint16_t)(30000 + p), (struct h_seg){.seq = 7u * p, .mss = 1460});
    ack_from(f.h, 20000, 43, sa.seq + 1, false, 0, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    uint16_t rp;
    sk_conn_endpoints(c, NULL, NULL, NULL, &rp);
    ck_assert_uint_eq(rp, 20000);
    /* And so does the first, from the half-open queue. */
    ack_from(f.h, 10000, 1, first.seq + 1, false, 0, 0);
    sk_conn *d = sk_accept(f.l);
    ck_assert_ptr_nonnull(d);
    sk_conn_endpoints(d, NULL, NULL, NULL, &rp);
    ck_assert_uint_eq(rp, 10000);
    ck_assert_uint_eq(ctr(f.h)->tcp_syncookies_ok, 1);
    sk_abort(d);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

/* ---- rate limits ---- */

START_TEST(oow_acks_limited_per_connection)
{
    struct tcp_fx f;
    fx_open_passive(&f, oow_default, 0xC0000000u, 65535, 1460);
    h_clear(f.h);
    /* Ten ACKs far outside the window: one answer. */
    for (int i = 0; i < 10; i++)
        fx_seg_at(&f, f.pseq + 0x40000000u, f.pack, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(ctr(f.h)->tcp_oow_ack_limited, 9);
    /* Challenge ACKs count against the same limit. */
    fx_seg_at(&f, f.pseq, f.pack, TCP_SYN, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(ctr(f.h)->tcp_oow_ack_limited, 10);
    /* Half a second later, the next one is answered. */
    h_advance(f.h, 500000);
    h_clear(f.h);
    fx_seg_at(&f, f.pseq + 0x40000000u, f.pack, TCP_ACK, NULL, 0);
    fx_seg_at(&f, f.pseq + 0x40000000u, f.pack, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(oow_data_segments_not_limited)
{
    struct tcp_fx f;
    fx_open_passive(&f, oow_default, 0xC0000000u, 65535, 1460);
    char data[100];
    memset(data, 'd', sizeof(data));
    uint32_t at = f.pseq;
    fx_seg(&f, TCP_ACK | TCP_PSH, data, sizeof(data));
    char buf[200];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    h_clear(f.h);
    /* The same segment five times (our ACKs lost, say): five answers, so
     * the peer's recovery is not held back. */
    for (int i = 0; i < 5; i++)
        fx_seg_at(&f, at, f.pack, TCP_ACK | TCP_PSH, data, sizeof(data));
    ck_assert_int_eq(h_ntcp(f.h), 5);
    ck_assert_uint_eq(ctr(f.h)->tcp_oow_ack_limited, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rsts_for_closed_ports_limited)
{
    struct harness *h = h_new(rst_10);
    h_learn_peer(h);
    h_clear(h);
    for (int i = 0; i < 20; i++)
        h_send(
            h,
            &(struct h_seg){
                .sport = 1000, .dport = 9999, .seq = (uint32_t)i, .flags = TCP_SYN, .wnd = 1000});
    ck_assert_int_eq(h_ntcp(h), 10);
    ck_assert_uint_eq(ctr(h)->tcp_rst_limited, 10);
    ck_assert_uint_eq(ctr(h)->drop_tcp_no_conn, 20);
    h_advance(h, 1000000);
    h_clear(h);
    h_send(h,
           &(struct h_seg){.sport = 1000, .dport = 9999, .seq = 7, .flags = TCP_SYN, .wnd = 1000});
    ck_assert_int_eq(h_ntcp(h), 1);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_hostile");
    TCase *tc = tcase_create("syncookies");
    tcase_add_test(tc, cookie_when_half_open_queue_full);
    tcase_add_test(tc, cookie_keeps_options_with_timestamps);
    tcase_add_test(tc, cookie_without_timestamps_keeps_only_mss);
    tcase_add_test(tc, cookie_forged_or_expired_refused);
    tcase_add_test(tc, stray_ack_not_a_cookie_without_cookies_sent);
    tcase_add_test(tc, syn_flood_real_client_gets_in);
    suite_add_tcase(s, tc);
    tc = tcase_create("ratelimits");
    tcase_add_test(tc, oow_acks_limited_per_connection);
    tcase_add_test(tc, oow_data_segments_not_limited);
    tcase_add_test(tc, rsts_for_closed_ports_limited);
    suite_add_tcase(s, tc);
    return h_run(s);
}
