/* Unit tests of the Internet checksum (stack/checksum.c): RFC 1071's worked
 * example, the word-at-a-time sum against a naive byte-pair reference over
 * many lengths and alignments, chaining, the TCP pseudo-header, and the
 * RFC 1624 incremental update. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "harness.h"

/* ---- a fixed-seed PRNG (xorshift32), so every run checks the same cases */

static uint32_t prng_state;

static void prng_seed(uint32_t seed)
{
    prng_state = seed ? seed : 1;
}

static uint32_t prng(void)
{
    uint32_t x = prng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return prng_state = x;
}

static void prng_fill(uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(prng() >> 24);
}

/* ---- the reference: RFC 1071 read literally, one big-endian byte pair at a
 * time, the odd trailing byte padded with a zero on the right. */

static uint16_t ref_fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static uint64_t ref_sum(const uint8_t *p, size_t len)
{
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        sum += (uint64_t)(p[i] << 8 | p[i + 1]);
    if (i < len)
        sum += (uint64_t)(p[i] << 8);
    return sum;
}

static uint16_t ref_csum(const uint8_t *p, size_t len)
{
    return (uint16_t)~ref_fold(ref_sum(p, len));
}

/* ---- RFC 1071 section 3 */

START_TEST(rfc1071_example)
{
    /* Section 3's numerical example: these eight bytes sum to 0xddf2 in
     * one's complement, so the checksum is its complement. */
    static const uint8_t b[8] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    ck_assert_uint_eq(ref_fold(csum_partial(b, sizeof(b), 0)), 0xddf2);
    ck_assert_uint_eq(csum(b, sizeof(b)), 0x220d);
    ck_assert_uint_eq(csum_finish(csum_partial(b, sizeof(b), 0)), 0x220d);
    ck_assert_uint_eq(ref_csum(b, sizeof(b)), 0x220d); /* the reference agrees */

    /* The same bytes at an odd address give the same sum. */
    uint8_t shifted[9];
    memcpy(shifted + 1, b, sizeof(b));
    ck_assert_uint_eq(csum(shifted + 1, sizeof(b)), 0x220d);

    /* A buffer carrying its own checksum sums to zero (the receiver check). */
    uint8_t with[10];
    memcpy(with, b, 8);
    with[8] = 0x22;
    with[9] = 0x0d;
    ck_assert_uint_eq(csum(with, sizeof(with)), 0);
}
END_TEST

START_TEST(known_small_values)
{
    static const uint8_t zero[4];
    static const uint8_t one_odd[1] = {0xab};
    static const uint8_t three[3] = {0x12, 0x34, 0x56};
    /* The empty sum is +0, whose complement is 0xffff. */
    ck_assert_uint_eq(csum(zero, 0), 0xffff);
    ck_assert_uint_eq(csum(zero, sizeof(zero)), 0xffff);
    /* An odd last byte is the high byte of a zero-padded word. */
    ck_assert_uint_eq(csum(one_odd, 1), (uint16_t)~0xab00);
    ck_assert_uint_eq(csum(three, 3), (uint16_t) ~(0x1234 + 0x5600));
}
END_TEST

/* ---- against the reference */

#define BIG     2000
#define MAX_OFF 8

START_TEST(random_lengths_and_offsets)
{
    static uint8_t buf[BIG + MAX_OFF];
    prng_seed(0x5eed1071);
    prng_fill(buf, sizeof(buf));
    for (size_t off = 0; off < MAX_OFF; off++)
        for (size_t len = 0; len <= BIG; len++) {
            uint16_t want = ref_csum(buf + off, len);
            uint16_t got = csum(buf + off, len);
            ck_assert_msg(got == want, "len %zu off %zu: got 0x%04x want 0x%04x", len, off, got,
                          want);
        }
}
END_TEST

