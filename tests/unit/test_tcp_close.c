/* Closing connections (RFC 9293 3.6, 3.10.4, 3.10.5, 3.10.7.4 steps 2 and
 * 8): active, passive and simultaneous close, half-close, TIME_WAIT and its
 * 2*MSL, resets and aborts in every state.  The state observer
 * (cfg.on_state) records every transition so whole paths are checked. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define PISN       0x70000000u
#define MSL_MS     100 /* so TIME_WAIT lasts 200 ms */
#define TWO_MSL_US (2ULL * MSL_MS * 1000)

/* ---- the state observer ---- */

#define MAX_CHANGES 64
static struct sk_state_change changes[MAX_CHANGES];
static uint64_t change_time[MAX_CHANGES];
static int nchanges;

static void record(void *ctx, const struct sk_state_change *ch, uint64_t now)
{
    (void)ctx;
    ck_assert_int_lt(nchanges, MAX_CHANGES);
    change_time[nchanges] = now;
    changes[nchanges++] = *ch;
}

static void tweak(struct sk_config *cfg)
{
    cfg->tcp_msl_ms = MSL_MS;
    cfg->on_state = record;
    nchanges = 0;
}

/* Checks the states conn went through, in order: from[0] -> to[0] ... */
static void assert_path(const sk_conn *c, const int *states, int n)
{
    int k = 0;
    for (int i = 0; i < nchanges; i++) {
        if (changes[i].conn != c)
            continue;
        ck_assert_msg(k + 1 < n, "extra transition %s -> %s", sk_state_name(changes[i].from),
                      sk_state_name(changes[i].to));
        ck_assert_msg(changes[i].from == states[k] && changes[i].to == states[k + 1],
                      "transition %d: %s -> %s, expected %s -> %s", k,
                      sk_state_name(changes[i].from), sk_state_name(changes[i].to),
                      sk_state_name(states[k]), sk_state_name(states[k + 1]));
        k++;
    }
    ck_assert_msg(k == n - 1, "%d transitions, expected %d", k, n - 1);
}

/* The last recorded change of conn. */
static const struct sk_state_change *last_change(const sk_conn *c)
{
    for (int i = nchanges - 1; i >= 0; i--)
        if (changes[i].conn == c)
            return &changes[i];
    ck_abort_msg("no state change recorded");
    return NULL;
}

/* ---- a connection and its peer ---- */

/* A passive open (the listener stays open), brought to `state`. */
static void open_in(struct tcp_fx *f, int state)
{
    fx_open_passive(f, tweak, PISN, 65535, 1460);
    fx_to_state(f, state);
}

/* The states in which data still flows one way or both. */
static const int open_states[] = {SK_ESTABLISHED, SK_FIN_WAIT_1, SK_FIN_WAIT_2, SK_CLOSE_WAIT};
#define N_OPEN_STATES (sizeof(open_states) / sizeof(open_states[0]))

/* ---- active close ---- */

