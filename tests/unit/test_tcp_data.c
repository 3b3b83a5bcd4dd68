/* Data transfer (RFC 9293 3.8, 3.10.7.4 first and seventh steps): the
 * acceptability test, out-of-order and duplicate data, the advertised
 * window with receiver SWS avoidance, segmentation by MSS and the peer's
 * window, zero-window probes, and all of it across the 2^32 wrap. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tcp_fixture.h"
#include "seq.h"

#define PISN 0x12345678u

/* ---- a connection and its peer ---- */

/* Bytes with a recognisable pattern: pat(k) for stream offset k. */
static uint8_t pat(uint32_t k)
{
    return (uint8_t)(k * 13 + 7 + (k >> 8));
}
static uint8_t stream[70000];
static void fill_stream(void)
{
    for (uint32_t k = 0; k < sizeof(stream); k++)
        stream[k] = pat(k);
}

/* Stream bytes [off, off+len) of the peer, at their sequence numbers. */
static void fx_data(struct tcp_fx *f, uint32_t base, uint32_t off, uint32_t len, uint8_t flags)
{
    fx_seg_at(f, base + off, f->pack, TCP_ACK | flags, stream + off, len);
}

/* The stack with `tweak` and its listener, no connection yet. */
static void stream_listen(struct tcp_fx *f, void (*tweak)(struct sk_config *))
{
    fill_stream();
    fx_listen(f, tweak, 0);
}

/* A passive open from the peer with window wnd and MSS mss. */
static void stream_open(struct tcp_fx *f, void (*tweak)(struct sk_config *), uint16_t wnd,
                        uint16_t mss)
{
    fill_stream();
    fx_open_passive(f, tweak, PISN, wnd, mss);
}

static void expect_nothing(struct tcp_fx *f)
{
    ck_assert_int_eq(f->h->nout, 0);
}

/* Reads everything queued and compares it with stream[off...]. */
static void expect_read(struct tcp_fx *f, uint32_t off, uint32_t len)
{
    static uint8_t buf[70000];
    ck_assert_uint_le(len, sizeof(buf));
    long n = sk_recv(f->c, buf, sizeof(buf));
    ck_assert_int_eq(n, (long)len);
    ck_assert_mem_eq(buf, stream + off, len);
}

static uint64_t drops(struct tcp_fx *f)
{
    return sk_counters(f->h->s)->drop_tcp_unacceptable;
}

static void rcvbuf_1024(struct sk_config *cfg)
{
    cfg->tcp_rcvbuf = 1024;
}
static void rcvbuf_4096(struct sk_config *cfg)
{
    cfg->tcp_rcvbuf = 4096;
}

/* ---- acceptability: RFC 9293 3.10.7.4 first, its four cases ---- */

START_TEST(accept_empty_segment_open_window)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_4096, 65535, 1460);
    uint32_t nxt = f.pseq;
    /* RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND: accepted, not answered. */
    fx_seg_at(&f, nxt, f.pack, TCP_ACK, NULL, 0);
    fx_seg_at(&f, nxt + 4095, f.pack, TCP_ACK, NULL, 0);
    expect_nothing(&f);
    ck_assert_uint_eq(drops(&f), 0);
    /* Just past the right edge, and just before RCV.NXT: an ACK, dropped. */
    fx_seg_at(&f, nxt + 4096, f.pack, TCP_ACK, NULL, 0);
    struct tcp_seg g = fx_expect_ack(&f, f.iss + 1, nxt);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.wnd, 4096);
    ck_assert_uint_eq(drops(&f), 1);
    fx_seg_at(&f, nxt - 1, f.pack, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, nxt);
    ck_assert_uint_eq(drops(&f), 2);
    /* Far away across the wrap. */
    fx_seg_at(&f, nxt + 0x80000000u, f.pack, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, nxt);
    ck_assert_uint_eq(drops(&f), 3);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(accept_data_open_window)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_4096, 65535, 1460);
    uint32_t base = f.pseq;
    /* Entirely beyond the window: dropped with an ACK. */
    fx_data(&f, base, 4096, 10, 0);
    fx_expect_ack(&f, f.iss + 1, base);
    ck_assert_uint_eq(drops(&f), 1);
    /* In order: accepted. */
    fx_data(&f, base, 0, 100, TCP_PSH);
    fx_expect_ack(&f, f.iss + 1, base + 100);
    /* Entirely old: not acceptable (both ends before RCV.NXT): an ACK. */
    fx_data(&f, base, 0, 100, 0);
    fx_expect_ack(&f, f.iss + 1, base + 100);
    ck_assert_uint_eq(drops(&f), 2);
    /* Starts before RCV.NXT, ends inside: acceptable, the new part kept. */
    fx_data(&f, base, 50, 100, 0);
    fx_expect_ack(&f, f.iss + 1, base + 150);
    ck_assert_uint_eq(drops(&f), 2);
    /* Starts inside, ends past the window: acceptable, cut at the edge.
     * The window now ends at base + 4096 (SWS rule: unread data). */
    fx_data(&f, base, 150, 4000, 0);
    struct tcp_seg g = fx_expect_ack(&f, f.iss + 1, base + 4096);
    ck_assert_uint_eq(g.wnd, 0);
    ck_assert_uint_eq(drops(&f), 2);
    expect_read(&f, 0, 4096);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* Fills the 1024-byte receive buffer so the window is zero. */
