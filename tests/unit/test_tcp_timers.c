/* Retransmission (RFC 6298): the initial 1 s RTO and its exponential
 * backoff for SYNs and SYN-ACKs, SRTT/RTTVAR from samples, the minimum and
 * maximum RTO, Karn's rule, the 3 s fallback after a lost SYN (5.7), timer
 * restarts (5.2, 5.3), FIN retransmission, and giving up (RFC 9293
 * 3.8.3's R2: tcp_syn_retries, tcp_max_retries). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define PISN 0x01020304u
#define MS   1000ULL
#define SEC  1000000ULL

/* ---- helpers ---- */

static void base_cfg(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 24 * 3600 * 1000; /* no ARP in the way of long waits */
}

static void cfg_rto_max_5s(struct sk_config *cfg)
{
    base_cfg(cfg);
    cfg->tcp_rto_max_ms = 5000;
}

static void cfg_3_retries(struct sk_config *cfg)
{
    base_cfg(cfg);
    cfg->tcp_max_retries = 3;
}

static void cfg_2_syn_retries(struct sk_config *cfg)
{
    base_cfg(cfg);
    cfg->tcp_syn_retries = 2;
}

/* Nothing is sent for `us - 1` microseconds, then at `us` exactly one
 * segment: returned, and the capture cleared. */
static struct tcp_seg expect_one_after(struct harness *h, uint64_t us)
{
    h_clear(h);
    h_advance(h, us - 1);
    ck_assert_msg(h->nout == 0, "sent %d frames 1 us early", h->nout);
    h_advance(h, 1);
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    h_clear(h);
    return g;
}

static struct sk_conn_info info(const sk_conn *c)
{
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    return i;
}

static void send_data(struct tcp_fx *a, size_t len)
{
    static uint8_t buf[8192];
    memset(buf, 'd', sizeof(buf));
    ck_assert_uint_le(len, sizeof(buf));
    ck_assert_int_eq(sk_send(a->c, buf, len), (long)len);
    h_flush(a->h);
}

/* ---- SYN ---- */

START_TEST(syn_backoff_and_timeout)
{
    struct tcp_fx f;
    fx_connect(&f, base_cfg);
    struct tcp_seg g;
    ck_assert_uint_eq(info(f.c).rto_us, 1 * SEC); /* RFC 6298 2.1 */
    /* Sent again after 1 s, then 2, 4, 8, 16 s (5.5): at 1, 3, 7, 15, 31. */
    static const uint64_t gaps[] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++) {
        g = expect_one_after(f.h, gaps[i] * SEC);
        ck_assert_uint_eq(g.flags, TCP_SYN);
        ck_assert_uint_eq(g.seq, f.iss);
        ck_assert_uint_eq(g.opt.mss, 1460);
        ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
        ck_assert_uint_eq(info(f.c).rto_us, gaps[i] * 2 * SEC);
    }
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_retransmits, 5);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    /* tcp_syn_retries (5) spent: 32 s after the last, the connect fails. */
    h_advance(f.h, 32 * SEC - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    h_advance(f.h, 1);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ETIMEDOUT);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_failed_opens, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_timeout, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_timeouts, 6);
    ck_assert_uint_eq(tcp_next_deadline(f.h->s), UINT64_MAX);
    sk_close(f.c);
    ck_assert_int_eq(h_count_conns(f.h), 0);
    fx_free(&f);
}
END_TEST

