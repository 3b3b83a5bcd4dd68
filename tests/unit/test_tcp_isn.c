/* Sequence arithmetic around 2^32, the RFC 6528 ISN function, and the TCP
 * option parser (every kind, every illegal length, never past the buffer:
 * run under valgrind, where each option block sits in its own exact-size
 * heap allocation). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "harness.h"
#include "ipv4.h"
#include "seq.h"

/* ---- seq.h ---- */

START_TEST(seq_compare_across_wrap)
{
    ck_assert(seq_lt(0xFFFFFFF0u, 0x10u));
    ck_assert(!seq_lt(0x10u, 0xFFFFFFF0u));
    ck_assert(seq_gt(0x10u, 0xFFFFFFF0u));
    ck_assert(!seq_gt(0xFFFFFFF0u, 0x10u));
    ck_assert(seq_leq(0xFFFFFFFFu, 0u));
    ck_assert(seq_lt(0xFFFFFFFFu, 0u));
    ck_assert(seq_gt(0u, 0xFFFFFFFFu));
    ck_assert(seq_geq(0u, 0xFFFFFFFFu));
    ck_assert(seq_leq(5u, 5u) && seq_geq(5u, 5u));
    ck_assert(!seq_lt(5u, 5u) && !seq_gt(5u, 5u));
    ck_assert(seq_leq(0xFFFFFFFFu, 0xFFFFFFFFu));
    /* Half the space apart is the edge: 2^31 - 1 ahead is still "after". */
    ck_assert(seq_lt(0u, 0x7FFFFFFFu));
    ck_assert(seq_gt(0x7FFFFFFFu, 0u));
    ck_assert(seq_lt(0xFFFFFFF0u, 0xFFFFFFF0u + 0x7FFFFFFFu));
}
END_TEST

START_TEST(seq_in_across_wrap)
{
    /* The window [0xFFFFFFF0, 0x10) straddles zero. */
    ck_assert(seq_in(0xFFFFFFF0u, 0xFFFFFFF0u, 0x10u));
    ck_assert(seq_in(0xFFFFFFFFu, 0xFFFFFFF0u, 0x10u));
    ck_assert(seq_in(0u, 0xFFFFFFF0u, 0x10u));
    ck_assert(seq_in(0xFu, 0xFFFFFFF0u, 0x10u));
    ck_assert(!seq_in(0x10u, 0xFFFFFFF0u, 0x10u));
    ck_assert(!seq_in(0xFFFFFFEFu, 0xFFFFFFF0u, 0x10u));
    /* An empty window holds nothing. */
    ck_assert(!seq_in(7u, 7u, 7u));
}
END_TEST

START_TEST(seq_min_max_across_wrap)
{
    ck_assert_uint_eq(seq_max(0xFFFFFFF0u, 0x10u), 0x10u);
    ck_assert_uint_eq(seq_max(0x10u, 0xFFFFFFF0u), 0x10u);
    ck_assert_uint_eq(seq_min(0xFFFFFFF0u, 0x10u), 0xFFFFFFF0u);
    ck_assert_uint_eq(seq_min(0x10u, 0xFFFFFFF0u), 0xFFFFFFF0u);
    ck_assert_uint_eq(seq_max(3u, 3u), 3u);
}
END_TEST

/* ---- ISN, RFC 6528 ---- */

static void other_key(struct sk_config *cfg)
{
    for (int i = 0; i < 16; i++)
        cfg->tcp_isn_key[i] = (uint8_t)(0xA0 + i);
}

static uint32_t isn_at(struct harness *h, uint64_t now, uint16_t lport, uint32_t raddr,
                       uint16_t rport)
{
    h->s->now = now;
    return tcp_isn(h->s, US_IP, lport, raddr, rport);
}

START_TEST(isn_deterministic)
{
    struct harness *a = h_new(NULL), *b = h_new(NULL);
    uint64_t t = 123456789;
    uint32_t x = isn_at(a, t, 5050, PEER_IP, 40000);
    ck_assert_uint_eq(isn_at(a, t, 5050, PEER_IP, 40000), x);
    /* Another stack with the same key agrees. */
    ck_assert_uint_eq(isn_at(b, t, 5050, PEER_IP, 40000), x);
    h_free(a);
    h_free(b);
}
END_TEST