static uint32_t fill_window(struct tcp_fx *f)
{
    uint32_t base = f->pseq;
    fx_data(f, base, 0, 1024, TCP_PSH);
    struct tcp_seg g = fx_expect_ack(f, f->iss + 1, base + 1024);
    ck_assert_uint_eq(g.wnd, 0);
    f->pseq = base + 1024;
    return base;
}

START_TEST(accept_empty_segment_zero_window)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_1024, 65535, 1460);
    fill_window(&f);
    /* With RCV.WND = 0 only SEG.SEQ = RCV.NXT is acceptable. */
    fx_seg_at(&f, f.pseq, f.pack, TCP_ACK, NULL, 0);
    expect_nothing(&f);
    ck_assert_uint_eq(drops(&f), 0);
    fx_seg_at(&f, f.pseq + 1, f.pack, TCP_ACK, NULL, 0);
    struct tcp_seg g = fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(g.wnd, 0);
    ck_assert_uint_eq(drops(&f), 1);
    fx_seg_at(&f, f.pseq - 1, f.pack, TCP_ACK, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(drops(&f), 2);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(accept_data_zero_window)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_1024, 65535, 1460);
    uint32_t base = fill_window(&f);
    /* Our data, for the peer to acknowledge while our window is zero. */
    ck_assert_int_eq(sk_send(f.c, "ping", 4), 4);
    h_flush(f.h);
    h_clear(f.h);
    /* Data at RCV.NXT into a zero window: the text cannot be taken, but the
     * ACK in it is (RFC 9293 3.10.7.4: "special allowance should be made to
     * accept valid ACKs, URGs, and RSTs"); our ACK repeats the window. */
    f.pack = f.iss + 5;
    fx_data(&f, base, 1024, 10, 0);
    struct tcp_seg g = fx_expect_ack(&f, f.iss + 5, base + 1024);
    ck_assert_uint_eq(g.wnd, 0);
    ck_assert_uint_eq(g.seq, f.iss + 5);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, f.iss + 5); /* the ACK was used */
    ck_assert_uint_eq(i.recv_queued, 1024);  /* the text was not */
    ck_assert_uint_eq(drops(&f), 1);
    /* Data beyond RCV.NXT into a zero window: dropped, ACK. */
    fx_data(&f, base, 1030, 10, 0);
    fx_expect_ack(&f, f.iss + 5, base + 1024);
    ck_assert_uint_eq(drops(&f), 2);
    /* A FIN into a zero window is not taken either. */
    fx_seg_at(&f, base + 1024, f.pack, TCP_ACK | TCP_FIN, NULL, 0);
    fx_expect_ack(&f, f.iss + 5, base + 1024);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    expect_read(&f, 0, 1024);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- out of order, duplicates, overlaps ---- */

