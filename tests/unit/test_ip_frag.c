/* Unit tests of IPv4 reassembly (stack/ip_frag.c): fragments in order,
 * reversed and shuffled make the datagram again; overlaps, tiny first
 * fragments, datagrams over 65,535 bytes and disagreeing ends are
 * refused with their counters; the timeout frees a datagram and tells the
 * source; a flood cannot take more than the budget.  Datagrams are ICMP
 * echo requests, so a reassembled one shows as an echo reply. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "checksum.h"
#include "eth.h"
#include "harness.h"
#include "icmp.h"
#include "ip_frag.h"
#include "ipv4.h"

#define CTR(h, name) (sk_counters((h)->s)->name)

static uint32_t prng = 777;
static uint32_t rnd(void)
{
    prng = prng * 1664525u + 1013904223u;
    return prng >> 8;
}

/* An ICMP echo request message of n data bytes in m; returns its length. */
static size_t echo_msg(uint8_t *m, uint16_t seq, size_t n)
{
    m[0] = ICMP_ECHO_REQUEST;
    m[1] = 0;
    wr16(m + 2, 0);
    wr16(m + 4, 0x4242);
    wr16(m + 6, seq);
    for (size_t i = 0; i < n; i++)
        m[8 + i] = (uint8_t)rnd();
    wr16(m + 2, csum(m, 8 + n));
    return 8 + n;
}

/* A frame holding payload bytes [off, off + len) of a datagram (proto,
 * id) from src, MF as given. */
static size_t frag_frame(uint8_t *f, uint32_t src, uint8_t proto, uint16_t id, uint32_t off,
                         bool mf, const uint8_t *payload, size_t len)
{
    size_t o = h_eth(f, US_MAC, PEER_MAC, ETHERTYPE_IP);
    uint8_t *ip = f + o;
    memset(ip, 0, IP_HDR_LEN);
    ip[0] = 0x45;
    wr16(ip + 2, (uint16_t)(IP_HDR_LEN + len));
    wr16(ip + 4, id);
    wr16(ip + 6, (uint16_t)((mf ? IP_FLAG_MF : 0) | (off / 8)));
    ip[8] = 64;
    ip[9] = proto;
    wr32(ip + 12, src);
    wr32(ip + 16, US_IP);
    wr16(ip + 10, csum(ip, IP_HDR_LEN));
    if (len)
        memcpy(ip + IP_HDR_LEN, payload, len);
    return o + IP_HDR_LEN + len;
}

/* Feeds fragment i (of `per` bytes each) of the message m (mlen bytes). */
static void feed(struct harness *h, uint16_t id, const uint8_t *m, size_t mlen, size_t per,
                 size_t i)
{
    static uint8_t f[H_FRAME_MAX];
    size_t off = i * per;
    size_t len = mlen - off < per ? mlen - off : per;
    size_t n =
        frag_frame(f, PEER_IP, IP_PROTO_ICMP, id, (uint32_t)off, off + len < mlen, m + off, len);
    h_input(h, f, n);
}

/* The frames captured are the echo reply to m in fragments: put together
 * they are m with type 0 and a valid checksum. */
static void check_reply(struct harness *h, const uint8_t *m, size_t mlen)
{
    static uint8_t got[70000];
    size_t have = 0;
    ck_assert_int_gt(h->nout, 0);
    for (int i = 0; i < h->nout; i++) {
        struct ipv4_hdr ih;
        ck_assert_int_eq(ipv4_parse(h->out[i] + ETH_HDR_LEN, h->out_len[i] - ETH_HDR_LEN, &ih),
                         IPV4_OK);
        ck_assert_uint_eq(ih.proto, IP_PROTO_ICMP);
        size_t off = (size_t)(ih.frag & IP_OFF_MASK) * 8;
        ck_assert_uint_eq(off, have); /* in order, no gap */
        size_t len = ih.total_len - ih.ihl;
        memcpy(got + off, h->out[i] + ETH_HDR_LEN + ih.ihl, len);
        have += len;
        ck_assert_uint_eq(!!(ih.frag & IP_FLAG_MF), i + 1 < h->nout);
    }
    ck_assert_uint_eq(have, mlen);
    ck_assert_uint_eq(got[0], ICMP_ECHO_REPLY);
    ck_assert_uint_eq(csum(got, mlen), 0);
    ck_assert_mem_eq(got + 4, m + 4, mlen - 4);
}

