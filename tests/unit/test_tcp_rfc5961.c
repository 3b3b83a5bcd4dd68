/* RFC 5961, "Improving TCP's Robustness to Blind In-Window Attacks": RSTs
 * reset only at exactly RCV.NXT (section 3), SYNs in synchronized states
 * (section 4) and in-window RSTs get challenge ACKs, rate-limited (section
 * 7); ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] are dropped with an ACK
 * (section 5). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define PISN 0xC0000000u

/* An established connection from the peer, which offers window wnd. */
static void open_established(struct tcp_fx *f, uint16_t wnd)
{
    fx_open_passive(f, NULL, PISN, wnd, 1460);
}

static const struct sk_counters *ctr(struct tcp_fx *f)
{
    return sk_counters(f->h->s);
}

/* ---- section 3: RST ---- */

START_TEST(rst_exact_seq_resets)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    fx_seg_at(&f, f.pseq, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_rst_received, 1);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_exact_seq_with_ack_resets)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    /* The ACK field of a RST plays no part (RFC 5961 3.2). */
    fx_seg_at(&f, f.pseq, f.iss + 12345, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_window_challenged)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    /* Anywhere else in the window: a challenge ACK, no reset. */
    static const uint32_t offs[] = {1, 1000, 65534};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        fx_seg_at(&f, f.pseq + offs[i], 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
        fx_expect_ack(&f, f.iss + 1, f.pseq);
        ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, i + 1);
    }
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(ctr(&f)->tcp_rst_received, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_resets, 0);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    /* The peer, if it really meant it, answers the challenge with a RST at
     * the exact number: that one resets. */
    fx_seg_at(&f, f.pseq, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_window_challenged_other_states)
{
    static const int states[] = {SK_FIN_WAIT_1, SK_FIN_WAIT_2, SK_CLOSE_WAIT, SK_LAST_ACK};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct tcp_fx f;
        open_established(&f, 65535);
        fx_to_state(&f, states[i]);
        /* SND.NXT: past our FIN, if we sent it. */
        uint32_t nxt = f.iss + (states[i] == SK_CLOSE_WAIT ? 1 : 2);
        fx_seg_at(&f, f.pseq + 10, 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(sk_conn_state(f.c), states[i]);
        fx_expect_ack(&f, nxt, f.pseq);
        ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 1);
        sk_abort(f.c);
        fx_free(&f);
    }
}
END_TEST

START_TEST(rst_out_of_window_ignored)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rcv_wnd, 65535);
    static const uint32_t offs[] = {65535, 100000, 0x80000000u, (uint32_t)-1, (uint32_t)-65536};
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++)
        fx_seg_at(&f, f.pseq + offs[k], 0, TCP_RST, NULL, 0);
    /* Silently: no ACK, no challenge, no reset. */
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_unacceptable, 5);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_rst_received, 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- section 4: SYN ---- */

START_TEST(syn_in_established_challenged)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    /* A SYN in the window, with or without ACK, with data: a challenge
     * ACK; the connection stays and the data is not taken. */
    fx_seg_at(&f, f.pseq, 0, TCP_SYN, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    fx_seg_at(&f, f.pseq + 500, f.pack, TCP_SYN | TCP_ACK, "evil", 4);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 2);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    /* A SYN at the peer's old ISN (before the window) is answered by the
     * sequence check's ACK; nothing else happens either. */
    fx_seg_at(&f, PISN, 0, TCP_SYN, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    ck_assert_uint_eq(ctr(&f)->tcp_passive_opens, 1);
    /* The connection works on. */
    fx_seg(&f, TCP_ACK | TCP_PSH, "ok", 2);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    char buf[8];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 2);
    ck_assert_mem_eq(buf, "ok", 2);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- section 7: the rate limit ---- */