START_TEST(all_ones_carries)
{
    /* 0xff bytes make every addition carry: the folds must absorb them all.
     * 65535 is the largest IPv4 datagram. */
    static uint8_t buf[65535 + MAX_OFF];
    memset(buf, 0xff, sizeof(buf));
    static const size_t lens[] = {1, 2, 3, 7, 8, 9, 1500, 1501, 9000, 65534, 65535};
    for (size_t off = 0; off < MAX_OFF; off++)
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            size_t len = lens[i];
            ck_assert_msg(csum(buf + off, len) == ref_csum(buf + off, len),
                          "len %zu off %zu: got 0x%04x want 0x%04x", len, off, csum(buf + off, len),
                          ref_csum(buf + off, len));
        }
    /* An even run of 0xff sums to 0xffff: the checksum is 0. */
    ck_assert_uint_eq(csum(buf, 65534), 0x0000);
}
END_TEST

START_TEST(random_big_buffers)
{
    /* A few jumbo-sized random buffers, where the 64-bit accumulator works
     * hardest. */
    static uint8_t buf[65535 + MAX_OFF];
    prng_seed(77);
    for (int round = 0; round < 8; round++) {
        prng_fill(buf, sizeof(buf));
        size_t off = prng() % MAX_OFF;
        size_t len = 60000 + prng() % 5536;
        ck_assert_uint_eq(csum(buf + off, len), ref_csum(buf + off, len));
    }
}
END_TEST

/* ---- chaining */

START_TEST(partial_chained_over_pieces)
{
    static uint8_t buf[BIG + MAX_OFF];
    prng_seed(0xc0ffee);
    for (int round = 0; round < 2000; round++) {
        size_t off = prng() % MAX_OFF;
        size_t len = prng() % (BIG + 1);
        prng_fill(buf + off, len);
        /* Every piece but the last has an even length (the API's rule). */
        uint32_t sum = 0;
        size_t done = 0;
        int pieces = 0;
        while (done < len) {
            size_t left = len - done;
            size_t n = prng() % 65;
            n &= ~(size_t)1;
            if (n >= left || prng() % 8 == 0)
                n = left; /* the last piece, of any parity */
            sum = csum_partial(buf + off + done, n, sum);
            done += n;
            pieces++;
        }
        uint16_t whole = csum(buf + off, len);
        ck_assert_msg(csum_finish(sum) == whole, "round %d: %d pieces of %zu bytes", round, pieces,
                      len);
        ck_assert_uint_eq(whole, ref_csum(buf + off, len));
    }
}
END_TEST

START_TEST(partial_chained_with_empty_pieces)
{
    uint8_t buf[64];
    prng_seed(9);
    prng_fill(buf, sizeof(buf));
    uint32_t sum = csum_partial(buf, 0, 0);
    sum = csum_partial(buf, 20, sum);
    sum = csum_partial(buf + 20, 0, sum);
    sum = csum_partial(buf + 20, 44, sum);
    ck_assert_uint_eq(csum_finish(sum), ref_csum(buf, sizeof(buf)));
}
END_TEST

/* ---- the TCP pseudo-header */

static uint16_t ref_tcp_csum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg,
                             size_t len)
{
    /* RFC 9293 section 3.1: source, destination, zero, PTCL, TCP length,
     * laid out as bytes in front of the segment. */
    static uint8_t tmp[12 + BIG];
    tmp[0] = (uint8_t)(src >> 24);
    tmp[1] = (uint8_t)(src >> 16);
    tmp[2] = (uint8_t)(src >> 8);
    tmp[3] = (uint8_t)src;
    tmp[4] = (uint8_t)(dst >> 24);
    tmp[5] = (uint8_t)(dst >> 16);
    tmp[6] = (uint8_t)(dst >> 8);
    tmp[7] = (uint8_t)dst;
    tmp[8] = 0;
    tmp[9] = proto;
    tmp[10] = (uint8_t)(len >> 8);
    tmp[11] = (uint8_t)len;
    memcpy(tmp + 12, seg, len);
    return ref_csum(tmp, 12 + len);
}