static struct harness *setup(void (*tweak)(struct sk_config *))
{
    struct harness *h = h_new(tweak);
    h_learn_peer(h);
    return h;
}

/* Nothing left in reassembly. */
static void check_empty(struct harness *h)
{
    ck_assert_uint_eq(ip_frag_count(h->s), 0);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
}

static uint8_t msg[70000];

START_TEST(frag_in_order)
{
    struct harness *h = setup(NULL);
    size_t ml = echo_msg(msg, 1, 3000);
    for (size_t i = 0; i < 4; i++) {
        h_clear(h);
        feed(h, 0x100, msg, ml, 800, i);
        if (i < 3)
            ck_assert_int_eq(h->nout, 0);
    }
    check_reply(h, msg, ml);
    ck_assert_uint_eq(CTR(h, ip_frags_in), 4);
    ck_assert_uint_eq(CTR(h, ip_reassembled), 1);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 1);
    check_empty(h);
    h_free(h);
}
END_TEST

START_TEST(frag_reversed)
{
    struct harness *h = setup(NULL);
    size_t ml = echo_msg(msg, 2, 5000);
    size_t nf = (ml + 511) / 512;
    h_clear(h);
    for (size_t i = nf; i-- > 0;)
        feed(h, 0x200, msg, ml, 512, i);
    check_reply(h, msg, ml);
    ck_assert_uint_eq(CTR(h, ip_reassembled), 1);
    check_empty(h);
    h_free(h);
}
END_TEST

START_TEST(frag_shuffled)
{
    struct harness *h = setup(NULL);
    /* The largest echo there is: 65,507 data bytes in 8-byte-aligned
     * pieces of 1,480, in a random order, several times over. */
    for (int round = 0; round < 5; round++) {
        size_t ml = echo_msg(msg, (uint16_t)round, 65507);
        size_t per = 1480, nf = (ml + per - 1) / per;
        size_t order[64];
        for (size_t i = 0; i < nf; i++)
            order[i] = i;
        for (size_t i = nf - 1; i > 0; i--) {
            size_t j = rnd() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        h_clear(h);
        for (size_t i = 0; i < nf; i++) {
            feed(h, (uint16_t)(0x300 + round), msg, ml, per, order[i]);
            if (i + 1 < nf)
                ck_assert_int_eq(h->nout, 0);
        }
        check_reply(h, msg, ml);
        check_empty(h);
    }
    ck_assert_uint_eq(CTR(h, ip_reassembled), 5);
    h_free(h);
}
END_TEST

START_TEST(frag_two_interleaved)
{
    /* Two datagrams from one source, fragments alternating: told apart by
     * their identification. */
    struct harness *h = setup(NULL);
    static uint8_t m2[4000];
    size_t ml = echo_msg(msg, 7, 2000);
    size_t ml2 = echo_msg(m2, 8, 2000);
    h_clear(h);
    for (size_t i = 0; i < 3; i++) {
        feed(h, 0x700, msg, ml, 800, i);
        feed(h, 0x701, m2, ml2, 800, 2 - i);
    }
    ck_assert_uint_eq(CTR(h, ip_reassembled), 2);
    ck_assert_uint_eq(CTR(h, icmp_echo_replies), 2);
    check_empty(h);
    h_free(h);
}
END_TEST

START_TEST(frag_overlap_drops_datagram)
{
    struct harness *h = setup(NULL);
    size_t ml = echo_msg(msg, 3, 3000);
    static uint8_t f[H_FRAME_MAX];
    h_clear(h);
    feed(h, 0x400, msg, ml, 1000, 0); /* [0, 1000) */
    /* [992, 1992) overlaps it by 8 bytes: the datagram is discarded. */
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x400, 992, true, msg + 992, 1000);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_overlap), 1);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    /* Its other fragments, even the right ones, are dropped (RFC 5722):
     * no reply ever. */
    for (size_t i = 0; i < 4; i++)
        feed(h, 0x400, msg, ml, 1000, i);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_dead), 4);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, ip_reassembled), 0);
    /* Until its timeout; then the key is free again. */
    h_advance(h, (uint64_t)IP_FRAG_TIMEOUT_MS * 1000);
    check_empty(h);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_timeout), 0); /* counted once, as an overlap */
    h_clear(h);
    for (size_t i = 0; i < 4; i++)
        feed(h, 0x400, msg, ml, 1000, i);
    check_reply(h, msg, ml);

    /* An exact duplicate is an overlap too. */
    h_clear(h);
    feed(h, 0x401, msg, ml, 1000, 1);
    feed(h, 0x401, msg, ml, 1000, 1);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_overlap), 2);
    /* And one inside another. */
    feed(h, 0x402, msg, ml, 1000, 0);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x402, 8, true, msg + 8, 16);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_overlap), 3);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);
}
END_TEST