START_TEST(isn_other_tuple_unrelated)
{
    struct harness *h = h_new(NULL);
    uint64_t t = 5000000;
    uint32_t x = isn_at(h, t, 5050, PEER_IP, 40000);
    uint32_t y[4] = {isn_at(h, t, 5050, PEER_IP, 40001), isn_at(h, t, 5051, PEER_IP, 40000),
                     isn_at(h, t, 5050, PEER_IP + 1, 40000), isn_at(h, t, 5050, PEER_IP, 40002)};
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_ne(y[i], x);
        /* Not a small offset of x either: a neighbouring tuple must not
         * reveal where x lies (the point of RFC 6528). */
        uint32_t d = y[i] - x;
        ck_assert(d > 0x10000u && d < 0xFFFF0000u);
    }
    ck_assert_uint_ne(y[0], y[3]);
    h_free(h);
}
END_TEST

START_TEST(isn_moves_with_time)
{
    struct harness *h = h_new(NULL);
    uint64_t t = 7000000;
    uint32_t x = isn_at(h, t, 5050, PEER_IP, 40000);
    /* M ticks every 4 microseconds. */
    ck_assert_uint_eq(isn_at(h, t + 1, 5050, PEER_IP, 40000), x);
    ck_assert_uint_eq(isn_at(h, t + 3, 5050, PEER_IP, 40000), x);
    ck_assert_uint_eq(isn_at(h, t + 4, 5050, PEER_IP, 40000), x + 1);
    ck_assert_uint_eq(isn_at(h, t + 4000000, 5050, PEER_IP, 40000), x + 1000000);
    /* M wraps with the sequence space: 2^34 microseconds later it is back. */
    ck_assert_uint_eq(isn_at(h, t + (1ULL << 34), 5050, PEER_IP, 40000), x);
    h_free(h);
}
END_TEST

START_TEST(isn_depends_on_key)
{
    struct harness *a = h_new(NULL), *b = h_new(other_key);
    uint64_t t = 99999996;
    uint32_t x = isn_at(a, t, 5050, PEER_IP, 40000);
    uint32_t y = isn_at(b, t, 5050, PEER_IP, 40000);
    ck_assert_uint_ne(x, y);
    ck_assert(y - x > 0x10000u && y - x < 0xFFFF0000u);
    h_free(a);
    h_free(b);
}
END_TEST

START_TEST(isn_used_by_connect)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint32_t want = isn_at(h, h->now, 40000, PEER_IP, 80);
    int err;
    sk_conn *c = sk_connect(h->s, PEER_IP, 80, 40000, h->now, &err);
    ck_assert_ptr_nonnull(c);
    sk_flush(h->s, h->now);
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_SYN);
    ck_assert_uint_eq(g.seq, want);
    sk_abort(c);
    h_free(h);
}
END_TEST

/* ---- options ---- */

/* Parses options from an allocation of exactly `len` bytes, so that
 * valgrind sees any read past the end. */
static int parse(const uint8_t *bytes, size_t len, struct tcp_opts *o)
{
    uint8_t *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    if (len)
        memcpy(p, bytes, len); /* bytes may be NULL when len is 0 */
    int r = tcp_parse_options(p, len, o);
    free(p);
    return r;
}

START_TEST(opts_empty)
{
    struct tcp_opts o;
    ck_assert_int_eq(parse(NULL, 0, &o), 0);
    ck_assert_uint_eq(o.mss, 0);
    ck_assert_int_eq(o.wscale, -1);
    ck_assert(!o.sack_ok);
    ck_assert(!o.ts);
}
END_TEST

START_TEST(opts_every_kind)
{
    /* NOP, MSS 1460, NOP, WS 7, SACK-permitted, TS, SACK with one block,
     * an unknown kind 30 of length 6, then EOL followed by padding that
     * must be ignored, however it looks. */
    const uint8_t b[] = {1,    2,    4,    0x05, 0xB4, 1,    3,    3,    7,    4, 2, 8, 10,   0x11,
                         0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 5,    10,   0, 0, 0, 1,    0,
                         0,    0,    9,    30,   6,    0xEE, 0xEE, 0xEE, 0xEE, 0, 2, 0, 0xFF, 0xFF};
    struct tcp_opts o;
    ck_assert_int_eq(parse(b, sizeof(b), &o), 0);
    ck_assert_uint_eq(o.mss, 1460);
    ck_assert_int_eq(o.wscale, 7);
    ck_assert(o.sack_ok);
    ck_assert(o.ts);
    ck_assert_uint_eq(o.tsval, 0x11223344u);
    ck_assert_uint_eq(o.tsecr, 0x55667788u);
}
END_TEST

