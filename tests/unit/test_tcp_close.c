/* Closing connections (RFC 9293 3.6, 3.10.4, 3.10.5, 3.10.7.4 steps 2 and
 * 8): active, passive and simultaneous close, half-close, TIME_WAIT and its
 * 2*MSL, resets and aborts in every state.  The state observer
 * (cfg.on_state) records every transition so whole paths are checked. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "seq.h"

#define LPORT      5050
#define PPORT      40000
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

struct fx {
    struct harness *h;
    sk_conn *l, *c;
    uint32_t iss;  /* our ISS */
    uint32_t pseq; /* the peer's next sequence number */
    uint32_t pack; /* what the peer acknowledges */
};

static void fx_seg(struct fx *f, uint8_t flags, const void *data, size_t len)
{
    h_send(f->h, &(struct h_seg){.sport = PPORT,
                                 .dport = LPORT,
                                 .seq = f->pseq,
                                 .ack = f->pack,
                                 .flags = flags,
                                 .wnd = 65535,
                                 .data = data,
                                 .len = len});
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

static int ncb;
static void count_cb(void *ctx, const sk_conn *c)
{
    (void)ctx;
    (void)c;
    ncb++;
}
static int count_conns(struct harness *h)
{
    ncb = 0;
    sk_foreach_conn(h->s, count_cb, NULL);
    return ncb;
}

static struct tcp_seg out_tcp(struct harness *h, int i)
{
    struct tcp_seg g;
    ck_assert_msg(h_out_tcp(h, i, &g), "frame %d is not a TCP segment", i);
    return g;
}

/* A passive open: the listener stays open, the connection is accepted. */
static void fx_open(struct fx *f)
{
    f->h = h_new(tweak);
    h_learn_peer(f->h);
    int err;
    f->l = sk_listen(f->h->s, LPORT, 0, &err);
    ck_assert_ptr_nonnull(f->l);
    h_send(f->h, &(struct h_seg){.sport = PPORT,
                                 .dport = LPORT,
                                 .seq = PISN,
                                 .flags = TCP_SYN,
                                 .wnd = 65535,
                                 .mss = 1460});
    f->iss = h_last_tcp(f->h).seq;
    f->pseq = PISN + 1;
    f->pack = f->iss + 1;
    fx_seg(f, TCP_ACK, NULL, 0);
    f->c = sk_accept(f->l);
    ck_assert_ptr_nonnull(f->c);
    ck_assert_int_eq(sk_conn_state(f->c), SK_ESTABLISHED);
    events_of(f->h, f->c);
    h_clear(f->h);
}

static void fx_free(struct fx *f)
{
    if (f->l)
        sk_close(f->l);
    h_free(f->h);
}

static void flush(struct fx *f)
{
    sk_flush(f->h->s, f->h->now);
}

/* Our FIN went out as the only segment: check and return it. */
static struct tcp_seg expect_fin(struct fx *f, uint32_t seq)
{
    ck_assert_int_eq(h_ntcp(f->h), 1);
    struct tcp_seg g = out_tcp(f->h, 0);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, seq);
    ck_assert_uint_eq(g.ack, f->pseq);
    ck_assert_uint_eq(g.len, 0);
    return g;
}

/* The last segment out is a bare ACK of everything the peer sent. */
static void expect_ack(struct fx *f, uint32_t seq)
{
    struct tcp_seg g = h_last_tcp(f->h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.seq, seq);
    ck_assert_uint_eq(g.ack, f->pseq);
    ck_assert_uint_eq(g.len, 0);
}

/* Brings the fixture's connection to `state` (the app keeps its handle). */
static void fx_to_state(struct fx *f, int state)
{
    switch (state) {
    case SK_ESTABLISHED:
        break;
    case SK_FIN_WAIT_1:
        ck_assert_int_eq(sk_shutdown(f->c), 0);
        flush(f);
        break;
    case SK_FIN_WAIT_2:
        fx_to_state(f, SK_FIN_WAIT_1);
        f->pack = f->iss + 2;
        fx_seg(f, TCP_ACK, NULL, 0);
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
        flush(f);
        break;
    case SK_TIME_WAIT:
        fx_to_state(f, SK_FIN_WAIT_2);
        fx_seg(f, TCP_FIN | TCP_ACK, NULL, 0);
        break;
    default:
        ck_abort_msg("no path to %s", sk_state_name(state));
    }
    ck_assert_int_eq(sk_conn_state(f->c), state);
    events_of(f->h, f->c);
    h_clear(f->h);
}

