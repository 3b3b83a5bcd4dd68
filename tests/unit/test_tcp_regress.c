/* test_tcp_regress.c - regression tests for core bugs that review found,
 * each failing on the code before its fix and naming the rule it holds the
 * core to: the scaled window crept right on every ACK (past the buffer,
 * overwriting unread data); TS.Recent kept a stale value after 24 days
 * idle; a 1 GiB buffer was refused; a D-SACK in an older range hid newer
 * SACK blocks; sizes of 0 in sk_conn_set_opts counted as a change. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "seq.h"
#include "tcp_fixture.h"

#define MS  1000ULL
#define SEC 1000000ULL
#define DAY (24ULL * 3600 * SEC)

/* No period a ring could hide a misplaced byte behind. */
static uint8_t pat(uint32_t k)
{
    return (uint8_t)((k * 2654435761u) >> 13);
}
static uint8_t buf[1 << 21];

static void open_ts_ws(struct tcp_fx *f, void (*tweak)(struct sk_config *), bool sack, bool ts,
                       bool ws)
{
    fx_listen(f, tweak, 0);
    struct h_seg syn = {.seq = 1000,
                        .wnd = 65535,
                        .mss = 1460,
                        .sack_ok = sack,
                        .ts = ts,
                        .tsval = 1000,
                        .has_ws = ws,
                        .ws = 0};
    fx_accept_with(f, FX_PPORT, &syn);
}

static void data_at(struct tcp_fx *f, uint32_t base, uint32_t off, uint32_t len)
{
    for (uint32_t k = 0; k < len; k++)
        buf[k] = pat(off + k);
    fx_seg_at(f, base + off, f->pack, TCP_ACK, buf, len);
}

/* 1. RFC 7323 5.5 (RFC 1323 4.2.3): "If TS.Recent is found to be invalid
 * [idle > 24 days], then the segment is accepted, regardless of the
 * failure of the timestamp check, and rule R3 updates TS.Recent with the
 * TSval from the new segment."  tcp_ts_update only takes a TSval >=
 * TS.Recent, so the stale TS.Recent stays: our ACKs echo it (the peer's
 * RTT samples go wrong) and, ts_recent_us never moving, PAWS stays off
 * for the rest of the connection. */
START_TEST(paws_idle_24_days_updates_ts_recent)
{
    struct tcp_fx f;
    open_ts_ws(&f, NULL, true, true, true);
    uint32_t base = f.pseq;
    f.ptsval = 50000;
    data_at(&f, base, 0, 100);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100);
    h_advance(f.h, 24 * DAY + SEC);
    h_learn_peer(f.h);
    f.ptsval = 40000;
    data_at(&f, base, 100, 100);
    ck_assert_int_eq(sk_recv(f.c, buf, sizeof(buf)), 100); /* accepted */
    ck_assert_int_eq(h_ntcp(f.h), 1);
    ck_assert_uint_eq(h_out_tcp_at(f.h, 0).opt.tsecr, 40000); /* FAILS: 50000 */
    h_clear(f.h);
    /* Older than the new TS.Recent: PAWS must drop it. */
    f.ptsval = 39990;
    data_at(&f, base, 200, 100);
    ck_assert_uint_eq(sk_counters(f.h->s)->drop_tcp_paws, 1); /* FAILS: 0, accepted */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* 2. synack.h: buffer sizes are "1024..1 GiB"; sk_conn_set_opts and the
 * config accept 1 GiB, but tcb_alloc_buffers makes the receive ring
 * rcvbuf + 2^wscale bytes, over ring_init's 1 GiB limit: ENOMEM. */
static void rcvbuf_1g(struct sk_config *cfg)
{
    cfg->tcp_rcvbuf = 1u << 30;
}
START_TEST(rcvbuf_1gib_accepted)
{
    struct tcp_fx f;
    fx_listen(&f, NULL, 0);
    int err = -1;
    sk_conn *c = sk_connect(f.h->s, PEER_IP, 80, 40001, f.h->now, &err);
    ck_assert_ptr_nonnull(c);
    struct sk_tcp_opts o;
    sk_conn_get_opts(c, &o);
    o.rcvbuf = 1u << 30;
    ck_assert_int_eq(sk_conn_set_opts(c, &o), 0); /* FAILS: -SK_ENOMEM */
    sk_abort(c);
    fx_free(&f);
    /* The same through the stack's config: no connection can be made. */
    struct harness *h = h_new(rcvbuf_1g);
    c = sk_connect(h->s, PEER_IP, 80, 40001, h->now, &err);
    ck_assert_msg(c != NULL, "sk_connect: %s", sk_strerror(err)); /* FAILS: ENOMEM */
    sk_abort(c);
    h_free(h);
}
END_TEST

/* 3. RFC 2883 4.1 (3) / RFC 2018 4: after the D-SACK block and the block of
 * the range holding the duplicate, the other ranges follow, most recent
 * first, as many as fit.  tcp_rcv_sack_blocks only takes ranges older
 * than the first one (stamp < taken_stamp): when the duplicate lies in
 * an older range, the newer ranges are left out. */