START_TEST(opts_eol_stops)
{
    /* After EOL, even an MSS option is not read. */
    const uint8_t b[] = {0, 2, 4, 0x05, 0xB4};
    struct tcp_opts o;
    ck_assert_int_eq(parse(b, sizeof(b), &o), 0);
    ck_assert_uint_eq(o.mss, 0);
}
END_TEST

START_TEST(opts_nops_only)
{
    const uint8_t b[] = {1, 1, 1, 1};
    struct tcp_opts o;
    ck_assert_int_eq(parse(b, sizeof(b), &o), 0);
    ck_assert_uint_eq(o.mss, 0);
}
END_TEST

START_TEST(opts_wscale_capped)
{
    /* RFC 7323 2.3: a shift above 14 is used as 14. */
    const uint8_t b[] = {3, 3, 20, 0};
    struct tcp_opts o;
    ck_assert_int_eq(parse(b, sizeof(b), &o), 0);
    ck_assert_int_eq(o.wscale, 14);
}
END_TEST

START_TEST(opts_unknown_skipped)
{
    /* Unknown kinds 99 (length 2) and 254 (length 8) are skipped by their
     * length; the MSS after them is still read. */
    const uint8_t b[] = {99, 2, 254, 8, 0, 0, 0, 0, 0, 0, 2, 4, 0x02, 0x18};
    struct tcp_opts o;
    ck_assert_int_eq(parse(b, sizeof(b), &o), 0);
    ck_assert_uint_eq(o.mss, 536);
}
END_TEST

START_TEST(opts_illegal)
{
    static const struct {
        uint8_t b[12];
        size_t len;
    } bad[] = {
        {{2, 0, 0, 0}, 4},              /* length 0 */
        {{30, 0}, 2},                   /* unknown kind, length 0 */
        {{2, 1, 0, 0}, 4},              /* length 1 */
        {{99, 1, 1, 1}, 4},             /* unknown kind, length 1 */
        {{2}, 1},                       /* kind with no room for a length */
        {{1, 1, 1, 8}, 4},              /* the same after NOPs */
        {{2, 4, 0x05}, 3},              /* MSS cut by the end */
        {{30, 6, 0, 0}, 4},             /* unknown kind longer than what is left */
        {{1, 8, 10, 0, 0, 0, 0, 0}, 8}, /* timestamps cut by the end */
        {{2, 3, 0x05}, 3},              /* MSS of length 3 */
        {{2, 5, 0x05, 0xB4, 0}, 5},     /* MSS of length 5 */
        {{3, 2, 1, 1}, 4},              /* window scale of length 2 */
        {{3, 4, 7, 0}, 4},              /* window scale of length 4 */
        {{4, 3, 0, 1}, 4},              /* SACK-permitted of length 3 */
        {{5, 6, 0, 0, 0, 0}, 6},        /* SACK, not a whole block */
        {{8, 8, 0, 0, 0, 0, 0, 0}, 8},  /* timestamps of length 8 */
        {{2, 4, 5, 0xB4, 2, 0xFF}, 6},  /* a good MSS, then a length beyond */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tcp_opts o;
        ck_assert_msg(parse(bad[i].b, bad[i].len, &o) < 0, "case %zu accepted", i);
    }
}
END_TEST

/* A SYN from the peer with raw option bytes `opt` (a multiple of 4). */
static void send_syn_with_opts(struct harness *h, const uint8_t *opt, size_t olen)
{
    uint8_t seg[64], f[H_FRAME_MAX];
    size_t hl = TCP_HDR_LEN + olen;
    memset(seg, 0, sizeof(seg));
    wr16(seg, 40000);
    wr16(seg + 2, 5050);
    wr32(seg + 4, 1000);
    seg[12] = (uint8_t)((hl / 4) << 4);
    seg[13] = TCP_SYN;
    wr16(seg + 14, 65535);
    memcpy(seg + TCP_HDR_LEN, opt, olen);
    uint32_t sum = csum_pseudo(PEER_IP, US_IP, IP_PROTO_TCP, (uint16_t)hl);
    wr16(seg + 16, csum_finish(csum_partial(seg, hl, sum)));
    size_t n = h_ipv4(f, PEER_IP, US_IP, IP_PROTO_TCP, seg, hl);
    h_input(h, f, n);
}