START_TEST(synack_after_syn_timeout_before_flush)
{
    /* The API lets timers run, then input, then the flush: the SYN's
     * timeout rewinds snd_nxt to the ISS for a resend, and the SYN-ACK
     * arrives before that resend leaves.  Nothing may go out from below
     * SND.UNA (it once read the send ring at offset -1): one ACK only. */
    struct tcp_fx f;
    fx_connect(&f, base_cfg);
    f.h->now += 1 * SEC;
    sk_timers(f.h->s, f.h->now);
    fx_seg_at(&f, PISN, f.iss + 1, TCP_SYN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    fx_expect_ack(&f, f.iss + 1, PISN + 1);
    ck_assert_uint_eq(info(f.c).unacked, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(syn_retries_configurable)
{
    struct tcp_fx f;
    fx_connect(&f, cfg_2_syn_retries);
    expect_one_after(f.h, 1 * SEC);
    expect_one_after(f.h, 2 * SEC);
    h_advance(f.h, 4 * SEC - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    h_advance(f.h, 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ETIMEDOUT);
    ck_assert_int_eq(f.h->nout, 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(syn_retransmitted_no_sample_rto_3s)
{
    struct tcp_fx f;
    fx_connect(&f, base_cfg);
    expect_one_after(f.h, 1 * SEC);
    /* The SYN-ACK comes 100 ms after the second SYN: it may answer either,
     * so it gives no sample (Karn), and as the SYN's timer expired the RTO
     * for data starts at 3 s (RFC 6298 5.7). */
    h_advance(f.h, 100 * MS);
    h_send(f.h, &(struct h_seg){.sport = FX_RPORT,
                                .dport = FX_CPORT,
                                .seq = PISN,
                                .ack = f.iss + 1,
                                .flags = TCP_SYN | TCP_ACK,
                                .wnd = 65535,
                                .mss = 1460});
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    struct sk_conn_info i = info(f.c);
    ck_assert_uint_eq(i.srtt_us, 0);
    ck_assert_uint_eq(i.rto_us, 3 * SEC);
    h_clear(f.h);
    ck_assert_int_eq(sk_send(f.c, "abc", 3), 3);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = expect_one_after(f.h, 3 * SEC);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(synack_backoff_and_timeout)
{
    struct tcp_fx f;
    fx_listen(&f, base_cfg, 0);
    fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    struct tcp_seg g;
    static const uint64_t gaps[] = {1, 2, 4, 8, 16};
    for (int i = 0; i < 5; i++) {
        g = expect_one_after(f.h, gaps[i] * SEC);
        ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
        ck_assert_uint_eq(g.seq, f.iss);
        ck_assert_uint_eq(g.ack, PISN + 1);
        ck_assert_uint_eq(g.opt.mss, 1460);
    }
    ck_assert_int_eq(h_count_conns(f.h), 2);
    /* Given up: the half-open connection is freed, the listener stays. */
    h_advance(f.h, 32 * SEC - 1);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_timeout, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_failed_opens, 0);
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_uint_eq(h_events_of(f.h, f.l), 0);
    /* The peer's late ACK meets the listener: RST. */
    h_send(f.h, &(struct h_seg){.sport = FX_PPORT,
                                .dport = FX_LPORT,
                                .seq = PISN + 1,
                                .ack = f.iss + 1,
                                .flags = TCP_ACK});
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    fx_free(&f);
}
END_TEST

START_TEST(synack_answered_after_retransmission)
{
    struct tcp_fx f;
    fx_listen(&f, base_cfg, 0);
    fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    expect_one_after(f.h, 1 * SEC);
    h_advance(f.h, 50 * MS);
    fx_seg(&f, TCP_ACK, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    struct sk_conn_info i = info(c);
    ck_assert_uint_eq(i.srtt_us, 0);      /* Karn: no sample */
    ck_assert_uint_eq(i.rto_us, 3 * SEC); /* RFC 6298 5.7 */
    sk_abort(c);
    fx_free(&f);
}
END_TEST

START_TEST(dup_syn_synack_gives_no_sample)
{
    struct tcp_fx f;
    fx_listen(&f, base_cfg, 0);
    fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    /* The peer's SYN again at 400 ms: our SYN-ACK goes again, so the ACK
     * at 500 ms may answer either and must not be timed (Karn). */
    h_advance(f.h, 400 * MS);
    ck_assert_uint_eq(h_syn(f.h, FX_PPORT, FX_LPORT, PISN, 65535, 1460).seq, f.iss);
    h_advance(f.h, 100 * MS);
    fx_seg(&f, TCP_ACK, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(info(c).srtt_us, 0);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

/* ---- data: SRTT, RTTVAR, RTO ---- */

START_TEST(rto_clamped_to_minimum)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 10 * MS);
    /* RFC 6298 2.2: SRTT = R, RTTVAR = R/2, RTO = SRTT + 4 RTTVAR = 30 ms,
     * raised to tcp_rto_min_ms. */
    struct sk_conn_info i = info(a.c);
    ck_assert_uint_eq(i.srtt_us, 10000);
    ck_assert_uint_eq(i.rttvar_us, 5000);
    ck_assert_uint_eq(i.rto_us, 200000);
    send_data(&a, 100);
    h_clear(a.h);
    h_advance(a.h, 10 * MS);
    fx_ack(&a, a.iss + 101);
    /* 2.3: RTTVAR = 3/4 5000 + 1/4 |10000 - 10000|, SRTT = 10000. */
    i = info(a.c);
    ck_assert_uint_eq(i.srtt_us, 10000);
    ck_assert_uint_eq(i.rttvar_us, 3750);
    ck_assert_uint_eq(i.rto_us, 200000);
    ck_assert_uint_eq(tcp_next_deadline(a.h->s), UINT64_MAX); /* 5.2: all ACKed */
    /* Lost data goes again after exactly 200 ms, then 400 ms. */
    send_data(&a, 100);
    struct tcp_seg g = expect_one_after(a.h, 200 * MS);
    ck_assert_uint_eq(g.seq, a.iss + 101);
    ck_assert_uint_eq(g.len, 100);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH);
    ck_assert_uint_eq(info(a.c).rto_us, 400000);
    g = expect_one_after(a.h, 400 * MS);
    ck_assert_uint_eq(g.seq, a.iss + 101);
    ck_assert_uint_eq(sk_counters(a.h->s)->tcp_retransmits, 2);
    ck_assert_uint_eq(info(a.c).retransmits, 2);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(rto_from_500ms_rtt)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 500 * MS);
    struct sk_conn_info i = info(a.c);
    ck_assert_uint_eq(i.srtt_us, 500000);
    ck_assert_uint_eq(i.rttvar_us, 250000);
    ck_assert_uint_eq(i.rto_us, 1500000); /* 500 ms + 4 * 250 ms */
    send_data(&a, 1000);
    struct tcp_seg g = expect_one_after(a.h, 1500 * MS);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_uint_eq(g.len, 1000);
    g = expect_one_after(a.h, 3 * SEC);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    g = expect_one_after(a.h, 6 * SEC);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_uint_eq(sk_counters(a.h->s)->tcp_timeouts, 3);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(rtt_second_sample)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 500 * MS);
    send_data(&a, 1000);
    h_advance(a.h, 300 * MS);
    fx_ack(&a, a.iss + 1001);
    /* RFC 6298 2.3: RTTVAR = 3/4 250 + 1/4 |500 - 300| = 237.5 ms,
     * SRTT = 7/8 500 + 1/8 300 = 475 ms, RTO = 475 + 4 * 237.5 = 1425 ms. */
    struct sk_conn_info i = info(a.c);
    ck_assert_uint_eq(i.rttvar_us, 237500);
    ck_assert_uint_eq(i.srtt_us, 475000);
    ck_assert_uint_eq(i.rto_us, 1425000);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(karn_no_sample_from_retransmission)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 500 * MS);
    send_data(&a, 1000);
    expect_one_after(a.h, 1500 * MS);
    /* The ACK 100 ms after the retransmission may answer the original:
     * no sample; the backed-off RTO stays until a clean one. */
    h_advance(a.h, 100 * MS);
    fx_ack(&a, a.iss + 1001);
    struct sk_conn_info i = info(a.c);
    ck_assert_uint_eq(i.unacked, 0);
    ck_assert_uint_eq(i.srtt_us, 500000);
    ck_assert_uint_eq(i.rttvar_us, 250000);
    ck_assert_uint_eq(i.rto_us, 3 * SEC);
    /* New data acknowledged 100 ms later is timed again. */
    send_data(&a, 1000);
    h_advance(a.h, 100 * MS);
    fx_ack(&a, a.iss + 2001);
    i = info(a.c);
    ck_assert_uint_eq(i.srtt_us, 450000);   /* 7/8 500 + 1/8 100 */
    ck_assert_uint_eq(i.rttvar_us, 287500); /* 3/4 250 + 1/4 400 */
    ck_assert_uint_eq(i.rto_us, 1600000);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(rto_capped_at_maximum)
{
    struct tcp_fx a;
    fx_open_active(&a, cfg_rto_max_5s, PISN, 500 * MS);
    send_data(&a, 100);
    /* 1.5 s, 3 s, then 6 s capped at tcp_rto_max_ms = 5 s, and 5 s on. */
    static const uint64_t gaps_ms[] = {1500, 3000, 5000, 5000, 5000};
    for (int i = 0; i < 5; i++) {
        struct tcp_seg g = expect_one_after(a.h, gaps_ms[i] * MS);
        ck_assert_uint_eq(g.seq, a.iss + 1);
    }
    ck_assert_uint_eq(info(a.c).rto_us, 5 * SEC);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(timer_restarted_by_partial_ack)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 500 * MS); /* RTO 1.5 s */
    send_data(&a, 3000);                          /* 1460, 1460, 80 */
    ck_assert_int_eq(h_ntcp(a.h), 3);
    h_clear(a.h);
    /* 5.3: an ACK of new data restarts the timer from now. */
    h_advance(a.h, 1 * SEC);
    fx_ack(&a, a.iss + 1461);
    ck_assert_int_eq(a.h->nout, 0);
    struct sk_conn_info i = info(a.c);
    struct tcp_seg g = expect_one_after(a.h, i.rto_us);
    ck_assert_uint_eq(g.seq, a.iss + 1461);
    ck_assert_uint_eq(g.len, 1460);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(max_retries_abort)
{
    struct tcp_fx a;
    fx_open_active(&a, cfg_3_retries, PISN, 0);
    ck_assert_uint_eq(info(a.c).rto_us, 200000);
    send_data(&a, 100);
    expect_one_after(a.h, 200 * MS);
    expect_one_after(a.h, 400 * MS);
    expect_one_after(a.h, 800 * MS);
    ck_assert_uint_eq(info(a.c).retransmits, 3);
    ck_assert_uint_eq(h_events_of(a.h, a.c), 0);
    /* The fourth timeout ends it: ETIMEDOUT for the app, nothing sent. */
    h_advance(a.h, 1600 * MS - 1);
    ck_assert_int_eq(sk_conn_state(a.c), SK_ESTABLISHED);
    h_advance(a.h, 1);
    ck_assert_int_eq(a.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(a.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(a.c), SK_ETIMEDOUT);
    ck_assert_uint_eq(h_events_of(a.h, a.c), SK_EV_ERROR);
    ck_assert_int_eq(sk_send(a.c, "x", 1), -SK_ETIMEDOUT);
    ck_assert_int_eq(sk_recv(a.c, (char[4]){0}, 4), -SK_ETIMEDOUT);
    ck_assert_uint_eq(sk_counters(a.h->s)->tcp_aborts_timeout, 1);
    ck_assert_uint_eq(sk_counters(a.h->s)->tcp_failed_opens, 0);
    sk_close(a.c);
    ck_assert_int_eq(h_count_conns(a.h), 0);
    fx_free(&a);
}
END_TEST

START_TEST(progress_resets_retry_count)
{
    struct tcp_fx a;
    fx_open_active(&a, cfg_3_retries, PISN, 0);
    send_data(&a, 100);
    expect_one_after(a.h, 200 * MS);
    expect_one_after(a.h, 400 * MS);
    expect_one_after(a.h, 800 * MS);
    fx_ack(&a, a.iss + 101); /* progress: the count starts over */
    send_data(&a, 100);
    uint32_t rto = info(a.c).rto_us; /* still backed off: no clean sample */
    ck_assert_uint_eq(rto, 1600000);
    expect_one_after(a.h, rto);
    expect_one_after(a.h, 2 * rto);
    expect_one_after(a.h, 4 * rto);
    ck_assert_int_eq(sk_conn_state(a.c), SK_ESTABLISHED);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(after_timeout_ack_and_rst_at_highest_seq)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 500 * MS); /* RTO 1.5 s */
    send_data(&a, 3000);                          /* 1460, 1460, 80 */
    h_clear(a.h);
    /* The timeout resends the first segment only (cwnd is one segment):
     * snd_nxt is back at iss + 1461, while the peer may hold all 3000. */
    struct tcp_seg g = expect_one_after(a.h, 1500 * MS);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_uint_eq(g.len, 1460);
    /* An out-of-window segment is answered with an ACK at SND.NXT in the
     * RFC's sense, the highest sequence sent (RFC 9293 3.10.7.4). */
    fx_seg_at(&a, a.pseq + 100000, a.iss + 1, TCP_ACK, "x", 1);
    g = h_last_tcp(a.h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 3001);
    ck_assert_uint_eq(g.ack, a.pseq);
    /* ABORT's RST too (3.10.5): one below that is outside a window that
     * starts at 3001 and the peer would drop it. */
    h_clear(a.h);
    sk_abort(a.c);
    h_flush(a.h);
    g = h_last_tcp(a.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, a.iss + 3001);
    fx_free(&a);
}
END_TEST

/* ---- FIN ---- */

START_TEST(fin_retransmitted)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 0);
    ck_assert_int_eq(sk_shutdown(a.c), 0);
    h_flush(a.h);
    struct tcp_seg g = h_last_tcp(a.h);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    g = expect_one_after(a.h, 200 * MS);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_uint_eq(g.ack, a.pseq);
    g = expect_one_after(a.h, 400 * MS);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_int_eq(sk_conn_state(a.c), SK_FIN_WAIT_1);
    fx_ack(&a, a.iss + 2);
    ck_assert_int_eq(sk_conn_state(a.c), SK_FIN_WAIT_2);
    h_advance(a.h, 100 * SEC);
    ck_assert_int_eq(a.h->nout, 0);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(fin_with_data_retransmitted)
{
    struct tcp_fx a;
    fx_open_active(&a, base_cfg, PISN, 0);
    ck_assert_int_eq(sk_send(a.c, "tail", 4), 4);
    sk_shutdown(a.c);
    h_flush(a.h);
    struct tcp_seg g = h_last_tcp(a.h);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_PSH | TCP_ACK);
    ck_assert_uint_eq(g.len, 4);
    g = expect_one_after(a.h, 200 * MS);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_PSH | TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 1);
    ck_assert_uint_eq(g.len, 4);
    ck_assert_mem_eq(g.data, "tail", 4);
    /* The data is ACKed, the FIN not: only the FIN goes again. */
    fx_ack(&a, a.iss + 5);
    ck_assert_int_eq(sk_conn_state(a.c), SK_FIN_WAIT_1);
    g = expect_one_after(a.h, info(a.c).rto_us);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, a.iss + 5);
    ck_assert_uint_eq(g.len, 0);
    fx_ack(&a, a.iss + 6);
    ck_assert_int_eq(sk_conn_state(a.c), SK_FIN_WAIT_2);
    sk_abort(a.c);
    fx_free(&a);
}
END_TEST