START_TEST(active_close)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_1);
    ck_assert_str_eq(last_change(f.c)->cause, "app: close");
    ck_assert_int_eq(f.h->nout, 0); /* until the flush */
    h_flush(f.h);
    fx_expect_one(&f, TCP_FIN | TCP_ACK, f.iss + 1, f.pseq);
    ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_EPIPE);
    ck_assert_int_eq(sk_shutdown(f.c), 0); /* twice is harmless */

    /* The peer ACKs our FIN: FIN_WAIT_2, nothing to send. */
    h_clear(f.h);
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    ck_assert_int_eq(f.h->nout, 0);

    /* Its FIN: TIME_WAIT, ACKed at once; the app learns it is closed. */
    uint32_t fin_seq = f.pseq;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_CLOSED | SK_EV_PEER_CLOSED | SK_EV_READABLE);
    ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4), 0);
    char cause[64];
    snprintf(cause, sizeof(cause), "F. seq %u ack %u", (unsigned)fin_seq, (unsigned)(f.iss + 2));
    ck_assert_str_eq(last_change(f.c)->cause, cause);

    /* 2*MSL later, and not a microsecond before, CLOSED. */
    h_clear(f.h);
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    h_advance(f.h, 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0); /* TIME_WAIT already told it */
    ck_assert_str_eq(last_change(f.c)->cause, "2*MSL timer");
    static const int path[] = {SK_LISTEN,     SK_SYN_RECEIVED, SK_ESTABLISHED, SK_FIN_WAIT_1,
                               SK_FIN_WAIT_2, SK_TIME_WAIT,    SK_CLOSED};
    assert_path(f.c, path, 7);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    sk_close(f.c);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(shutdown_in_syn_sent_waits_for_established)
{
    /* RFC 9293 3.10.4 CLOSE in SYN_SENT/SYN_RECEIVED with a handle kept:
     * the FIN is queued and goes right after the handshake. */
    struct tcp_fx f;
    fx_connect(&f, tweak);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    h_flush(f.h);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_SENT);
    ck_assert_int_eq(f.h->nout, 0);
    fx_seg_at(&f, PISN, f.iss + 1, TCP_SYN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_1);
    /* The FIN carries the ACK of the peer's SYN. */
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.ack, PISN + 1);
    fx_seg_at(&f, PISN + 1, f.iss + 2, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    static const int path[] = {SK_CLOSED, SK_SYN_SENT, SK_ESTABLISHED, SK_FIN_WAIT_1,
                               SK_FIN_WAIT_2};
    assert_path(f.c, path, 5);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(shutdown_in_syn_received_waits_for_established)
{
    /* Simultaneous open: SYN_SENT -> SYN_RECEIVED, then the app shuts
     * down before the peer's ACK comes. */
    struct tcp_fx f;
    fx_connect(&f, tweak);
    fx_seg_at(&f, PISN, 0, TCP_SYN, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_RECEIVED);
    h_clear(f.h);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    h_flush(f.h);
    ck_assert_int_eq(f.h->nout, 0);
    fx_seg_at(&f, PISN + 1, f.iss + 1, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_1);
    fx_expect_one(&f, TCP_FIN | TCP_ACK, f.iss + 1, PISN + 1);
    static const int path[] = {SK_CLOSED, SK_SYN_SENT, SK_SYN_RECEIVED, SK_ESTABLISHED,
                               SK_FIN_WAIT_1};
    assert_path(f.c, path, 5);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(close_in_syn_sent_deletes)
{
    /* 3.10.4 CLOSE in SYN_SENT: delete the TCB; nothing is sent, and the
     * peer's late SYN-ACK finds no connection (a RST answers it). */
    struct tcp_fx f;
    fx_connect(&f, tweak);
    sk_close(f.c);
    h_flush(f.h);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 0);
    fx_seg_at(&f, PISN, f.iss + 1, TCP_SYN | TCP_ACK, NULL, 0);
    fx_expect_one(&f, TCP_RST, f.iss + 1, 0);
    fx_free(&f);
}
END_TEST

START_TEST(active_close_released_handle)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    sk_conn *c = f.c;
    sk_close(c); /* the app lets go; TCP finishes the close alone */
    h_flush(f.h);
    fx_expect_one(&f, TCP_FIN | TCP_ACK, f.iss + 1, f.pseq);
    fx_ack(&f, f.iss + 2);
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_count_conns(f.h), 1); /* only the listener is left */
    static const int path[] = {SK_LISTEN,     SK_SYN_RECEIVED, SK_ESTABLISHED, SK_FIN_WAIT_1,
                               SK_FIN_WAIT_2, SK_TIME_WAIT,    SK_CLOSED};
    assert_path(c, path, 7);
    /* A segment for the freed connection now meets the listener. */
    h_clear(f.h);
    fx_seg(&f, TCP_ACK, NULL, 0);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    fx_free(&f);
}
END_TEST