START_TEST(frag_tiny_first_refused)
{
    struct harness *h = setup(NULL);
    static uint8_t f[H_FRAME_MAX], tcp[64];
    memset(tcp, 0, sizeof(tcp));
    wr16(tcp, 40000);
    wr16(tcp + 2, 80);
    tcp[12] = 5 << 4;
    tcp[13] = TCP_SYN;
    /* RFC 1858 3.2: a TCP first fragment of 8 bytes (ports and sequence
     * number, not the flags) is refused... */
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0x500, 0, true, tcp, 8);
    h_clear(h);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_tiny), 1);
    check_empty(h);
    /* ...and so is a TCP fragment at offset 8, which would rewrite the
     * flags of a first fragment that passed a filter. */
    n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0x501, 8, false, tcp + 8, 32);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_tiny), 2);
    check_empty(h);
    /* One at offset 8 into a datagram already held discards it. */
    n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0x502, 0, true, tcp, 24);
    h_input(h, f, n);
    ck_assert_uint_eq(ip_frag_count(h->s), 1);
    ck_assert_uint_gt(ip_frag_mem_used(h->s), 0);
    n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0x502, 16, false, tcp + 16, 8);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_tiny), 3);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    /* A TCP header with options (data offset 8: 32 bytes) must be whole
     * in the first fragment: 24 bytes are not enough. */
    tcp[12] = 8 << 4;
    n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0x503, 0, true, tcp, 24);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_tiny), 4);
    /* An ICMP first fragment of 8 bytes holds its whole header: kept. */
    size_t ml = echo_msg(msg, 5, 100);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x504, 0, true, msg, 8);
    h_input(h, f, n);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x504, 8, false, msg + 8, ml - 8);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_tiny), 4);
    check_reply(h, msg, ml);
    ck_assert_int_eq(h_ntcp(h), 0);
    h_free(h);
}
END_TEST

START_TEST(frag_over_65535_refused)
{
    struct harness *h = setup(NULL);
    static uint8_t f[H_FRAME_MAX], data[1480];
    memset(data, 0xab, sizeof(data));
    /* The ping of death: fragments whose last ends past 65,535 bytes. */
    size_t ml = echo_msg(msg, 6, 1472);
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x600, 0, true, msg, 1480);
    h_clear(h);
    h_input(h, f, n);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x600, 65520, true, data, 8);
    h_input(h, f, n);
    ck_assert_uint_eq(ip_frag_count(h->s), 1);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x600, 65528, false, data, 8); /* to 65536 + 20 */
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_big), 1);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    ck_assert_int_eq(h->nout, 0);
    /* The largest that fits: payload to 65,515, 65,535 with the header. */
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x601, 65512, false, data, 3);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_big), 1);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x602, 65512, false, data, 4);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_big), 2);
    (void)ml;

    /* Options in the first fragment's header count too: 60 + 65,515. */
    memset(msg, 0x11, 65515);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x603, 0, true, msg, 1480);
    uint8_t *ip = f + ETH_HDR_LEN;
    memmove(ip + 60, ip + IP_HDR_LEN, 1480);
    memset(ip + IP_HDR_LEN, 1, 40); /* NOPs */
    ip[0] = 0x4f;
    wr16(ip + 2, 60 + 1480);
    wr16(ip + 10, 0);
    wr16(ip + 10, csum(ip, 60));
    h_input(h, f, ETH_HDR_LEN + 60 + 1480);
    for (uint32_t off = 1480; off < 65515; off += 1480) {
        uint32_t len = 65515 - off < 1480 ? 65515 - off : 1480;
        n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x603, off, off + len < 65515, msg + off, len);
        h_input(h, f, n);
    }
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_big), 3);
    ck_assert_uint_eq(CTR(h, ip_reassembled), 0);
    ck_assert_int_eq(h->nout, 0);
    h_free(h);
}
END_TEST