START_TEST(out_of_order_held_until_gap_fills)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 65535, 1460);
    uint32_t base = f.pseq;
    /* Three segments, the first lost: held, each answered by a duplicate
     * ACK (RFC 5681 4.2: at once for out-of-order data). */
    fx_data(&f, base, 100, 100, 0);
    fx_expect_ack(&f, f.iss + 1, base);
    fx_data(&f, base, 300, 100, 0);
    fx_expect_ack(&f, f.iss + 1, base);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_ooo_segments, 2);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    /* The first arrives: 0..200 in order, 300..400 still waits. */
    fx_data(&f, base, 0, 100, 0);
    fx_expect_ack(&f, f.iss + 1, base + 200);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_READABLE);
    expect_read(&f, 0, 200);
    fx_data(&f, base, 200, 100, TCP_PSH);
    fx_expect_ack(&f, f.iss + 1, base + 400);
    expect_read(&f, 200, 200);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_ooo_segments, 2);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(out_of_order_read_between)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_4096, 65535, 1460);
    uint32_t base = f.pseq;
    /* The app reads while out-of-order data waits past the gap. */
    fx_data(&f, base, 0, 1000, 0);
    fx_data(&f, base, 2000, 1000, 0);
    expect_read(&f, 0, 1000);
    fx_data(&f, base, 3000, 500, 0);
    fx_data(&f, base, 1000, 1000, 0);
    ck_assert_uint_eq(h_last_tcp(f.h).wnd, 596);
    h_clear(f.h);
    expect_read(&f, 1000, 2500);
    h_flush(f.h); /* the window update: the window was below one MSS */
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 3500).wnd, 4096);
    fx_data(&f, base, 3500, 1000, 0);
    fx_expect_ack(&f, f.iss + 1, base + 4500);
    expect_read(&f, 3500, 1000);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(duplicates_and_overlaps_delivered_once)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 65535, 1460);
    uint32_t base = f.pseq;
    fx_data(&f, base, 0, 10, 0);
    fx_data(&f, base, 5, 10, 0); /* half old */
    expect_read(&f, 0, 15);
    h_clear(f.h);
    /* An exact duplicate: counted, ACKed, not delivered. */
    fx_data(&f, base, 5, 10, 0);
    fx_expect_ack(&f, f.iss + 1, base + 15);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), -SK_EAGAIN);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_dup_segments, 1);
    ck_assert_uint_eq(drops(&f), 1); /* left of the window: unacceptable */
    /* Overlapping out-of-order pieces, in a scrambled order. */
    fx_data(&f, base, 40, 20, 0);
    fx_data(&f, base, 25, 20, 0);
    fx_data(&f, base, 30, 5, 0);  /* inside what is held */
    fx_data(&f, base, 55, 15, 0); /* overlaps the end */
    fx_data(&f, base, 80, 10, 0); /* a second range */
    fx_data(&f, base, 18, 10, 0);
    h_clear(f.h);
    fx_data(&f, base, 10, 10, 0); /* overlaps old and held */
    fx_expect_ack(&f, f.iss + 1, base + 70);
    expect_read(&f, 15, 55);
    fx_data(&f, base, 65, 25, 0); /* covers the gap and the second range */
    fx_expect_ack(&f, f.iss + 1, base + 90);
    expect_read(&f, 70, 20);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_dup_segments, 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(fin_waits_for_gap)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 65535, 1460);
    uint32_t base = f.pseq;
    /* The last segment with the FIN arrives before the one before it. */
    fx_data(&f, base, 100, 50, TCP_FIN);
    fx_expect_ack(&f, f.iss + 1, base);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    ck_assert_uint_eq(h_events_of(f.h, f.c), 0);
    fx_data(&f, base, 0, 60, 0);
    fx_expect_ack(&f, f.iss + 1, base + 60);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    /* The gap fills: the data, then the FIN. */
    fx_data(&f, base, 60, 40, 0);
    fx_expect_ack(&f, f.iss + 1, base + 151);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSE_WAIT);
    ck_assert_uint_eq(h_events_of(f.h, f.c), SK_EV_READABLE | SK_EV_PEER_CLOSED);
    expect_read(&f, 0, 150);
    ck_assert_int_eq(sk_recv(f.c, (char[8]){0}, 8), 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(bare_fin_waits_for_gap)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 65535, 1460);
    uint32_t base = f.pseq;
    fx_seg_at(&f, base + 30, f.pack, TCP_ACK | TCP_FIN, NULL, 0);
    fx_expect_ack(&f, f.iss + 1, base);
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    fx_data(&f, base, 0, 30, 0);
    fx_expect_ack(&f, f.iss + 1, base + 31);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSE_WAIT);
    expect_read(&f, 0, 30);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- the advertised window ---- */