START_TEST(fin_and_ack_together)
{
    struct tcp_fx f;
    open_in(&f, SK_FIN_WAIT_1);
    /* One segment ACKs our FIN and carries the peer's: TIME_WAIT.  RFC 9293
     * 3.10.7.4 reaches it through FIN_WAIT_2 within the segment (step 5
     * "enter FIN-WAIT-2 and continue processing in that state", then step
     * 8), so the observer sees both. */
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    static const int path[] = {SK_LISTEN,     SK_SYN_RECEIVED, SK_ESTABLISHED,
                               SK_FIN_WAIT_1, SK_FIN_WAIT_2,   SK_TIME_WAIT};
    assert_path(f.c, path, 6);
    /* Both transitions name the same segment. */
    ck_assert_str_eq(changes[nchanges - 1].cause, changes[nchanges - 2].cause);
    h_advance(f.h, TWO_MSL_US);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(simultaneous_close)
{
    struct tcp_fx f;
    open_in(&f, SK_FIN_WAIT_1);
    /* The peer's FIN crosses ours (it ACKs only up to our data). */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSING);
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    /* Then its ACK of our FIN. */
    h_clear(f.h);
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    ck_assert_int_eq(f.h->nout, 0);
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    h_advance(f.h, 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    static const int path[] = {SK_LISTEN,  SK_SYN_RECEIVED, SK_ESTABLISHED, SK_FIN_WAIT_1,
                               SK_CLOSING, SK_TIME_WAIT,    SK_CLOSED};
    assert_path(f.c, path, 7);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

/* ---- passive close ---- */

START_TEST(passive_close_full_path)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    sk_conn *c = f.c;
    /* The peer closes first: CLOSE_WAIT, ACK, and the app is told. */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSE_WAIT);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(h_events_of(f.h, c), SK_EV_PEER_CLOSED | SK_EV_READABLE);
    ck_assert_int_eq(sk_recv(c, (char[4]){0}, 4), 0);
    /* We may still send. */
    h_clear(f.h);
    ck_assert_int_eq(sk_send(c, "bye", 3), 3);
    h_flush(f.h);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 3);
    /* Then close: LAST_ACK, our FIN after the data. */
    h_clear(f.h);
    sk_close(c);
    h_flush(f.h);
    fx_expect_one(&f, TCP_FIN | TCP_ACK, f.iss + 4, f.pseq);
    fx_ack(&f, f.iss + 5);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 1); /* freed */
    /* The whole life of the passive side, as the observer saw it. */
    static const int path[] = {SK_LISTEN,     SK_SYN_RECEIVED, SK_ESTABLISHED,
                               SK_CLOSE_WAIT, SK_LAST_ACK,     SK_CLOSED};
    assert_path(c, path, 6);
    /* The listener's own: CLOSED -> LISTEN. */
    static const int lpath[] = {SK_CLOSED, SK_LISTEN};
    assert_path(f.l, lpath, 2);
    fx_free(&f);
}
END_TEST

START_TEST(passive_close_kept_handle)
{
    struct tcp_fx f;
    open_in(&f, SK_LAST_ACK);
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_CLOSED);
    ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4), 0);
    ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_EPIPE);
    sk_close(f.c);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(last_ack_needs_ack_of_fin)
{
    struct tcp_fx f;
    open_in(&f, SK_LAST_ACK);
    /* A duplicate ACK that does not cover our FIN changes nothing. */
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_LAST_ACK);
    ck_assert_int_eq(f.h->nout, 0);
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

/* ---- half-close ---- */