START_TEST(frag_bad_lengths_and_ends)
{
    struct harness *h = setup(NULL);
    static uint8_t f[H_FRAME_MAX];
    size_t ml = echo_msg(msg, 9, 3000);
    /* Not last, not a multiple of 8; empty. */
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x800, 0, true, msg, 100);
    h_input(h, f, n);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x800, 800, false, msg, 0);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_bad_len), 2);
    check_empty(h);
    /* Two last fragments that disagree on the end. */
    feed(h, 0x801, msg, ml, 1000, 3);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x801, 2000, false, msg + 2000, 800);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_bad_end), 1);
    /* A fragment beyond the known end. */
    feed(h, 0x802, msg, ml, 1000, 1);
    n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x802, 3200, true, msg, 800);
    h_input(h, f, n);
    feed(h, 0x802, msg, ml, 1000, 3);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_bad_end), 2);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    h_free(h);
}
END_TEST

START_TEST(frag_too_many_pieces)
{
    struct harness *h = setup(NULL);
    static uint8_t f[H_FRAME_MAX], data[8];
    memset(data, 1, sizeof(data));
    /* 8-byte pieces with gaps between them: the ranges cannot merge. */
    for (uint32_t i = 0; i < IP_FRAG_RANGES; i++) {
        size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x900, 16 + 16 * i, true, data, 8);
        h_input(h, f, n);
    }
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_many), 0);
    size_t n =
        frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0x900, 16 + 16 * IP_FRAG_RANGES, true, data, 8);
    h_input(h, f, n);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_too_many), 1);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    h_free(h);
}
END_TEST

START_TEST(frag_timeout_frees)
{
    struct harness *h = setup(NULL);
    size_t ml = echo_msg(msg, 10, 3000);
    uint64_t t0 = h->now;
    h_clear(h);
    feed(h, 0xa00, msg, ml, 1000, 0);
    feed(h, 0xa00, msg, ml, 1000, 2);
    ck_assert_uint_eq(ip_frag_count(h->s), 1);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 3 * 1024); /* chunks 0, 1 and 2 */
    /* The deadline is the first fragment's arrival plus the timeout. */
    ck_assert_uint_eq(sk_next_deadline(h->s), t0 + (uint64_t)IP_FRAG_TIMEOUT_MS * 1000);
    h_advance(h, (uint64_t)IP_FRAG_TIMEOUT_MS * 1000 - 1);
    ck_assert_uint_eq(ip_frag_count(h->s), 1);
    ck_assert_int_eq(h->nout, 0);
    h_advance(h, 1);
    check_empty(h);
    ck_assert_uint_eq(sk_next_deadline(h->s), UINT64_MAX);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_timeout), 1);
    /* RFC 1122 3.3.2: fragment zero came, so time exceeded (code 1)
     * quoting its header and first 8 bytes goes to the source. */
    ck_assert_int_eq(h->nout, 1);
    const uint8_t *ip = h->out[0] + ETH_HDR_LEN;
    struct ipv4_hdr ih;
    ck_assert_int_eq(ipv4_parse(ip, h->out_len[0] - ETH_HDR_LEN, &ih), IPV4_OK);
    ck_assert_uint_eq(ih.dst, PEER_IP);
    ck_assert_uint_eq(ih.proto, IP_PROTO_ICMP);
    const uint8_t *m = ip + IP_HDR_LEN;
    ck_assert_uint_eq(m[0], ICMP_TIME_EXCEEDED);
    ck_assert_uint_eq(m[1], ICMP_TIMXCEED_REASS);
    ck_assert_uint_eq(ih.total_len, IP_HDR_LEN + 8 + IP_HDR_LEN + 8);
    ck_assert_uint_eq(rd16(m + 8 + 4), 0xa00); /* the quoted identification */
    ck_assert_mem_eq(m + 8 + IP_HDR_LEN, msg, 8);
    ck_assert_uint_eq(CTR(h, icmp_time_exceeded_sent), 1);

    /* Without fragment zero, nothing is sent. */
    h_clear(h);
    feed(h, 0xa01, msg, ml, 1000, 1);
    h_advance(h, (uint64_t)IP_FRAG_TIMEOUT_MS * 1000);
    check_empty(h);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_timeout), 2);

    /* Nor about an ICMP error (RFC 1122 3.2.2: no error about an error). */
    static uint8_t f[H_FRAME_MAX], err[16];
    memset(err, 0, sizeof(err));
    err[0] = ICMP_UNREACH;
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, 0xa02, 0, true, err, sizeof(err));
    h_input(h, f, n);
    h_advance(h, (uint64_t)IP_FRAG_TIMEOUT_MS * 1000);
    check_empty(h);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_timeout), 3);
    ck_assert_uint_eq(CTR(h, icmp_time_exceeded_sent), 1);
    h_free(h);
}
END_TEST

