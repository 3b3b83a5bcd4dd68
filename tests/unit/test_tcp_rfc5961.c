/* RFC 5961, "Improving TCP's Robustness to Blind In-Window Attacks": RSTs
 * reset only at exactly RCV.NXT (section 3), SYNs in synchronized states
 * (section 4) and in-window RSTs get challenge ACKs, rate-limited (section
 * 7); ACKs outside [SND.UNA - MAX.SND.WND, SND.NXT] are dropped with an ACK
 * (section 5). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "seq.h"

#define LPORT 5050
#define PPORT 40000
#define PISN  0xC0000000u

struct fx {
    struct harness *h;
    sk_conn *l, *c;
    uint32_t iss;  /* our ISS */
    uint32_t pseq; /* the peer's next sequence number */
    uint32_t pack; /* what the peer acknowledges */
    uint16_t pwnd;
    uint16_t pport;
};

static void seg_at(struct fx *f, uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
                   size_t len)
{
    h_send(f->h, &(struct h_seg){.sport = f->pport,
                                 .dport = LPORT,
                                 .seq = seq,
                                 .ack = ack,
                                 .flags = flags,
                                 .wnd = f->pwnd,
                                 .data = data,
                                 .len = len});
}

static void fx_seg(struct fx *f, uint8_t flags, const void *data, size_t len)
{
    seg_at(f, f->pseq, f->pack, flags, data, len);
    f->pseq += (uint32_t)len + !!(flags & TCP_FIN);
}

static unsigned events_of(struct harness *h, const sk_conn *c)
{
    struct sk_event ev[16];
    unsigned e = 0;
    size_t n;
    while ((n = sk_poll(h->s, ev, 16)) > 0)
        for (size_t i = 0; i < n; i++)
            if (ev[i].conn == c)
                e |= ev[i].events;
    return e;
}

static struct tcp_seg out_tcp(struct harness *h, int i)
{
    struct tcp_seg g;
    ck_assert_msg(h_out_tcp(h, i, &g), "frame %d is not a TCP segment", i);
    return g;
}