START_TEST(pseudo_header_tcp_segment)
{
    static uint8_t seg[BIG + 1];
    prng_seed(6);
    for (int round = 0; round < 3000; round++) {
        uint32_t src = prng(), dst = prng();
        if (round == 0)
            src = dst = 0xffffffffu; /* the largest pseudo-header */
        if (round == 1)
            src = dst = 0;
        size_t len = 20 + prng() % (BIG - 20 + 1);
        size_t off = prng() & 1; /* odd addresses too */
        uint8_t *p = seg + off;
        prng_fill(p, len);
        p[16] = p[17] = 0; /* the checksum field */
        uint32_t sum = csum_pseudo(src, dst, 6, (uint16_t)len);
        uint16_t got = csum_finish(csum_partial(p, len, sum));
        uint16_t want = ref_tcp_csum(src, dst, 6, p, len);
        ck_assert_msg(got == want, "round %d len %zu: got 0x%04x want 0x%04x", round, len, got,
                      want);
        /* With the checksum written in, the receiver's sum verifies. */
        p[16] = (uint8_t)(got >> 8);
        p[17] = (uint8_t)got;
        ck_assert_uint_eq(csum_finish(csum_partial(p, len, sum)), 0);
    }
}
END_TEST

START_TEST(pseudo_header_known_segment)
{
    /* A bare SYN from 10.0.0.1:60118 to 10.0.0.2:5050, seq 0xbaf6d029, window
     * 65535.  Worked by hand: pseudo-header words 0a00 0001 0a00 0002 0006
     * 0014, header words ead6 13ba baf6 d029 5002 ffff; they sum to 0x3edcd,
     * which folds to 0xedd0, so the checksum is 0x122f. */
    uint8_t seg[20] = {0xea, 0xd6, 0x13, 0xba, 0xba, 0xf6, 0xd0, 0x29, 0, 0,
                       0,    0,    0x50, 0x02, 0xff, 0xff, 0,    0,    0, 0};
    uint16_t want = 0x122f;
    uint32_t sum = csum_pseudo(0x0a000001u, 0x0a000002u, 6, 20);
    ck_assert_uint_eq(csum_finish(csum_partial(seg, sizeof(seg), sum)), want);
}
END_TEST

/* ---- RFC 1624 incremental update */

/* Checks csum_update16 on data whose word `j` changes from its current value
 * to m_new, against a full recomputation.  The checksum field is not part of
 * `w` (it is computed over w alone). */
static void check_update(const uint16_t *w, size_t n, size_t j, uint16_t m_new)
{
    uint16_t before[64], after[64];
    ck_assert_uint_le(n, 64);
    bool all_zero = true;
    for (size_t i = 0; i < n; i++) {
        before[i] = w[i];
        after[i] = i == j ? m_new : w[i];
        all_zero = all_zero && after[i] == 0;
    }
    uint64_t sb = 0, sa = 0;
    for (size_t i = 0; i < n; i++) {
        sb += before[i];
        sa += after[i];
    }
    uint16_t hc = (uint16_t)~ref_fold(sb);
    uint16_t full = (uint16_t)~ref_fold(sa);
    uint16_t inc = csum_update16(hc, w[j], m_new);
    if (all_zero) {
        /* Only when every word is zero do the two forms of zero differ:
         * recomputation gives ~(+0) = 0xffff, eqn. 3 gives ~(-0) = 0x0000
         * (RFC 1624 section 3).  Both verify. */
        ck_assert_msg(inc == 0x0000 || inc == 0xffff, "all-zero data: got 0x%04x", inc);
        return;
    }
    ck_assert_msg(inc == full, "HC 0x%04x m 0x%04x -> 0x%04x (n %zu): got 0x%04x want 0x%04x", hc,
                  w[j], m_new, n, inc, full);
    /* And the updated checksum verifies over the new data. */
    ck_assert_uint_eq(ref_fold(sa + inc), 0xffff);
}