static void small_budget(struct sk_config *cfg)
{
    cfg->ip_frag_mem = 64 * 1024;
    cfg->ip_frag_max = 16;
    cfg->ip_frag_timeout_ms = 5000;
}

START_TEST(frag_flood_bounded_by_count)
{
    struct harness *h = setup(small_budget);
    static uint8_t f[H_FRAME_MAX], data[1024];
    memset(data, 7, sizeof(data));
    /* 1,000 first fragments of different datagrams, never completed, from
     * addresses all over the subnet. */
    for (uint32_t i = 0; i < 1000; i++) {
        size_t n = frag_frame(f, 0x0a000000u | (10 + i % 200), IP_PROTO_ICMP, (uint16_t)i, 0, true,
                              data, sizeof(data));
        h_input(h, f, n);
        ck_assert_uint_le(ip_frag_count(h->s), 16);
        ck_assert_uint_le(ip_frag_mem_used(h->s), 64 * 1024);
    }
    ck_assert_uint_eq(ip_frag_count(h->s), 16);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_evicted), 1000 - 16);
    /* A real datagram still gets through: it evicts the oldest. */
    size_t ml = echo_msg(msg, 11, 3000);
    h_clear(h);
    for (size_t i = 0; i < 4; i++)
        feed(h, 0xb00, msg, ml, 1000, i);
    check_reply(h, msg, ml);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_evicted), 1000 - 16 + 1);
    /* And the timeout clears the rest. */
    h_advance(h, 5000 * 1000);
    check_empty(h);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_timeout), 15);
    h_free(h);
}
END_TEST

START_TEST(frag_flood_bounded_by_memory)
{
    struct harness *h = setup(small_budget);
    static uint8_t f[H_FRAME_MAX], data[8];
    memset(data, 7, sizeof(data));
    /* 8-byte fragments 1 KiB apart: each pins a 1 KiB chunk, 48 per
     * datagram; 64 KiB hold one datagram and part of another. */
    for (uint32_t d = 0; d < 20; d++) {
        for (uint32_t k = 1; k <= 48; k++) {
            size_t n = frag_frame(f, PEER_IP, IP_PROTO_ICMP, (uint16_t)(0xc00 + d), k * 1024, true,
                                  data, 8);
            h_input(h, f, n);
            ck_assert_uint_le(ip_frag_mem_used(h->s), 64 * 1024);
        }
    }
    /* Each datagram's 17th chunk evicted the one before it. */
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 48 * 1024);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_evicted), 19);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_nomem), 0);
    /* A real datagram still gets through. */
    size_t ml = echo_msg(msg, 12, 3000);
    h_clear(h);
    for (size_t i = 0; i < 4; i++)
        feed(h, 0xd00, msg, ml, 1000, i);
    check_reply(h, msg, ml);
    h_free(h);
}
END_TEST