START_TEST(window_tracks_free_space)
{
    struct tcp_fx f;
    stream_listen(&f, rcvbuf_4096);
    /* The SYN-ACK offers the whole buffer. */
    ck_assert_uint_eq(h_syn(f.h, FX_PPORT, FX_LPORT, PISN, 65535, 1460).wnd, 4096);
    fx_accept(&f, FX_PPORT, PISN, 65535, 1460); /* the duplicate SYN is answered again */
    uint32_t base = f.pseq;
    /* The window shrinks by what is buffered. */
    fx_data(&f, base, 0, 1000, 0);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 1000).wnd, 3096);
    fx_data(&f, base, 1000, 1000, 0);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 2000).wnd, 2096);
    /* Reading 1000 bytes would move the right edge by less than
     * min(RCV.BUFF/2, MSS) = 1460: the edge stays (receiver SWS
     * avoidance, RFC 9293 3.8.6.2.2), and no update is sent. */
    static uint8_t buf[4096];
    ck_assert_int_eq(sk_recv(f.c, buf, 1000), 1000);
    h_flush(f.h);
    expect_nothing(&f);
    fx_data(&f, base, 2000, 100, 0);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 2100).wnd, 1996);
    /* Reading the rest frees enough: the window is the free space again,
     * and as it more than doubled the update goes at once. */
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 1100);
    h_flush(f.h);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 2100).wnd, 4096);
    fx_data(&f, base, 2100, 96, 0);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 2196).wnd, 4000);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 96);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(window_update_after_zero_window)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_1024, 65535, 1460);
    fill_window(&f);
    /* A small read does not reopen the window (it would move the edge by
     * less than RCV.BUFF/2 = 512 bytes). */
    static uint8_t buf[1024];
    ck_assert_int_eq(sk_recv(f.c, buf, 100), 100);
    h_flush(f.h);
    expect_nothing(&f);
    /* Reading the rest does: the peer, stopped by our zero window, is told
     * at once rather than left to probe. */
    ck_assert_int_eq(sk_recv(f.c, buf + 100, sizeof(buf)), 924);
    ck_assert_mem_eq(buf, stream, 1024);
    h_flush(f.h);
    struct tcp_seg g = fx_expect_ack(&f, f.iss + 1, f.pseq);
    ck_assert_uint_eq(g.wnd, 1024);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(window_update_large_buffer)
{
    struct tcp_fx f;
    stream_open(&f, rcvbuf_4096, 65535, 1460);
    uint32_t base = f.pseq;
    fx_data(&f, base, 0, 1460, 0);
    fx_data(&f, base, 1460, 1460, 0);
    h_clear(f.h);
    fx_data(&f, base, 2920, 1176, 0);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 4096).wnd, 0);
    static uint8_t buf[4096];
    ck_assert_int_eq(sk_recv(f.c, buf, 2000), 2000);
    h_flush(f.h);
    ck_assert_uint_eq(fx_expect_ack(&f, f.iss + 1, base + 4096).wnd, 2000);
    ck_assert_mem_eq(buf, stream, 2000);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- sending ---- */

/* Data segments out since the last clear: count, checking each. */
static int data_segments(struct tcp_fx *f, uint32_t *seqs, uint32_t *lens, uint8_t *flags, int max)
{
    int n = 0;
    for (int i = 0; i < f->h->nout; i++) {
        struct tcp_seg g;
        if (!h_out_tcp(f->h, i, &g) || g.len == 0)
            continue;
        ck_assert_int_lt(n, max);
        seqs[n] = g.seq;
        lens[n] = g.len;
        flags[n] = g.flags;
        ck_assert_uint_eq(g.ack, f->pseq);
        n++;
    }
    return n;
}

START_TEST(send_sized_by_mss)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 65535, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 4);
    static const uint32_t want[] = {1460, 1460, 1460, 620};
    uint32_t off = 0;
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(seqs[i], f.iss + 1 + off);
        ck_assert_uint_eq(lens[i], want[i]);
        /* PSH only on the last segment of what the app wrote. */
        ck_assert_uint_eq(fl[i], i == 3 ? (TCP_ACK | TCP_PSH) : TCP_ACK);
        off += lens[i];
    }
    ck_assert_int_eq(h_ntcp(f.h), 4); /* no separate ACK */
    struct tcp_seg g = h_out_tcp_at(f.h, 1);
    ck_assert_mem_eq(g.data, stream + 1460, 1460);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(send_limited_by_peer_window)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 2000, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    /* One full segment; the 540 bytes left of the window would be a silly
     * window (RFC 9293 3.8.6.2.1: not full, not all the data, less than
     * half the peer's largest window) and wait while data is in flight. */
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 1);
    ck_assert_uint_eq(lens[0], 1460);
    ck_assert_uint_eq(seqs[0], f.iss + 1);
    h_clear(f.h);
    h_flush(f.h);
    expect_nothing(&f);
    /* The peer takes 1460 and keeps a 2000-byte window: 1460 more may go. */
    fx_ack(&f, f.iss + 1461);
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 1);
    ck_assert_uint_eq(seqs[0], f.iss + 1461);
    ck_assert_uint_eq(lens[0], 1460);
    h_clear(f.h);
    /* A window update alone (same ACK, larger window) lets the rest go. */
    f.pwnd = 10000;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 2);
    ck_assert_uint_eq(seqs[0], f.iss + 2921);
    ck_assert_uint_eq(lens[0], 1460);
    ck_assert_uint_eq(seqs[1], f.iss + 4381);
    ck_assert_uint_eq(lens[1], 620);
    ck_assert_uint_eq(fl[1], TCP_ACK | TCP_PSH);
    /* Everything acknowledged: the send buffer is empty, the app may write. */
    h_clear(f.h);
    fx_ack(&f, f.iss + 5001);
    expect_nothing(&f);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.unacked, 0);
    ck_assert_uint_eq(i.send_queued, 0);
    ck_assert(h_events_of(f.h, f.c) & SK_EV_WRITABLE);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void sndbuf_8k(struct sk_config *cfg)
{
    cfg->tcp_sndbuf = 8192;
}