/* ---- active close ---- */

START_TEST(active_close)
{
    struct fx f;
    fx_open(&f);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_1);
    ck_assert_str_eq(last_change(f.c)->cause, "app: close");
    ck_assert_int_eq(f.h->nout, 0);                /* until the flush */
    flush(&f);
    expect_fin(&f, f.iss + 1);
    ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_EPIPE);
    ck_assert_int_eq(sk_shutdown(f.c), 0); /* twice is harmless */

    /* The peer ACKs our FIN: FIN_WAIT_2, nothing to send. */
    h_clear(f.h);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    ck_assert_int_eq(f.h->nout, 0);

    /* Its FIN: TIME_WAIT, ACKed at once; the app learns it is closed. */
    uint32_t fin_seq = f.pseq;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    expect_ack(&f, f.iss + 2);
    ck_assert_uint_eq(events_of(f.h, f.c), SK_EV_CLOSED | SK_EV_PEER_CLOSED | SK_EV_READABLE);
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
    ck_assert_uint_eq(events_of(f.h, f.c), 0); /* TIME_WAIT already told it */
    ck_assert_str_eq(last_change(f.c)->cause, "2*MSL timer");
    static const int path[] = {SK_LISTEN,     SK_SYN_RECEIVED, SK_ESTABLISHED, SK_FIN_WAIT_1,
                               SK_FIN_WAIT_2, SK_TIME_WAIT,    SK_CLOSED};
    assert_path(f.c, path, 7);
    ck_assert_int_eq(count_conns(f.h), 2);
    sk_close(f.c);
    ck_assert_int_eq(count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(active_close_released_handle)
{
    struct fx f;
    fx_open(&f);
    sk_conn *c = f.c;
    sk_close(c); /* the app lets go; TCP finishes the close alone */
    flush(&f);
    expect_fin(&f, f.iss + 1);
    h_clear(f.h);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    expect_ack(&f, f.iss + 2);
    ck_assert_int_eq(count_conns(f.h), 2);
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(count_conns(f.h), 2);
    h_advance(f.h, 1);
    ck_assert_int_eq(count_conns(f.h), 1); /* only the listener is left */
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
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_FIN_WAIT_1);
    /* One segment ACKs our FIN and carries the peer's: TIME_WAIT.  RFC 9293
     * 3.10.7.4 reaches it through FIN_WAIT_2 within the segment (step 5
     * "enter FIN-WAIT-2 and continue processing in that state", then step
     * 8), so the observer sees both. */
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    expect_ack(&f, f.iss + 2);
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
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_FIN_WAIT_1);
    /* The peer's FIN crosses ours (it ACKs only up to our data). */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSING);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    expect_ack(&f, f.iss + 2);
    /* Then its ACK of our FIN. */
    h_clear(f.h);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
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
    struct fx f;
    fx_open(&f);
    sk_conn *c = f.c;
    /* The peer closes first: CLOSE_WAIT, ACK, and the app is told. */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSE_WAIT);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    expect_ack(&f, f.iss + 1);
    ck_assert_uint_eq(events_of(f.h, c), SK_EV_PEER_CLOSED | SK_EV_READABLE);
    ck_assert_int_eq(sk_recv(c, (char[4]){0}, 4), 0);
    /* We may still send. */
    h_clear(f.h);
    ck_assert_int_eq(sk_send(c, "bye", 3), 3);
    flush(&f);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 3);
    /* Then close: LAST_ACK, our FIN after the data. */
    h_clear(f.h);
    sk_close(c);
    flush(&f);
    expect_fin(&f, f.iss + 4);
    h_clear(f.h);
    f.pack = f.iss + 5;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(count_conns(f.h), 1); /* freed */
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
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_LAST_ACK);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), 0);
    ck_assert_uint_eq(events_of(f.h, f.c), SK_EV_CLOSED);
    ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4), 0);
    ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_EPIPE);
    sk_close(f.c);
    ck_assert_int_eq(count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(last_ack_needs_ack_of_fin)
{
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_LAST_ACK);
    /* A duplicate ACK that does not cover our FIN changes nothing. */
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_LAST_ACK);
    ck_assert_int_eq(f.h->nout, 0);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