static void tiny_budget(struct sk_config *cfg)
{
    cfg->ip_frag_mem = 4 * 1024;
}

START_TEST(frag_larger_than_budget)
{
    /* A datagram that cannot fit the budget even alone is dropped when
     * it overflows, and counted. */
    struct harness *h = setup(tiny_budget);
    size_t ml = echo_msg(msg, 13, 8000);
    h_clear(h);
    for (size_t i = 0; i < 8; i++)
        feed(h, 0xe00, msg, ml, 1008, i);
    ck_assert_uint_eq(CTR(h, drop_ip_frag_nomem), 1);
    ck_assert_uint_gt(CTR(h, drop_ip_frag_dead), 0);
    ck_assert_int_eq(h->nout, 0);
    ck_assert_uint_eq(ip_frag_mem_used(h->s), 0);
    /* One that fits still works. */
    ml = echo_msg(msg, 14, 3000);
    for (size_t i = 0; i < 4; i++)
        feed(h, 0xe01, msg, ml, 1000, i);
    check_reply(h, msg, ml);
    h_free(h);
}
END_TEST

START_TEST(frag_reassembled_tcp_goes_to_tcp)
{
    /* A SYN in two fragments reaches the listener like any SYN. */
    struct harness *h = setup(NULL);
    sk_conn *l = h_listen(h, 7777, 0);
    static uint8_t f[H_FRAME_MAX], seg[64];
    memset(seg, 0, sizeof(seg));
    wr16(seg, 41000);
    wr16(seg + 2, 7777);
    wr32(seg + 4, 1000);
    seg[12] = 5 << 4;
    seg[13] = TCP_SYN;
    wr16(seg + 14, 65535);
    memset(seg + 20, 'x', 12); /* data on the SYN, to have two pieces */
    uint32_t sum = csum_pseudo(PEER_IP, US_IP, IP_PROTO_TCP, 32);
    wr16(seg + 16, csum_finish(csum_partial(seg, 32, sum)));
    h_clear(h);
    size_t n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0xf00, 24, false, seg + 24, 8);
    h_input(h, f, n);
    n = frag_frame(f, PEER_IP, IP_PROTO_TCP, 0xf00, 0, true, seg, 24);
    h_input(h, f, n);
    ck_assert_int_eq(h_ntcp(h), 1);
    struct tcp_seg g = h_out_tcp_at(h, 0);
    ck_assert_uint_eq(g.flags, TCP_SYN | TCP_ACK);
    ck_assert_msg(g.ack == 1001 || g.ack == 1013, "ack %u", g.ack);
    sk_close(l);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ip_frag");
    TCase *tc = tcase_create("reassembly");
    tcase_add_test(tc, frag_in_order);
    tcase_add_test(tc, frag_reversed);
    tcase_add_test(tc, frag_shuffled);
    tcase_add_test(tc, frag_two_interleaved);
    tcase_add_test(tc, frag_reassembled_tcp_goes_to_tcp);
    suite_add_tcase(s, tc);
    TCase *bad = tcase_create("refused");
    tcase_add_test(bad, frag_overlap_drops_datagram);
    tcase_add_test(bad, frag_tiny_first_refused);
    tcase_add_test(bad, frag_over_65535_refused);
    tcase_add_test(bad, frag_bad_lengths_and_ends);
    tcase_add_test(bad, frag_too_many_pieces);
    suite_add_tcase(s, bad);
    TCase *bound = tcase_create("bounds");
    tcase_add_test(bound, frag_timeout_frees);
    tcase_add_test(bound, frag_flood_bounded_by_count);
    tcase_add_test(bound, frag_flood_bounded_by_memory);
    tcase_add_test(bound, frag_larger_than_budget);
    suite_add_tcase(s, bound);
    return h_run(s);
}