START_TEST(update16_rfc1624_example)
{
    /* RFC 1624 section 4: HC 0xdd2f, a field 0x5555 becomes 0x3285; the new
     * sum is 0xffff so the checksum must be 0x0000 (RFC 1141's eqn. gave the
     * wrong 0xffff). */
    ck_assert_uint_eq(csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
    /* The same as data: the rest of the words sum to 0xcd7a. */
    uint16_t w[2] = {0xcd7a, 0x5555};
    ck_assert_uint_eq((uint16_t)~ref_fold(0xcd7a + 0x5555), 0xdd2f);
    check_update(w, 2, 1, 0x3285);
}
END_TEST

START_TEST(update16_corner_values)
{
    /* Every combination of edge values for the rest of the data, the old
     * field and the new one, plus a "rest" chosen so the new sum is exactly
     * 0xffff or 0xfffe or 0x0001 (checksums 0x0000, 0x0001, 0xfffe). */
    static const uint16_t edge[] = {0x0000, 0x0001, 0x0002, 0x7fff, 0x8000,
                                    0x8001, 0xfffd, 0xfffe, 0xffff};
    size_t ne = sizeof(edge) / sizeof(edge[0]);
    int checked = 0;
    for (size_t a = 0; a < ne; a++)
        for (size_t b = 0; b < ne; b++) {
            uint16_t m = edge[a], m_new = edge[b];
            for (size_t c = 0; c < ne + 3; c++) {
                uint16_t rest;
                if (c < ne)
                    rest = edge[c];
                else if (c == ne)
                    rest = (uint16_t)~m_new; /* new sum 0xffff: HC' = 0x0000 */
                else if (c == ne + 1)
                    rest = (uint16_t)(0xfffe - m_new); /* new sum 0xfffe (if no wrap) */
                else
                    rest = (uint16_t)(0x0001 - m_new);
                uint16_t w[3] = {rest, m, 0x0000};
                check_update(w, 2, 1, m_new); /* two words */
                check_update(w, 3, 1, m_new); /* a trailing zero word */
                checked += 2;
            }
        }
    ck_assert_int_eq(checked, 9 * 9 * 12 * 2);
    /* A zero-checksum result on a real-looking header word. */
    uint16_t w[2] = {0x1234, 0x0000};
    check_update(w, 2, 1, (uint16_t)~0x1234);
    ck_assert_uint_eq(csum_update16((uint16_t)~ref_fold(0x1234), 0x0000, (uint16_t)~0x1234),
                      0x0000);
}
END_TEST

START_TEST(update16_random)
{
    prng_seed(1624);
    uint16_t w[64];
    for (int round = 0; round < 200000; round++) {
        size_t n = 1 + prng() % 64;
        for (size_t i = 0; i < n; i++) {
            /* Mix in edge words often: they make the carries interesting. */
            uint32_t r = prng();
            w[i] = (r & 3) == 0 ? 0xffff : (r & 3) == 1 ? 0x0000 : (uint16_t)(r >> 16);
        }
        size_t j = prng() % n;
        uint32_t r = prng();
        uint16_t m_new = (r & 7) == 0 ? 0xffff : (r & 7) == 1 ? 0x0000 : (uint16_t)(r >> 16);
        check_update(w, n, j, m_new);
    }
}
END_TEST

START_TEST(update16_ttl_decrement)
{
    /* The classic use: a router's TTL decrement on a real IPv4 header. */
    uint8_t ip[20] = {0x45, 0x00, 0x00, 0x54, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x01,
                      0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    uint16_t hc = csum(ip, sizeof(ip));
    for (int ttl = 64; ttl > 0; ttl--) {
        uint16_t old_word = (uint16_t)(ip[8] << 8 | ip[9]);
        ip[8] = (uint8_t)(ttl - 1);
        uint16_t new_word = (uint16_t)(ip[8] << 8 | ip[9]);
        hc = csum_update16(hc, old_word, new_word);
        ck_assert_uint_eq(hc, csum(ip, sizeof(ip))); /* field 10..11 is still 0 */
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checksum");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rfc1071_example);
    tcase_add_test(tc, known_small_values);
    tcase_add_test(tc, random_lengths_and_offsets);
    tcase_add_test(tc, all_ones_carries);
    tcase_add_test(tc, random_big_buffers);
    tcase_add_test(tc, partial_chained_over_pieces);
    tcase_add_test(tc, partial_chained_with_empty_pieces);
    tcase_add_test(tc, pseudo_header_tcp_segment);
    tcase_add_test(tc, pseudo_header_known_segment);
    tcase_add_test(tc, update16_rfc1624_example);
    tcase_add_test(tc, update16_corner_values);
    tcase_add_test(tc, update16_random);
    tcase_add_test(tc, update16_ttl_decrement);
    suite_add_tcase(s, tc);
    return h_run(s);
}