START_TEST(segment_with_bad_options_dropped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    int err;
    sk_conn *l = sk_listen(h->s, 5050, 0, &err);
    ck_assert_ptr_nonnull(l);
    const uint8_t bad[][4] = {
        {2, 0, 0, 0}, /* length 0 */
        {2, 1, 0, 0}, /* length 1 */
        {1, 1, 2, 4}, /* MSS beyond the header */
        {2, 3, 5, 0}, /* MSS of length 3 */
        {1, 1, 1, 2}, /* kind in the last byte, no length */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        send_syn_with_opts(h, bad[i], 4);
        ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_options, i + 1);
    }
    ck_assert_int_eq(h->nout, 0); /* not even a RST */
    ck_assert_uint_eq(sk_counters(h->s)->tcp_passive_opens, 0);

    /* The same SYN with sane options gets its SYN-ACK, honouring the MSS
     * that follows an unknown option. */
    const uint8_t good[] = {77, 2, 2, 4, 0x02, 0x00, 1, 0};
    send_syn_with_opts(h, good, sizeof(good));
    struct tcp_seg g = h_last_tcp(h);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_uint_eq(g.ack, 1001);
    ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_options, 5);
    ck_assert_uint_eq(sk_counters(h->s)->tcp_passive_opens, 1);
    sk_close(l);
    h_free(h);
}
END_TEST

START_TEST(header_length_beyond_segment_dropped)
{
    struct harness *h = h_new(NULL);
    h_learn_peer(h);
    uint8_t seg[TCP_HDR_LEN], f[128];
    memset(seg, 0, sizeof(seg));
    wr16(seg, 40000);
    wr16(seg + 2, 5050);
    seg[12] = 6 << 4; /* 24 bytes claimed, 20 present */
    seg[13] = TCP_SYN;
    uint32_t sum = csum_pseudo(PEER_IP, US_IP, IP_PROTO_TCP, TCP_HDR_LEN);
    wr16(seg + 16, csum_finish(csum_partial(seg, TCP_HDR_LEN, sum)));
    h_input(h, f, h_ipv4(f, PEER_IP, US_IP, IP_PROTO_TCP, seg, TCP_HDR_LEN));
    ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_truncated, 1);
    seg[12] = 4 << 4; /* below the fixed header */
    wr16(seg + 16, 0);
    wr16(seg + 16, csum_finish(csum_partial(seg, TCP_HDR_LEN, sum)));
    h_input(h, f, h_ipv4(f, PEER_IP, US_IP, IP_PROTO_TCP, seg, TCP_HDR_LEN));
    ck_assert_uint_eq(sk_counters(h->s)->drop_tcp_truncated, 2);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp_isn");
    TCase *seq = tcase_create("seq");
    tcase_add_test(seq, seq_compare_across_wrap);
    tcase_add_test(seq, seq_in_across_wrap);
    tcase_add_test(seq, seq_min_max_across_wrap);
    suite_add_tcase(s, seq);
    TCase *isn = tcase_create("isn");
    tcase_add_test(isn, isn_deterministic);
    tcase_add_test(isn, isn_other_tuple_unrelated);
    tcase_add_test(isn, isn_moves_with_time);
    tcase_add_test(isn, isn_depends_on_key);
    tcase_add_test(isn, isn_used_by_connect);
    suite_add_tcase(s, isn);
    TCase *opt = tcase_create("options");
    tcase_add_test(opt, opts_empty);
    tcase_add_test(opt, opts_every_kind);
    tcase_add_test(opt, opts_eol_stops);
    tcase_add_test(opt, opts_nops_only);
    tcase_add_test(opt, opts_wscale_capped);
    tcase_add_test(opt, opts_unknown_skipped);
    tcase_add_test(opt, opts_illegal);
    tcase_add_test(opt, segment_with_bad_options_dropped);
    tcase_add_test(opt, header_length_beyond_segment_dropped);
    suite_add_tcase(s, opt);
    return h_run(s);
}