/* Another connection from port pport on the same stack and listener. */
static void fx_accept(struct fx *f, uint16_t pport, uint16_t wnd)
{
    f->pport = pport;
    f->pwnd = wnd;
    h_clear(f->h);
    h_send(f->h, &(struct h_seg){.sport = pport,
                                 .dport = LPORT,
                                 .seq = PISN,
                                 .flags = TCP_SYN,
                                 .wnd = wnd,
                                 .mss = 1460});
    struct tcp_seg g = h_last_tcp(f->h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    f->iss = g.seq;
    f->pseq = PISN + 1;
    f->pack = f->iss + 1;
    fx_seg(f, TCP_ACK, NULL, 0);
    f->c = sk_accept(f->l);
    ck_assert_ptr_nonnull(f->c);
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    events_of(f->h, f->c);
    h_clear(f->h);
}

static void fx_open(struct fx *f, uint16_t wnd)
{
    memset(f, 0, sizeof(*f));
    f->h = h_new(NULL);
    h_learn_peer(f->h);
    f->l = sk_listen(f->h->s, LPORT, 0, NULL);
    ck_assert_ptr_nonnull(f->l);
    fx_accept(f, PPORT, wnd);
}

static void fx_free(struct fx *f)
{
    sk_close(f->l);
    h_free(f->h);
}

static const struct sk_counters *ctr(struct fx *f)
{
    return sk_counters(f->h->s);
}

/* Exactly one segment out: a bare ACK <SEQ=SND.NXT><ACK=RCV.NXT>. */
static void expect_ack(struct fx *f, uint32_t snd_nxt, uint32_t rcv_nxt)
{
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = out_tcp(f->h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.seq, snd_nxt);
    ck_assert_uint_eq(g.ack, rcv_nxt);
    ck_assert_uint_eq(g.len, 0);
    h_clear(f->h);
}

/* ---- section 3: RST ---- */

START_TEST(rst_exact_seq_resets)
{
    struct fx f;
    fx_open(&f, 65535);
    seg_at(&f, f.pseq, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    ck_assert_uint_eq(events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_rst_received, 1);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_exact_seq_with_ack_resets)
{
    struct fx f;
    fx_open(&f, 65535);
    /* The ACK field of a RST plays no part (RFC 5961 3.2). */
    seg_at(&f, f.pseq, f.iss + 12345, TCP_RST | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_window_challenged)
{
    struct fx f;
    fx_open(&f, 65535);
    /* Anywhere else in the window: a challenge ACK, no reset. */
    static const uint32_t offs[] = {1, 1000, 65534};
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        seg_at(&f, f.pseq + offs[i], 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
        expect_ack(&f, f.iss + 1, f.pseq);
        ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, i + 1);
    }
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(ctr(&f)->tcp_rst_received, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_resets, 0);
    ck_assert_uint_eq(events_of(f.h, f.c), 0);
    /* The peer, if it really meant it, answers the challenge with a RST at
     * the exact number: that one resets. */
    seg_at(&f, f.pseq, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_window_challenged_other_states)
{
    static const int states[] = {SK_FIN_WAIT_1, SK_FIN_WAIT_2, SK_CLOSE_WAIT, SK_LAST_ACK};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct fx f;
        fx_open(&f, 65535);
        uint32_t nxt = f.iss + 1;
        if (states[i] == SK_CLOSE_WAIT || states[i] == SK_LAST_ACK)
            fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
        if (states[i] != SK_CLOSE_WAIT) {
            sk_shutdown(f.c);
            sk_flush(f.h->s, f.h->now);
            nxt++;
        }
        if (states[i] == SK_FIN_WAIT_2) {
            f.pack = nxt;
            fx_seg(&f, TCP_ACK, NULL, 0);
        }
        ck_assert_int_eq(sk_conn_state(f.c), states[i]);
        h_clear(f.h);
        seg_at(&f, f.pseq + 10, 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(sk_conn_state(f.c), states[i]);
        expect_ack(&f, nxt, f.pseq);
        ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 1);
        sk_abort(f.c);
        fx_free(&f);
    }
}
END_TEST

START_TEST(rst_out_of_window_ignored)
{
    struct fx f;
    fx_open(&f, 65535);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rcv_wnd, 65535);
    static const uint32_t offs[] = {65535, 100000, 0x80000000u, (uint32_t)-1, (uint32_t)-65536};
    for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++)
        seg_at(&f, f.pseq + offs[k], 0, TCP_RST, NULL, 0);
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
    struct fx f;
    fx_open(&f, 65535);
    /* A SYN in the window, with or without ACK, with data: a challenge
     * ACK; the connection stays and the data is not taken. */
    seg_at(&f, f.pseq, 0, TCP_SYN, NULL, 0);
    expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    seg_at(&f, f.pseq + 500, f.pack, TCP_SYN | TCP_ACK, "evil", 4);
    expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, 2);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    /* A SYN at the peer's old ISN (before the window) is answered by the
     * sequence check's ACK; nothing else happens either. */
    seg_at(&f, PISN, 0, TCP_SYN, NULL, 0);
    expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(events_of(f.h, f.c), 0);
    ck_assert_uint_eq(ctr(&f)->tcp_passive_opens, 1);
    /* The connection works on. */
    fx_seg(&f, TCP_ACK | TCP_PSH, "ok", 2);
    expect_ack(&f, f.iss + 1, f.pseq);
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
    struct fx f;
    fx_open(&f, 65535);
    for (int i = 0; i < TCP_CHALLENGE_PER_SEC; i++) {
        seg_at(&f, f.pseq + 1 + (uint32_t)i, 0, TCP_RST, NULL, 0);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        h_clear(f.h);
    }
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, TCP_CHALLENGE_PER_SEC);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 0);
    /* The budget for this second is spent: RSTs and SYNs alike go
     * unanswered, and the connection still stands. */
    seg_at(&f, f.pseq + 7, 0, TCP_RST, NULL, 0);
    seg_at(&f, f.pseq + 9, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* The budget is per stack: another connection is limited too. */
    sk_conn *first = f.c;
    uint32_t first_pseq = f.pseq;
    fx_accept(&f, PPORT + 1, 65535);
    seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 3);
    /* Ordinary ACKs are not limited. */
    seg_at(&f, f.pseq + 70000, f.pack, TCP_ACK, NULL, 0);
    expect_ack(&f, f.iss + 1, f.pseq);
    /* A second later the budget is back. */
    h_advance(f.h, 999999);
    seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, 1);
    seg_at(&f, f.pseq + 3, 0, TCP_RST, NULL, 0);
    expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_acks, TCP_CHALLENGE_PER_SEC + 1);
    ck_assert_uint_eq(ctr(&f)->tcp_challenge_limited, 4);
    f.pport = PPORT;
    seg_at(&f, first_pseq + 3, 0, TCP_RST, NULL, 0);
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
    struct fx f;
    fx_open(&f, 65535);
    ck_assert_int_eq(sk_send(f.c, "12345", 5), 5);
    sk_flush(f.h->s, f.h->now);
    h_clear(f.h);
    /* SEG.ACK > SND.NXT: an ACK in reply, the segment (and its data)
     * dropped. */
    seg_at(&f, f.pseq, f.iss + 7, TCP_ACK | TCP_PSH, "data", 4);
    expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_ack_unsent, 1);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 1);
    ck_assert_uint_eq(i.rcv_nxt, f.pseq);
    /* Far ahead too. */
    seg_at(&f, f.pseq, f.iss + 0x40000000u, TCP_ACK, NULL, 0);
    expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_ack_unsent, 2);
    /* A FIN with such an ACK is dropped as well. */
    seg_at(&f, f.pseq, f.iss + 100, TCP_ACK | TCP_FIN, NULL, 0);
    expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* SEG.ACK = SND.NXT is fine. */
    f.pack = f.iss + 6;
    fx_seg(&f, TCP_ACK | TCP_PSH, "data", 4);
    expect_ack(&f, f.iss + 6, f.pseq);
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
    struct fx f;
    fx_open(&f, 1000); /* MAX.SND.WND will be 1000 */
    static uint8_t data[3000];
    memset(data, 'x', sizeof(data));
    ck_assert_int_eq(sk_send(f.c, data, sizeof(data)), 3000);
    sk_flush(f.h->s, f.h->now);
    for (uint32_t k = 1; k <= 3; k++) {
        f.pack = f.iss + 1 + 1000 * k;
        fx_seg(&f, TCP_ACK, NULL, 0);
    }
    h_clear(f.h);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 3001);
    ck_assert_uint_eq(i.unacked, 0);
    /* SEG.ACK < SND.UNA - MAX.SND.WND: an ACK in reply, data dropped. */
    seg_at(&f, f.pseq, f.iss + 2000, TCP_ACK | TCP_PSH, "old", 3);
    expect_ack(&f, f.iss + 3001, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_old_ack, 1);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    seg_at(&f, f.pseq, f.iss + 1, TCP_ACK, NULL, 0);
    expect_ack(&f, f.iss + 3001, f.pseq);
    ck_assert_uint_eq(ctr(&f)->drop_tcp_old_ack, 2);
    /* At SND.UNA - MAX.SND.WND exactly it is an old duplicate, accepted:
     * the data goes in, SND.UNA stays. */
    seg_at(&f, f.pseq, f.iss + 2001, TCP_ACK | TCP_PSH, "dup", 3);
    f.pseq += 3;
    expect_ack(&f, f.iss + 3001, f.pseq);
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
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