START_TEST(send_buffer_bounded)
{
    struct tcp_fx f;
    stream_open(&f, sndbuf_8k, 0, 1460);
    size_t space = sk_send_space(f.c);
    ck_assert_uint_eq(space, 8192);
    ck_assert_int_eq(sk_send(f.c, stream, sizeof(stream)), (long)space);
    ck_assert_int_eq(sk_send(f.c, stream, 1), -SK_EAGAIN);
    ck_assert_uint_eq(sk_send_space(f.c), 0);
    ck_assert_int_eq(sk_send(f.c, stream, 0), 0);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- zero window: persist ---- */

START_TEST(zero_window_probe_and_resume)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 0, 1460);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.rto_us, 200000); /* a 0 us handshake sample, clamped */
    ck_assert_int_eq(sk_send(f.c, stream, 100), 100);
    h_flush(f.h);
    expect_nothing(&f); /* the window is closed */
    /* The persist timer: the first probe after one RTO... */
    h_advance(f.h, 199999);
    expect_nothing(&f);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 1); /* one octet of new data */
    ck_assert_uint_eq(g.data[0], stream[0]);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 1);
    h_clear(f.h);
    /* ...the peer still has no room (it drops the octet)... */
    fx_seg(&f, TCP_ACK, NULL, 0);
    expect_nothing(&f);
    /* ...then 2 and 4 RTOs apart (exponential backoff). */
    h_advance(f.h, 399999);
    expect_nothing(&f);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).seq, f.iss + 1);
    h_clear(f.h);
    h_advance(f.h, 799999);
    expect_nothing(&f);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 3);
    h_clear(f.h);
    /* The window opens: sending resumes at once from SND.UNA, the probed
     * octet included since the peer did not take it. */
    f.pwnd = 1000;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.len, 100);
    ck_assert_mem_eq(g.data, stream, 100);
    ck_assert_uint_eq(g.flags, TCP_ACK | TCP_PSH);
    h_clear(f.h);
    fx_ack(&f, f.iss + 101);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.unacked, 0);
    /* No probe or retransmission afterwards. */
    h_advance(f.h, 30000000);
    expect_nothing(&f);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 3);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(zero_window_acks_and_rst_at_snd_una)
{
    /* While we probe a closed window, the probe's octet lies beyond it;
     * the peer accepts only SEG.SEQ = RCV.NXT, our SND.UNA: our ACKs and
     * an ABORT's RST must carry that, not the probe's end (as BSD). */
    struct tcp_fx f;
    stream_open(&f, NULL, 0, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 100), 100);
    h_flush(f.h);
    h_advance(f.h, 200000); /* the first probe */
    ck_assert_uint_eq(h_last_tcp(f.h).len, 1);
    h_clear(f.h);
    /* The peer, window still shut, sends data: our ACK of it. */
    fx_seg(&f, TCP_ACK | TCP_PSH, "hi", 2);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_ACK);
    ck_assert_uint_eq(g.len, 0);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    ck_assert_uint_eq(g.ack, f.pseq);
    h_clear(f.h);
    sk_abort(f.c);
    h_flush(f.h);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_RST);
    ck_assert_uint_eq(g.seq, f.iss + 1);
    fx_free(&f);
}
END_TEST

START_TEST(zero_window_probe_taken)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 0, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 100), 100);
    h_flush(f.h);
    h_advance(f.h, 200000);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    h_clear(f.h);
    /* The peer had room for the probe's octet and opens its window. */
    f.pack = f.iss + 2;
    f.pwnd = 1000;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 2);
    ck_assert_uint_eq(g.len, 99);
    ck_assert_mem_eq(g.data, stream + 1, 99);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(sender_sws_small_window_waits_for_override)
{
    /* RFC 9293 3.8.6.2.1: with nothing in flight and a window of 10 bytes
     * (far below an MSS and half the largest window), nothing is sent at
     * once; the override timer sends what fits, and not before it fires. */
    struct tcp_fx f;
    stream_open(&f, NULL, 2000, 1460);
    f.pwnd = 10;
    fx_seg(&f, TCP_ACK, NULL, 0); /* the peer's window shrinks to 10 */
    h_clear(f.h);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    expect_nothing(&f);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    h_advance(f.h, i.rto_us - 1);
    expect_nothing(&f);
    h_advance(f.h, 1);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 1);
    ck_assert_uint_eq(seqs[0], f.iss + 1);
    ck_assert_uint_eq(lens[0], 10);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 0); /* not a probe */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(sender_sws_half_window_goes_at_once)
{
    /* 1000 bytes of window, half of the largest offered (2000): enough to
     * send at once although below an MSS. */
    struct tcp_fx f;
    stream_open(&f, NULL, 2000, 1460);
    f.pwnd = 1000;
    fx_seg(&f, TCP_ACK, NULL, 0);
    h_clear(f.h);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 1);
    ck_assert_uint_eq(lens[0], 1000);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(zero_window_after_data)
{
    struct tcp_fx f;
    stream_open(&f, NULL, 3000, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    h_clear(f.h);
    /* Two full segments went (the 80 bytes left of the window would be a
     * silly window); the peer takes them and closes its window. */
    f.pack = f.iss + 2921;
    f.pwnd = 0;
    fx_seg(&f, TCP_ACK, NULL, 0);
    expect_nothing(&f);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    uint32_t rto = i.rto_us;
    h_advance(f.h, rto - 1);
    expect_nothing(&f);
    h_advance(f.h, 1);
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 2921);
    ck_assert_uint_eq(g.len, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 1);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_timeouts, 0); /* not a loss */
    h_clear(f.h);
    f.pwnd = 65535;
    fx_seg(&f, TCP_ACK, NULL, 0);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 2);
    ck_assert_uint_eq(seqs[0], f.iss + 2921);
    ck_assert_uint_eq(lens[0], 1460);
    ck_assert_uint_eq(seqs[1], f.iss + 4381);
    ck_assert_uint_eq(lens[1], 620);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