START_TEST(half_close_keeps_receiving)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    /* Data queued before the shutdown goes first, the FIN rides on it. */
    ck_assert_int_eq(sk_send(f.c, "last", 4), 4);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    h_flush(f.h);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH | TCP_FIN);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 4);
    h_clear(f.h);
    fx_ack(&f, f.iss + 6);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    /* The peer goes on sending: delivered and ACKed. */
    fx_seg(&f, TCP_ACK | TCP_PSH, "more data", 9);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_READABLE | SK_EV_WRITABLE);
    char buf[32];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 9);
    ck_assert_mem_eq(buf, "more data", 9);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), -SK_EAGAIN);
    fx_seg(&f, TCP_ACK, "!", 1);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    /* FIN after unread data: the data is read first, then 0. */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    fx_expect_ack(&f, f.iss + 6, f.pseq);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 1);
    ck_assert_int_eq(buf[0], '!');
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(orphan_fin_wait_2_times_out)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    sk_close(f.c);
    h_flush(f.h);
    fx_ack(&f, f.iss + 2);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    /* A peer that never sends its FIN cannot hold it forever. */
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(orphan_receiving_data_resets)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    sk_close(f.c);
    h_flush(f.h);
    h_clear(f.h);
    fx_ack(&f, f.iss + 2);
    /* Nobody will read this (RFC 1122 4.2.2.13): RST. */
    fx_seg(&f, TCP_ACK, "late", 4);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

/* ---- resets we send ---- */

START_TEST(close_with_unread_data_resets)
{
    struct tcp_fx f;
    open_in(&f, SK_ESTABLISHED);
    fx_seg(&f, TCP_ACK | TCP_PSH, "unread", 6);
    ck_assert_int_eq(sk_send(f.c, "out", 3), 3);
    h_flush(f.h);
    h_clear(f.h);
    sk_conn *c = f.c;
    sk_close(c);
    /* RFC 1122 4.2.2.13 / RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>, at once. */
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 4);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_rst_sent, 1);
    /* No FIN or retransmission follows. */
    h_clear(f.h);
    h_advance(f.h, 120000000);
    ck_assert_int_eq(f.h->nout, 0);
    static const int path[] = {SK_LISTEN, SK_SYN_RECEIVED, SK_ESTABLISHED, SK_CLOSED};
    assert_path(c, path, 4);
    fx_free(&f);
}
END_TEST

START_TEST(abort_resets)
{
    for (size_t i = 0; i < N_OPEN_STATES; i++) {
        struct tcp_fx f;
        open_in(&f, open_states[i]);
        struct sk_conn_info info;
        sk_conn_info(f.c, &info);
        sk_abort(f.c);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        struct tcp_seg g = h_out_tcp_at(f.h, 0);
        ck_assert_uint_eq(g.flags, TCP_RST);
        ck_assert_uint_eq(g.seq, info.snd_nxt);
        ck_assert_int_eq(h_count_conns(f.h), 1);
        h_clear(f.h);
        h_advance(f.h, 120000000);
        ck_assert_int_eq(f.h->nout, 0);
        fx_free(&f);
    }
}
END_TEST