/* ---- half-close ---- */

START_TEST(half_close_keeps_receiving)
{
    struct fx f;
    fx_open(&f);
    /* Data queued before the shutdown goes first, the FIN rides on it. */
    ck_assert_int_eq(sk_send(f.c, "last", 4), 4);
    ck_assert_int_eq(sk_shutdown(f.c), 0);
    flush(&f);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = out_tcp(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH | TCP_FIN);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 4);
    h_clear(f.h);
    f.pack = f.iss + 6;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    /* The peer goes on sending: delivered and ACKed. */
    fx_seg(&f, TCP_ACK | TCP_PSH, "more data", 9);
    ck_assert_int_eq(sk_conn_state(f.c), SK_FIN_WAIT_2);
    expect_ack(&f, f.iss + 6);
    ck_assert_uint_eq(events_of(f.h, f.c), SK_EV_READABLE | SK_EV_WRITABLE);
    char buf[32];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 9);
    ck_assert_mem_eq(buf, "more data", 9);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), -SK_EAGAIN);
    fx_seg(&f, TCP_ACK, "!", 1);
    /* FIN after unread data: the data is read first, then 0. */
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    expect_ack(&f, f.iss + 6);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 1);
    ck_assert_int_eq(buf[0], '!');
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 0);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(orphan_fin_wait_2_times_out)
{
    struct fx f;
    fx_open(&f);
    sk_close(f.c);
    flush(&f);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(count_conns(f.h), 2);
    /* A peer that never sends its FIN cannot hold it forever. */
    h_advance(f.h, TWO_MSL_US - 1);
    ck_assert_int_eq(count_conns(f.h), 2);
    h_advance(f.h, 1);
    ck_assert_int_eq(count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

START_TEST(orphan_receiving_data_resets)
{
    struct fx f;
    fx_open(&f);
    sk_close(f.c);
    flush(&f);
    h_clear(f.h);
    f.pack = f.iss + 2;
    fx_seg(&f, TCP_ACK, NULL, 0);
    /* Nobody will read this (RFC 1122 4.2.2.13): RST. */
    fx_seg(&f, TCP_ACK, "late", 4);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    ck_assert_int_eq(count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

/* ---- resets we send ---- */

START_TEST(close_with_unread_data_resets)
{
    struct fx f;
    fx_open(&f);
    fx_seg(&f, TCP_ACK | TCP_PSH, "unread", 6);
    ck_assert_int_eq(sk_send(f.c, "out", 3), 3);
    flush(&f);
    h_clear(f.h);
    sk_conn *c = f.c;
    sk_close(c);
    /* RFC 1122 4.2.2.13 / RFC 9293 3.10.5: <SEQ=SND.NXT><CTL=RST>, at once. */
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = out_tcp(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 4);
    ck_assert_int_eq(count_conns(f.h), 1);
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
    static const int states[] = {SK_ESTABLISHED, SK_FIN_WAIT_1, SK_FIN_WAIT_2, SK_CLOSE_WAIT};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct fx f;
        fx_open(&f);
        fx_to_state(&f, states[i]);
        struct sk_conn_info info;
        sk_conn_info(f.c, &info);
        sk_abort(f.c);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        struct tcp_seg g = out_tcp(f.h, 0);
        ck_assert_uint_eq(g.flags, TCP_RST);
        ck_assert_uint_eq(g.seq, info.snd_nxt);
        ck_assert_int_eq(count_conns(f.h), 1);
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
    struct harness *h = h_new(tweak);
    h_learn_peer(h);
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, NULL);
    sk_flush(h->s, h->now);
    h_clear(h);
    sk_abort(c);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_int_eq(count_conns(h), 0);
    h_advance(h, 10000000);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);

    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_TIME_WAIT);
    sk_abort(f.c);
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(count_conns(f.h), 1);
    fx_free(&f);
}
END_TEST

/* ---- resets received (3.10.7.4 second, with RFC 5961 3.2's exact match) ---- */

START_TEST(rst_in_syn_received_frees_child)
{
    struct fx f;
    f.h = h_new(tweak);
    h_learn_peer(f.h);
    f.l = sk_listen(f.h->s, LPORT, 0, NULL);
    h_send(f.h, &(struct h_seg){
                    .sport = PPORT, .dport = LPORT, .seq = PISN, .flags = TCP_SYN, .wnd = 65535});
    ck_assert_int_eq(count_conns(f.h), 2);
    const sk_conn *child = changes[nchanges - 1].conn;
    ck_assert_int_eq(changes[nchanges - 1].to, SK_SYN_RECEIVED);
    h_clear(f.h);
    h_send(f.h, &(struct h_seg){.sport = PPORT, .dport = LPORT, .seq = PISN + 1, .flags = TCP_RST});
    ck_assert_int_eq(f.h->nout, 0);
    ck_assert_int_eq(count_conns(f.h), 1);
    ck_assert_ptr_null(sk_accept(f.l));
    ck_assert_int_eq(sk_conn_state(f.l), SK_LISTEN);
    ck_assert_uint_eq(events_of(f.h, f.l), 0);
    static const int path[] = {SK_LISTEN, SK_SYN_RECEIVED, SK_CLOSED};
    assert_path(child, path, 3);
    /* Nothing is retransmitted for it, and the listener goes on. */
    h_advance(f.h, 100000000);
    ck_assert_int_eq(f.h->nout, 0);
    h_learn_peer(f.h); /* the ARP entry aged out meanwhile */
    h_send(f.h, &(struct h_seg){
                    .sport = PPORT, .dport = LPORT, .seq = 5, .flags = TCP_SYN, .wnd = 65535});
    ck_assert_uint_eq(h_last_tcp(f.h).flags, TCP_SYN | TCP_ACK);
    fx_free(&f);
}
END_TEST

START_TEST(rst_in_syn_sent_refused)
{
    struct harness *h = h_new(tweak);
    h_learn_peer(h);
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, NULL);
    sk_flush(h->s, h->now);
    uint32_t iss = h_last_tcp(h).seq;
    h_clear(h);
    h_send(h,
           &(struct h_seg){
               .sport = 80, .dport = 40001, .seq = 0, .ack = iss + 1, .flags = TCP_RST | TCP_ACK});
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(c), SK_ECONNREFUSED);
    ck_assert_uint_eq(events_of(h, c), SK_EV_ERROR);
    ck_assert_int_eq(h->nout, 0);
    static const int path[] = {SK_CLOSED, SK_SYN_SENT, SK_CLOSED};
    assert_path(c, path, 3);
    sk_close(c);
    h_free(h);
}
END_TEST