START_TEST(challenge_acks_rate_limited)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    for (int i = 0; i < TCP_CHALLENGE_PER_SEC; i++) {
        fx_seg_at(&f, f.pseq + 1 + (uint32_t)i, 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        h_clear(f.h);
    }
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, TCP_CHALLENGE_PER_SEC);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 0);
    /* The budget for this second is spent: RSTs and SYNs alike go
     * unanswered, and the connection still stands. */
    fx_seg_at(&f, f.pseq + 7, 0, TCP_RST, NULL, 0);
    fx_seg_at(&f, f.pseq + 9, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* The budget is per stack: another connection is limited too. */
    sk_conn *first = f.c;
    uint32_t first_pseq = f.pseq;
    fx_accept(&f, FX_PPORT + 1, PISN, 65535, 1460);
    fx_seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 3);
    /* Ordinary ACKs are not limited. */
    fx_seg_at(&f, f.pseq + 70000, f.pack, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    /* A second later the budget is back. */
    h_advance(f.h, 999999);
    fx_seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    fx_seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, TCP_CHALLENGE_PER_SEC + 1);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 4);
    f.pport = FX_PPORT;
    fx_seg_at(&f, first_pseq + 3, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, TCP_CHALLENGE_PER_SEC + 2);
    ck_assert_int_eq(sk_conn_state(first), SK_ESTABLISHED);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(first);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- section 5: ACK ---- */

START_TEST(ack_of_unsent_data_dropped)
{
    struct tcp_fx f;
    open_established(&f, 65535);
    ck_assert_int_eq(sk_send(f.c, "12345", 5), 5);
    h_flush(f.h);
    h_clear(f.h);
    /* SEG.ACK > SND.NXT: an ACK in reply, the segment (and its data)
     * dropped. */
    fx_seg_at(&f, f.pseq, f.iss + 7, TCP_ACK | TCP_PSH, "data", 4);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_ack_unsent, 1);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 1);
    ck_assert_uint_eq(i.rcv_nxt, f.pseq);
    /* Far ahead too. */
    fx_seg_at(&f, f.pseq, f.iss + 0x40000000u, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_ack_unsent, 2);
    /* A FIN with such an ACK is dropped as well. */
    fx_seg_at(&f, f.pseq, f.iss + 100, TCP_ACK | TCP_FIN, NULL, 0);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* SEG.ACK = SND.NXT is fine. */
    f.pack = f.iss + 6;
    fx_seg(&f, TCP_ACK | TCP_PSH, "data", 4);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 6);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), 4);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_ack_unsent, 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(ack_too_old_dropped)
{
    struct tcp_fx f;
    open_established(&f, 1000); /* MAX.SND.WND will be 1000 */
    static uint8_t data[3000];
    memset(data, 'x', sizeof(data));
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), 3000);
    h_flush(f.h);
    for (uint32_t k = 1; k <= 3; k++) {
        fx_ack(&f, f.iss + 1 + 1000 * k);
    }
    h_clear(f.h);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 3001);
    ck_assert_uint_eq(i.unacked, 0);
    /* SEG.ACK < SND.UNA - MAX.SND.WND: an ACK in reply, data dropped. */
    fx_seg_at(&f, f.pseq, f.iss + 2000, TCP_ACK | TCP_PSH, "old", 3);
    fx_expect_ack(&f, f.iss + 3001, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_old_ack, 1);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    fx_seg_at(&f, f.pseq, f.iss + 1, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 3001, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_old_ack, 2);
    /* At SND.UNA - MAX.SND.WND exactly it is an old duplicate, accepted:
     * the data goes in, SND.UNA stays. */
    fx_seg_at(&f, f.pseq, f.iss + 2001, TCP_ACK | TCP_PSH, "dup", 3);
    f.pseq += 3;
    fx_expect_ack(&f, f.iss + 3001, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_old_ack, 2);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), 3);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 3001);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_rfc5961");
    TCase *rst = tcase_create("rst");
    tcase_add_test(rst, rst_exact_seq_resets);
    tcase_add_test(rst, rst_exact_seq_with_ack_resets);
    tcase_add_test(rst, rst_in_window_challenged);
    tcase_add_test(rst, rst_in_window_challenged_other_states);
    tcase_add_test(rst, rst_out_of_window_ignored);
    suite_add_tcase(s, rst);
    TCase *syn = tcase_create("syn");
    tcase_add_test(syn, syn_in_established_challenged);
    tcase_add_test(syn, challenge_acks_rate_limited);
    suite_add_tcase(s, syn);
    TCase *ack = tcase_create("ack");
    tcase_add_test(ack, ack_of_unsent_data_dropped);
    tcase_add_test(ack, ack_too_old_dropped);
    suite_add_tcase(s, ack);
    return h_run(s);
}