START_TEST(abort_without_rst)
{
    /* Where the peer holds no synchronized state, ABORT sends nothing
     * (RFC 9293 3.10.5): SYN_SENT, and the closing states past our FIN. */
    struct tcp_fx a;
    fx_connect(&a, tweak);
    sk_abort(a.c);
    ck_assert_int_eq(a.h->nout, 0);
    ck_assert_int_eq(h_count_conns(a.h), 0);
    h_advance(a.h, 10000000);
    ck_assert_int_eq(a.h->nout, 0);
    fx_free(&a);

    struct tcp_fx f;
    open_in(&f, SK_TIME_WAIT);
    sk_abort(f.c);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

/* ---- resets received (3.10.7.4 second, with RFC 5961 3.2's exact match) ---- */

START_TEST(rst_in_syn_received_frees_child)
{
    struct tcp_fx f;
    fx_listen(&f, tweak, 0);
    h_syn(f.h, FX_PPORT, FX_LPORT, PISN, 65535, 0);
    ck_assert_int_eq(h_count_conns(f.h), 2);
    const sk_conn *child = changes[nchanges - 1].conn;
    ck_assert_int_eq(changes[nchanges - 1].to, SK_SYN_RECEIVED);
    h_send(f.h, &(struct h_seg){
                    .sport = FX_PPORT, .dport = FX_LPORT, .seq = PISN + 1, .flags = TCP_RST});
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(h_count_conns(f.h), 1);
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_int_eq(sk_conn_state(f.l), SK_LISTEN);
    ck_assert_uint_eq(h_events_of(f.h, f.l), 0);
    static const int path[] = {SK_LISTEN, SK_SYN_RECEIVED, SK_CLOSED};
    assert_path(child, path, 3);
    /* Nothing is retransmitted for it, and the listener goes on. */
    h_advance(f.h, 100000000);
    ck_assert_int_eq(f.h->nout, 0);
    h_learn_peer(f.h); /* the ARP entry aged out meanwhile */
    h_syn(f.h, FX_PPORT, FX_LPORT, 5, 65535, 0);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_syn_sent_refused)
{
    struct tcp_fx f;
    fx_connect(&f, tweak);
    h_send(f.h, &(struct h_seg){.sport = FX_RPORT,
                                .dport = FX_CPORT,
                                .seq = 0,
                                .ack = f.iss + 1,
                                .flags = TCP_RST | TCP_ACK});
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNREFUSED);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_int_eq(f.h->nout, 0);
    static const int path[] = {SK_CLOSED, SK_SYN_SENT, SK_CLOSED};
    assert_path(f.c, path, 3);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_syn_received_active_refused)
{
    /* A simultaneous open, then a RST: the connection came from SYN_SENT,
     * so it was refused (RFC 9293 3.10.7.4 second, SYN-RECEIVED). */
    struct tcp_fx f;
    fx_connect(&f, tweak);
    h_send(f.h,
           &(struct h_seg){
               .sport = FX_RPORT, .dport = FX_CPORT, .seq = 700, .flags = TCP_SYN, .wnd = 1000});
    ck_assert_int_eq(sk_conn_state(f.c), SK_SYN_RECEIVED);
    h_clear(f.h);
    h_send(f.h,
           &(struct h_seg){.sport = FX_RPORT, .dport = FX_CPORT, .seq = 701, .flags = TCP_RST});
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNREFUSED);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
    ck_assert_int_eq(f.h->nout, 0);
    sk_close(f.c);
    ck_assert_int_eq(h_count_conns(f.h), 0);
    fx_free(&f);
}
END_TEST

START_TEST(rst_resets_synchronized_states)
{
    for (size_t i = 0; i < N_OPEN_STATES; i++) {
        struct tcp_fx f;
        open_in(&f, open_states[i]);
        fx_seg(&f, TCP_RST, NULL, 0);
        ck_assert_msg(sk_conn_state(f.c) == SK_CLOSED, "RST in %s", sk_state_name(open_states[i]));
        ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
        ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_ERROR);
        ck_assert_int_eq(f.h->nout, 0);
        ck_assert_uint_eq(sk_counters(f.h->s)->tcp_resets, 1);
        ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4),
                         open_states[i] == SK_CLOSE_WAIT ? 0 : -SK_ECONNRESET);
        ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_ECONNRESET);
        const struct sk_state_change *ch = last_change(f.c);
        ck_assert_int_eq(ch->from, open_states[i]);
        ck_assert_int_eq(ch->to, SK_CLOSED);
        char cause[48];
        snprintf(cause, sizeof(cause), "R seq %u", (unsigned)f.pseq);
        ck_assert_str_eq(ch->cause, cause);
        /* Nothing more goes out: no retransmission of our FIN. */
        h_advance(f.h, 120000000);
        ck_assert_int_eq(f.h->nout, 0);
        sk_close(f.c);
        ck_assert_int_eq(h_count_conns(f.h), 1);
        fx_free(&f);
    }
}
END_TEST