static void retries_3(struct sk_config *cfg)
{
    cfg->tcp_max_retries = 3;
    cfg->arp_lifetime_ms = 24 * 3600 * 1000; /* no ARP in the way of long waits */
}

START_TEST(zero_window_shrunk_under_data)
{
    struct tcp_fx f;
    stream_open(&f, retries_3, 3000, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 5000), 5000);
    h_flush(f.h);
    h_clear(f.h);
    /* The peer takes the first segment and shrinks its window to zero
     * under the two still in flight (RFC 9293 3.8.6.2.1: a sender must
     * be robust against it). */
    f.pack = f.iss + 1461;
    f.pwnd = 0;
    fx_seg(&f, TCP_ACK, NULL, 0);
    expect_nothing(&f);
    /* What is in flight cannot be resent into a zero window: the timer
     * probes instead, and as long as the peer answers the probes the
     * connection lives on, well past tcp_max_retries timeouts. */
    for (int k = 0; k < 8; k++) {
        h_advance(f.h, 60000000);
        ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
        ck_assert_int_ge(h_ntcp(f.h), 1);
        struct tcp_seg g = h_last_tcp(f.h);
        ck_assert_uint_eq(g.seq, f.iss + 1461);
        ck_assert_uint_eq(g.len, 1);
        h_clear(f.h);
        fx_seg(&f, TCP_ACK, NULL, 0);
        expect_nothing(&f);
    }
    ck_assert_uint_ge(sk_counters(f.h->s)->tcp_window_probes, 8);
    /* The window opens: everything from SND.UNA goes again. */
    f.pwnd = 65535;
    fx_seg(&f, TCP_ACK, NULL, 0);
    ck_assert_int_ge(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, f.iss + 1461);
    ck_assert_uint_eq(g.len, 1460);
    ck_assert_mem_eq(g.data, stream + 1460, 1460);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(zero_window_unanswered_probes_time_out)
{
    struct tcp_fx f;
    stream_open(&f, retries_3, 0, 1460);
    ck_assert_int_eq(sk_send(f.c, stream, 100), 100);
    h_flush(f.h);
    /* Probes at 200, 600 and 1400 ms go unanswered; the fourth expiry
     * (tcp_max_retries = 3) gives up. */
    static const uint64_t at[] = {200000, 400000, 800000};
    for (int k = 0; k < 3; k++) {
        h_advance(f.h, at[k] - 1);
        expect_nothing(&f);
        h_advance(f.h, 1);
        ck_assert_int_eq(h_ntcp(f.h), 1);
        ck_assert_uint_eq(h_last_tcp(f.h).len, 1);
        h_clear(f.h);
    }
    ck_assert_int_eq(sk_conn_state(f.c), SK_ESTABLISHED);
    h_advance(f.h, 1600000);
    expect_nothing(&f);
    ck_assert_int_eq(sk_conn_state(f.c), SK_CLOSED);
    ck_assert_int_eq(sk_conn_error(f.c), SK_ETIMEDOUT);
    ck_assert(h_events_of(f.h, f.c) & SK_EV_ERROR);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_window_probes, 3);
    ck_assert_uint_eq(sk_counters(f.h->s)->tcp_aborts_timeout, 1);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* ---- across the 2^32 wrap ---- */

/* Sets the clock so that our ISS for the tuple is `target` (RFC 6528:
 * ISN = M(now/4) + F(tuple, key), so now = 4 * (target - F)). */