START_TEST(rst_in_syn_received_active_refused)
{
    /* A simultaneous open, then a RST: the connection came from SYN_SENT,
     * so it was refused (RFC 9293 3.10.7.4 second, SYN-RECEIVED). */
    struct harness *h = h_new(tweak);
    h_learn_peer(h);
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, NULL);
    sk_flush(h->s, h->now);
    h_send(h,
           &(struct h_seg){.sport = 80, .dport = 40001, .seq = 700, .flags = TCP_SYN, .wnd = 1000});
    ck_assert_int_eq(sk_conn_state(c), SK_SYN_RECEIVED);
    h_clear(h);
    h_send(h, &(struct h_seg){.sport = 80, .dport = 40001, .seq = 701, .flags = TCP_RST});
    ck_assert_int_eq(sk_conn_state(c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(c), SK_ECONNREFUSED);
    ck_assert_uint_eq(events_of(h, c), SK_EV_ERROR);
    ck_assert_int_eq(h->nout, 0);
    sk_close(c);
    ck_assert_int_eq(count_conns(h), 0);
    h_free(h);
}
END_TEST

START_TEST(rst_resets_synchronized_states)
{
    static const int states[] = {SK_ESTABLISHED, SK_FIN_WAIT_1, SK_FIN_WAIT_2, SK_CLOSE_WAIT};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct fx f;
        fx_open(&f);
        fx_to_state(&f, states[i]);
        fx_seg(&f, TCP_RST, NULL, 0);
        ck_assert_msg(sk_conn_state(f.c) == SK_CLOSED, "RST in %s", sk_state_name(states[i]));
        ck_assert_int_eq(sk_conn_error(f.c), SK_ECONNRESET);
        ck_assert_uint_eq(events_of(f.h, f.c), SK_EV_ERROR);
        ck_assert_int_eq(f.h->nout, 0);
        ck_assert_uint_eq(sk_counters(f.h->s)->tcp_resets, 1);
        ck_assert_int_eq(sk_recv(f.c, (char[4]){0}, 4),
                         states[i] == SK_CLOSE_WAIT ? 0 : -SK_ECONNRESET);
        ck_assert_int_eq(sk_send(f.c, "x", 1), -SK_ECONNRESET);
        const struct sk_state_change *ch = last_change(f.c);
        ck_assert_int_eq(ch->from, states[i]);
        ck_assert_int_eq(ch->to, SK_CLOSED);
        char cause[48];
        snprintf(cause, sizeof(cause), "R seq %u", (unsigned)f.pseq);
        ck_assert_str_eq(ch->cause, cause);
        /* Nothing more goes out: no retransmission of our FIN. */
        h_advance(f.h, 120000000);
        ck_assert_int_eq(f.h->nout, 0);
        sk_close(f.c);
        ck_assert_int_eq(count_conns(f.h), 1);
        fx_free(&f);
    }
}
END_TEST