START_TEST(rst_closes_closing_states)
{
    static const int states[] = {SK_CLOSING, SK_LAST_ACK, SK_TIME_WAIT};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct tcp_fx f;
        open_in(&f, states[i]);
        fx_seg(&f, TCP_RST | TCP_ACK, NULL, 0);
        ck_assert_msg(sk_conn_state(f.c) == SK_CLOSED, "RST in %s", sk_state_name(states[i]));
        ck_assert_int_eq(sk_conn_error(f.c), 0);
        ck_assert_int_eq(f.h->nout, 0);
        ck_assert_uint_eq(sk_counters(f.h->s)->tcp_resets, 0);
        ck_assert_uint_eq(h_events_of(f.h, f.c), states[i] == SK_TIME_WAIT ? 0 : SK_EV_CLOSED);
        ck_assert_int_eq(last_change(f.c)->from, states[i]);
        h_advance(f.h, 120000000);
        ck_assert_int_eq(f.h->nout, 0);
        sk_close(f.c);
        ck_assert_int_eq(h_count_conns(f.h), 1);
        fx_free(&f);
    }
}
END_TEST

/* ---- TIME_WAIT ---- */

START_TEST(time_wait_acks_retransmitted_fin)
{
    struct tcp_fx f;
    open_in(&f, SK_TIME_WAIT);
    /* Half of 2*MSL later our last ACK was lost: the peer sends its FIN
     * again.  It is ACKed and the 2*MSL wait starts over (RFC 9293
     * 3.10.7.4 eighth, TIME-WAIT). */
    h_advance(f.h, TWO_MSL_US / 2);
    ck_assert_int_eq(f.h->nout, 0);
    f.pseq -= 1;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    h_advance(f.h, TWO_MSL_US / 2);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT); /* the old deadline passed */
    h_advance(f.h, TWO_MSL_US / 2 - 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    h_advance(f.h, 1);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(f.h->nout, 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(time_wait_acks_old_segment)
{
    struct tcp_fx f;
    open_in(&f, SK_TIME_WAIT);
    /* An old duplicate data segment: answered with an ACK, not delivered. */
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    uint32_t save = f.pseq;
    f.pseq -= 10;
    fx_seg(&f, TCP_ACK, "0123456789", 10);
    f.pseq = save;
    fx_expect_ack(&f, f.iss + 2, f.pseq);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_close");
    TCase *tc = tcase_create("close");
    tcase_add_test(tc, active_close);
    tcase_add_test(tc, active_close_released_handle);
    tcase_add_test(tc, fin_and_ack_together);
    tcase_add_test(tc, simultaneous_close);
    tcase_add_test(tc, passive_close_full_path);
    tcase_add_test(tc, passive_close_kept_handle);
    tcase_add_test(tc, last_ack_needs_ack_of_fin);
    tcase_add_test(tc, half_close_keeps_receiving);
    tcase_add_test(tc, shutdown_in_syn_sent_waits_for_established);
    tcase_add_test(tc, shutdown_in_syn_received_waits_for_established);
    tcase_add_test(tc, close_in_syn_sent_deletes);
    tcase_add_test(tc, orphan_fin_wait_2_times_out);
    tcase_add_test(tc, orphan_receiving_data_resets);
    suite_add_tcase(s, tc);
    TCase *rst = tcase_create("reset");
    tcase_add_test(rst, close_with_unread_data_resets);
    tcase_add_test(rst, abort_resets);
    tcase_add_test(rst, abort_without_rst);
    tcase_add_test(rst, rst_in_syn_received_frees_child);
    tcase_add_test(rst, rst_in_syn_sent_refused);
    tcase_add_test(rst, rst_in_syn_received_active_refused);
    tcase_add_test(rst, rst_resets_synchronized_states);
    tcase_add_test(rst, rst_closes_closing_states);
    suite_add_tcase(s, rst);
    TCase *tw = tcase_create("time_wait");
    tcase_add_test(tw, time_wait_acks_retransmitted_fin);
    tcase_add_test(tw, time_wait_acks_old_segment);
    suite_add_tcase(s, tw);
    return h_run(s);
}