START_TEST(dsack_in_older_range_keeps_newer_blocks)
{
    struct tcp_fx f;
    open_ts_ws(&f, NULL, true, true, false);
    uint32_t base = f.pseq;
    data_at(&f, base, 200, 200);
    data_at(&f, base, 600, 100);
    h_clear(f.h);
    data_at(&f, base, 250, 100); /* a duplicate inside [200, 400) */
    ck_assert_int_eq(h_ntcp(f.h), 1);
    struct tcp_seg g = h_out_tcp_at(f.h, 0);
    ck_assert_uint_eq(g.opt.sack[0].start, base + 250);
    ck_assert_uint_eq(g.opt.sack[1].start, base + 200);
    ck_assert_uint_eq(g.opt.nsack, 3); /* FAILS: 2, [600, 700) left out */
    ck_assert_uint_eq(g.opt.sack[2].start, base + 600);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* 4. RFC 9293 3.8.6.2.2 (receiver SWS avoidance) and 3.8.6.2.1: with
 * nothing read, the right edge must stay where it is: the buffer has no
 * new room.  tcp_write_segment rounds the window up to the unit of the
 * scale (RFC 7323 2.4) and stores the rounded value in rcv_wnd; the next
 * window starts from it and is rounded up again, so the edge creeps right
 * by up to 2^wscale - 1 bytes per ACK, past the buffer (here 1000003
 * bytes, shift 4: the peer gets 7053 bytes more in than the buffer holds,
 * far beyond the one unit of slack tcb_alloc_buffers gives the ring). */
static void rcvbuf_1m(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 86400000; /* the peer stays known all along */
    cfg->tcp_rcvbuf = 1000003;
}
START_TEST(window_edge_still_while_unread)
{
    struct tcp_fx f;
    open_ts_ws(&f, rcvbuf_1m, false, false, true);
    uint32_t base = f.pseq, off = 0;
    uint32_t edge = base + 65535, first = 0; /* the SYN-ACK's window */
    for (int round = 0; round < 100000 && edge != base + off; round++) {
        uint32_t n = edge - (base + off) < 999 ? edge - (base + off) : 999;
        data_at(&f, base, off, n);
        off += n;
        h_advance(f.h, 50 * MS);
        for (int k = 0; k < h_ntcp(f.h); k++) {
            struct tcp_seg g = h_out_tcp_at(f.h, k);
            uint32_t e = g.ack + ((uint32_t)g.wnd << 4);
            /* RFC 7323 2.4: rounding to the unit (16 bytes here) may make
             * the edge seem to move by less than a unit either way, never
             * more: with nothing read it must not creep away. */
            if (!first && e != edge) {
                first = e; /* the first scaled window opens it once */
            } else if (first) {
                ck_assert_msg(seq_leq(e, first + 15), "edge crept right by %u with nothing read",
                              e - first);
                ck_assert_msg(seq_geq(e, first - 15), "edge moved left by %u", first - e);
            }
            edge = e;
        }
        h_clear(f.h);
    }
    ck_assert_msg(off <= 1000003 + 16, "%u bytes in a buffer of 1000003", off);
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* 5. The same creep, made to overrun the receive ring: shift 3, a buffer of
 * 30 chunks less the slack (491512 bytes), segments of 103 bytes, each
 * ACKed (the creep is the segment's length modulo the unit: 7 bytes per
 * 103).  The stack takes
 * more bytes than its ring's span (32 slots of 16 KiB): ring positions
 * alias and later bytes overwrite unread ones.  What the app reads is
 * not what the peer sent. */
static void rcvbuf_480k(struct sk_config *cfg)
{
    cfg->arp_lifetime_ms = 86400000; /* the peer stays known all along */
    cfg->tcp_rcvbuf = 491512;
}
START_TEST(window_creep_corrupts_data)
{
    struct tcp_fx f;
    open_ts_ws(&f, rcvbuf_480k, false, false, true);
    uint32_t base = f.pseq, off = 0, edge = base + 65535;
    for (int round = 0; round < 200000 && edge != base + off; round++) {
        uint32_t n = edge - (base + off) < 103 ? edge - (base + off) : 103;
        data_at(&f, base, off, n);
        off += n;
        h_advance(f.h, 50 * MS);
        for (int k = 0; k < h_ntcp(f.h); k++) {
            struct tcp_seg g = h_out_tcp_at(f.h, k);
            edge = g.ack + ((uint32_t)g.wnd << 3);
        }
        h_clear(f.h);
    }
    long n = sk_recv(f.c, buf, sizeof(buf));
    ck_assert_int_eq(n, (long)off);
    uint32_t bad = 0;
    for (uint32_t k = 0; k < off; k++)
        bad += buf[k] != pat(k);
    ck_assert_msg(bad == 0, "%u of %u bytes read back wrong", bad, off);           /* FAILS */
    ck_assert_msg(off <= 491512 + 8, "%u bytes taken in a buffer of 491512", off); /* FAILS */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

/* 6. synack.h: "sndbuf, rcvbuf: 0 keeps the stack's default".  A fresh
 * struct with only nodelay set, on an established connection whose
 * buffers are the defaults, is refused (-SK_EINVAL): set_opts compares
 * the 0 with the stored 4 MiB and takes it as a size change. */
START_TEST(set_opts_zero_sizes_keep_defaults)
{
    struct tcp_fx f;
    fx_open_passive(&f, NULL, 1000, 65535, 1460);
    struct sk_tcp_opts o = {.nodelay = true};
    ck_assert_int_eq(sk_conn_set_opts(f.c, &o), 0); /* FAILS: -SK_EINVAL */
    sk_abort(f.c);
    fx_free(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_core_bugs");
    TCase *t = tcase_create("bugs");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, paws_idle_24_days_updates_ts_recent);
    tcase_add_test(t, rcvbuf_1gib_accepted);
    tcase_add_test(t, dsack_in_older_range_keeps_newer_blocks);
    tcase_add_test(t, window_edge_still_while_unread);
    tcase_add_test(t, window_creep_corrupts_data);
    tcase_add_test(t, set_opts_zero_sizes_keep_defaults);
    suite_add_tcase(s, t);
    return h_run(s);
}