START_TEST(rst_closes_closing_states)
{
    static const int states[] = {SK_CLOSING, SK_LAST_ACK, SK_TIME_WAIT};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        struct fx f;
        fx_open(&f);
        fx_to_state(&f, states[i]);
        fx_seg(&f, TCP_RST | TCP_ACK, NULL, 0);
        ck_assert_msg(sk_conn_state(f.c) == SK_CLOSED, "RST in %s", sk_state_name(states[i]));
        ck_assert_int_eq(sk_conn_error(f.c), 0);
        ck_assert_int_eq(f.h->nout, 0);
        ck_assert_uint_eq(sk_counters(f.h->s)->tcp_resets, 0);
        ck_assert_uint_eq(events_of(f.h, f.c), states[i] == SK_TIME_WAIT ? 0 : SK_EV_CLOSED);
        ck_assert_int_eq(last_change(f.c)->from, states[i]);
        h_advance(f.h, 120000000);
        ck_assert_int_eq(f.h->nout, 0);
        sk_close(f.c);
        ck_assert_int_eq(count_conns(f.h), 1);
        fx_free(&f);
    }
}
END_TEST

/* ---- TIME_WAIT ---- */

START_TEST(time_wait_acks_retransmitted_fin)
{
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_TIME_WAIT);
    /* Half of 2*MSL later our last ACK was lost: the peer sends its FIN
     * again.  It is ACKed and the 2*MSL wait starts over (RFC 9293
     * 3.10.7.4 eighth, TIME-WAIT). */
    h_advance(f.h, TWO_MSL_US / 2);
    ck_assert_int_eq(f.h->nout, 0);
    f.pseq -= 1;
    fx_seg(&f, TCP_FIN | TCP_ACK, NULL, 0);
    ck_assert_int_eq(sk_conn_state(f.c), SK_TIME_WAIT);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    expect_ack(&f, f.iss + 2);
    h_clear(f.h);
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
    struct fx f;
    fx_open(&f);
    fx_to_state(&f, SK_TIME_WAIT);
    /* An old duplicate data segment: answered with an ACK, not delivered. */
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(f.h->nout, 0);
    uint32_t save = f.pseq;
    f.pseq -= 10;
    fx_seg(&f, TCP_ACK, "0123456789", 10);
    f.pseq = save;
    expect_ack(&f, f.iss + 2);
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
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