static void clock_for_iss(struct harness *h, uint16_t lport, uint16_t rport, uint32_t target)
{
    h->s->now = h->now;
    uint32_t fpart = tcp_isn(h->s, US_IP, lport, PEER_IP, rport) - (uint32_t)(h->now / 4);
    uint64_t now = (uint64_t)(uint32_t)(target - fpart) * 4;
    while (now < h->now)
        now += 1ULL << 34;
    h->now = now;
    sk_timers(h->s, h->now);
    h_learn_peer(h); /* the ARP entry would have aged out */
    h->s->now = h->now;
    ck_assert_uint_eq(tcp_isn(h->s, US_IP, lport, PEER_IP, rport), target);
}

START_TEST(urgent_data_delivered_in_line)
{
    /* RFC 9293 3.10.7.4 sixth: the urgent pointer is kept (RCV.UP), but
     * urgent mode is not offered: the bytes come in line, in order.  An ISN
     * half the sequence space from 0 checks that RCV.UP starts at the
     * peer's data, not at 0. */
    struct tcp_fx f;
    fx_open_passive(&f, NULL, 0x90000000u, 65535, 1460);
    ck_assert_uint_eq(f.c->rcv_up, 0x90000001u);
    struct h_seg g = {.sport = f.pport,
                      .dport = f.lport,
                      .seq = f.pseq,
                      .ack = f.pack,
                      .flags = TCP_URG | TCP_ACK | TCP_PSH,
                      .wnd = 65535,
                      .urp = 3,
                      .data = "abcdef",
                      .len = 6};
    h_send(f.h, &g);
    ck_assert_uint_eq(f.c->rcv_up, f.pseq + 3);
    /* A mark far behind the data (as after gigabytes without URG) is
     * brought up to RCV.NXT by the next segment, so it never drifts 2^31
     * away, where the wrap-safe compare would turn. */
    f.c->rcv_up = f.pseq + 6 - 0x7fff0000u;
    g.seq += 6;
    g.flags = TCP_ACK;
    g.data = "gh";
    g.len = 2;
    h_send(f.h, &g);
    ck_assert_uint_eq(f.c->rcv_up, f.pseq + 6);
    char buf[16];
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 8);
    ck_assert_mem_eq(buf, "abcdefgh", 8);
    sk_close(f.c);
    fx_free(&f);
}
END_TEST

START_TEST(passive_across_wrap)
{
    struct tcp_fx f;
    stream_listen(&f, NULL);
    clock_for_iss(f.h, FX_LPORT, FX_PPORT, 0xFFFFFFF8u);
    /* Both ISNs a few bytes below 2^32. */
    fx_accept(&f, FX_PPORT, 0xFFFFFFF0u, 65535, 1460);
    ck_assert_uint_eq(f.iss, 0xFFFFFFF8u);
    ck_assert_uint_eq(f.pseq, 0xFFFFFFF1u);
    uint32_t base = f.pseq;
    /* Receiving: out of order across the wrap, then in order. */
    fx_data(&f, base, 20, 30, 0); /* seq 0x5 */
    fx_expect_ack(&f, f.iss + 1, 0xFFFFFFF1u);
    fx_data(&f, base, 0, 20, 0); /* seq 0xFFFFFFF1 .. 0x4 */
    fx_expect_ack(&f, f.iss + 1, 0x23u);
    expect_read(&f, 0, 50);
    /* A stale segment from before the wrap is not acceptable. */
    fx_data(&f, base, 0, 10, 0);
    fx_expect_ack(&f, f.iss + 1, 0x23u);
    f.pseq = base + 50;
    /* Sending across the wrap: our first byte is 0xFFFFFFF9. */
    ck_assert_int_eq(sk_send(f.c, stream, 3000), 3000);
    h_flush(f.h);
    uint32_t seqs[8], lens[8];
    uint8_t fl[8];
    ck_assert_int_eq(data_segments(&f, seqs, lens, fl, 8), 3);
    ck_assert_uint_eq(seqs[0], 0xFFFFFFF9u);
    ck_assert_uint_eq(seqs[1], 0xFFFFFFF9u + 1460);
    ck_assert_uint_eq(seqs[1], 0x5ADu);
    ck_assert_uint_eq(seqs[2], 0xB61u);
    ck_assert_uint_eq(lens[2], 80);
    h_clear(f.h);
    /* A partial ACK across the wrap, then the RTO resends from SND.UNA. */
    fx_ack(&f, 0x5ADu);
    struct sk_conn_info i;
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.snd_una, 0x5ADu);
    ck_assert_uint_eq(i.unacked, 1540);
    ck_assert_uint_eq(i.send_queued, 1540);
    h_advance(f.h, i.rto_us);
    ck_assert_int_ge(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.seq, 0x5ADu);
    ck_assert_uint_eq(g.len, 1460);
    ck_assert_mem_eq(g.data, stream + 1460, 1460);
    h_clear(f.h);
    fx_ack(&f, 0xFFFFFFF9u + 3000);
    sk_conn_info(f.c, &i);
    ck_assert_uint_eq(i.unacked, 0);
    ck_assert_uint_eq(i.snd_una, 0xBB1u);
    /* And the close, with FINs on the far side of the wrap. */
    sk_close(f.c);
    h_flush(f.h);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.flags, TCP_FIN | TCP_ACK);
    ck_assert_uint_eq(g.seq, 0xBB1u);
    fx_free(&f);
}
END_TEST