START_TEST(last_ack_fin_retransmitted_then_timeout)
{
    struct tcp_fx f;
    fx_listen(&f, cfg_3_retries, 0);
    fx_syn(&f, FX_PPORT, PISN, 65535, 1460);
    fx_seg(&f, TCP_ACK | TCP_FIN, NULL, 0);
    sk_conn *c = sk_accept(f.l);
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSE_WAIT);
    sk_close(c); /* LAST_ACK; the app is gone */
    h_flush(f.h);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    for (int k = 0; k < 3; k++) {
        struct tcp_seg g = expect_one_after(f.h, (200 * MS) << k);
        ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
        ck_assert_uint_eq(g.seq, f.iss + 1);
    }
    /* The peer is gone: after tcp_max_retries the TCB is freed. */
    h_advance(f.h, 1600 * MS);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert_int_eq(f.h->nout, 0);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_timers");
    TCase *syn = tcase_create("syn");
    tcase_add_test(syn, syn_backoff_and_timeout);
    tcase_add_test(syn, synack_after_syn_timeout_before_flush);
    tcase_add_test(syn, syn_retries_configurable);
    tcase_add_test(syn, syn_retransmitted_no_sample_rto_3s);
    tcase_add_test(syn, synack_backoff_and_timeout);
    tcase_add_test(syn, synack_answered_after_retransmission);
    tcase_add_test(syn, dup_syn_synack_gives_no_sample);
    suite_add_tcase(s, syn);
    TCase *rto = tcase_create("rto");
    tcase_add_test(rto, rto_clamped_to_minimum);
    tcase_add_test(rto, rto_from_500ms_rtt);
    tcase_add_test(rto, rtt_second_sample);
    tcase_add_test(rto, karn_no_sample_from_retransmission);
    tcase_add_test(rto, rto_capped_at_maximum);
    tcase_add_test(rto, timer_restarted_by_partial_ack);
    tcase_add_test(rto, max_retries_abort);
    tcase_add_test(rto, progress_resets_retry_count);
    tcase_add_test(rto, after_timeout_ack_and_rst_at_highest_seq);
    suite_add_tcase(s, rto);
    TCase *fin = tcase_create("fin");
    tcase_add_test(fin, fin_retransmitted);
    tcase_add_test(fin, fin_with_data_retransmitted);
    tcase_add_test(fin, last_ack_fin_retransmitted_then_timeout);
    suite_add_tcase(s, fin);
    return h_run(s);
}