START_TEST(active_across_wrap)
{
    struct tcp_fx f;
    stream_listen(&f, NULL);
    clock_for_iss(f.h, 40001, 80, 0xFFFFFFFFu);
    sk_conn *c = sk_connect(f.h->s, PEER_IP, 80, 40001, f.h->now, NULL);
    ck_assert_ptr_nonnull(c);
    sk_flush(f.h->s, f.h->now);
    struct tcp_seg g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.seq, 0xFFFFFFFFu);
    h_clear(f.h);
    /* The SYN-ACK acknowledges 0: our SYN took the last number. */
    h_send(f.h, &(struct h_seg){.sport = 80,
                                .dport = 40001,
                                .seq = 0xFFFFFFFEu,
                                .ack = 0,
                                .flags = TCP_SYN | TCP_ACK,
                                .wnd = 65535,
                                .mss = 1460});
    ck_assert_int_eq(sk_conn_state(c), SK_ESTABLISHED);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.seq, 0);
    ck_assert_uint_eq(g.ack, 0xFFFFFFFFu);
    h_clear(f.h);
    ck_assert_int_eq(sk_send(c, stream, 10), 10);
    sk_flush(f.h->s, f.h->now);
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.seq, 0);
    ck_assert_uint_eq(g.len, 10);
    /* Data from the peer starting at 0xFFFFFFFF. */
    h_send(f.h, &(struct h_seg){.sport = 80,
                                .dport = 40001,
                                .seq = 0xFFFFFFFFu,
                                .ack = 10,
                                .flags = TCP_ACK | TCP_PSH,
                                .wnd = 65535,
                                .data = stream,
                                .len = 5});
    g = h_last_tcp(f.h);
    ck_assert_uint_eq(g.ack, 4);
    static uint8_t buf[16];
    ck_assert_int_eq(sk_recv(c, buf, sizeof(buf)), 5);
    ck_assert_mem_eq(buf, stream, 5);
    struct sk_conn_info i;
    sk_conn_info(c, &i);
    ck_assert_uint_eq(i.snd_una, 10);
    ck_assert_uint_eq(i.unacked, 0);
    sk_abort(c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_data");
    TCase *acc = tcase_create("acceptability");
    tcase_add_test(acc, accept_empty_segment_open_window);
    tcase_add_test(acc, accept_data_open_window);
    tcase_add_test(acc, accept_empty_segment_zero_window);
    tcase_add_test(acc, accept_data_zero_window);
    suite_add_tcase(s, acc);
    TCase *rcv = tcase_create("receive");
    tcase_add_test(rcv, out_of_order_held_until_gap_fills);
    tcase_add_test(rcv, out_of_order_read_between);
    tcase_add_test(rcv, duplicates_and_overlaps_delivered_once);
    tcase_add_test(rcv, fin_waits_for_gap);
    tcase_add_test(rcv, bare_fin_waits_for_gap);
    tcase_add_test(rcv, window_tracks_free_space);
    tcase_add_test(rcv, window_update_after_zero_window);
    tcase_add_test(rcv, window_update_large_buffer);
    tcase_add_test(rcv, urgent_data_delivered_in_line);
    suite_add_tcase(s, rcv);
    TCase *snd = tcase_create("send");
    tcase_add_test(snd, send_sized_by_mss);
    tcase_add_test(snd, send_limited_by_peer_window);
    tcase_add_test(snd, sender_sws_small_window_waits_for_override);
    tcase_add_test(snd, sender_sws_half_window_goes_at_once);
    tcase_add_test(snd, send_buffer_bounded);
    tcase_add_test(snd, zero_window_probe_and_resume);
    tcase_add_test(snd, zero_window_probe_taken);
    tcase_add_test(snd, zero_window_acks_and_rst_at_snd_una);
    tcase_add_test(snd, zero_window_after_data);
    tcase_add_test(snd, zero_window_shrunk_under_data);
    tcase_add_test(snd, zero_window_unanswered_probes_time_out);
    suite_add_tcase(s, snd);
    TCase *wrap = tcase_create("wrap");
    tcase_add_test(wrap, passive_across_wrap);
    tcase_add_test(wrap, active_across_wrap);
    suite_add_tcase(s, wrap);
    return h_run(s);
}
